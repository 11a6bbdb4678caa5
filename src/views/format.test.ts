import type { Run } from '@opsbook/schema';
import { formatDuration, formatMetric, groupRunsByExperiment, relativeTime, runDuration } from './format';

const NOW = Date.parse('2025-06-01T12:00:00Z');

function run(overrides: Partial<Run>): Run {
  return {
    id: '00000000-0000-4000-8000-000000000000',
    experiment_id: 'e1',
    experiment: 'quickstart',
    name: 'r',
    status: 'finished',
    start_time: '2025-06-01T11:00:00Z',
    end_time: null,
    duration_ms: null,
    source_type: 'cell',
    ...overrides,
  };
}

describe('relativeTime', () => {
  it.each([
    ['2025-06-01T11:59:58Z', 'just now'],
    ['2025-06-01T11:59:18Z', '42 s ago'],
    ['2025-06-01T11:55:00Z', '5 min ago'],
    ['2025-06-01T09:00:00Z', '3 h ago'],
    ['2025-05-30T12:00:00Z', '2 d ago'],
  ])('%s is %s', (iso, expected) => {
    expect(relativeTime(iso, NOW)).toBe(expected);
  });

  it('treats clock skew (a start in the future) as just now', () => {
    expect(relativeTime('2025-06-01T12:00:03Z', NOW)).toBe('just now');
  });

  it('returns unparseable input unchanged rather than "NaN"', () => {
    expect(relativeTime('yesterday', NOW)).toBe('yesterday');
  });
});

describe('formatDuration', () => {
  it.each([
    [420, '420 ms'],
    [12_345, '12.3 s'],
    [245_000, '4 min 05 s'],
    [7_380_000, '2 h 03 min'],
    [null, '—'],
    [-1, '—'],
  ])('%p ms is %s', (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });
});

describe('runDuration', () => {
  it('uses the recorded duration of an ended run', () => {
    expect(runDuration(run({ duration_ms: 1500 }), NOW)).toBe(1500);
  });
  it('counts a running run from its start', () => {
    expect(runDuration(run({ status: 'running', start_time: '2025-06-01T11:59:00Z' }), NOW)).toBe(60_000);
  });
  it('has no duration for an ended run that recorded none', () => {
    expect(runDuration(run({ status: 'killed' }), NOW)).toBeNull();
  });
});

describe('formatMetric', () => {
  it.each([
    [0.956140350877193, '0.9561'],
    [42, '42'],
    [0, '0'],
    [1.23e-7, '1.230e-7'],
    [null, '—'],
    [Number.NaN, '—'],
  ])('%p shows as %s', (value, expected) => {
    expect(formatMetric(value)).toBe(expected);
  });
});

describe('groupRunsByExperiment', () => {
  it('orders groups by their newest run and runs newest first', () => {
    const groups = groupRunsByExperiment([
      run({ id: 'a', experiment: 'old', start_time: '2025-06-01T08:00:00Z' }),
      run({ id: 'b', experiment: 'new', start_time: '2025-06-01T10:00:00Z' }),
      run({ id: 'c', experiment: 'old', start_time: '2025-06-01T09:00:00Z' }),
      run({ id: 'd', experiment: 'new', start_time: '2025-06-01T11:00:00Z' }),
    ]);
    expect(groups.map((g) => [g.experiment, g.runs.map((r) => r.id)])).toEqual([
      ['new', ['d', 'b']],
      ['old', ['c', 'a']],
    ]);
  });
});
