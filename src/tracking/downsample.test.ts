import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaValidator, type MetricPoint } from '@opsbook/schema';
import fc from 'fast-check';
import { NotFoundError } from '../store/errors';
import { Store } from '../store/store';
import { RunStore } from './run-store';

const validator = new SchemaValidator();

/** Points as the store orders them for x = step: by step, then time, then arrival. */
function inStepOrder(points: readonly MetricPoint[]): MetricPoint[] {
  return points
    .map((point, arrival) => ({ point, arrival }))
    .sort((a, b) => a.point.step - b.point.step || a.point.timestamp - b.point.timestamp || a.arrival - b.arrival)
    .map(({ point }) => point);
}

const finite = (values: readonly (number | null)[]): number[] => values.filter((v): v is number => v !== null);

describe('downsampled metric series', () => {
  let workspace: string;
  let store: Store;
  let runs: RunStore;

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-downsample-'));
    store = await Store.open(workspace);
    runs = new RunStore(store);
  });
  afterAll(async () => {
    await store.close();
    rmSync(workspace, { recursive: true, force: true });
  });

  const point = fc.record({
    step: fc.integer({ min: -5, max: 400 }),
    value: fc.oneof({ weight: 9, arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true }) }, { weight: 1, arbitrary: fc.constant(null) }),
    timestamp: fc.integer({ min: 1_700_000_000_000, max: 1_700_000_100_000 }),
  });

  it('keeps each series within max_points, in order, with its first and last point and its global min and max', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(point, { minLength: 1, maxLength: 300 }), fc.integer({ min: 4, max: 60 }), async (drawn, maxPoints) => {
        const run = await runs.createRun({ id: randomUUID() });
        const points: MetricPoint[] = drawn.map((p) => ({ key: 'loss', ...p }));
        await runs.logMetrics(run.id, points);
        const history = await runs.metricHistory(run.id, { maxPoints });
        expect(validator.check('metric-history.schema.json', history)).toBeNull();
        const [series] = history.series;
        const ordered = inStepOrder(points);
        expect(series.count).toBe(points.length);
        expect(series.steps.length).toBe(series.values.length);
        expect(series.steps.length).toBeLessThanOrEqual(maxPoints);
        if (points.length <= maxPoints) {
          expect(series.steps).toEqual(ordered.map((p) => p.step));
          expect(series.values).toEqual(ordered.map((p) => p.value));
          return;
        }
        expect(series.steps).toEqual([...series.steps].sort((a, b) => a - b));
        expect([series.steps[0], series.values[0]]).toEqual([ordered[0].step, ordered[0].value]);
        const last = ordered[ordered.length - 1];
        expect([series.steps[series.steps.length - 1], series.values[series.values.length - 1]]).toEqual([last.step, last.value]);
        const all = finite(points.map((p) => p.value));
        const kept = finite(series.values);
        if (all.length > 0) {
          expect(Math.min(...kept)).toBe(Math.min(...all));
          expect(Math.max(...kept)).toBe(Math.max(...all));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('orders and buckets by time with x=time, and carries the timestamps', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(point, { minLength: 1, maxLength: 200 }), fc.integer({ min: 4, max: 40 }), async (drawn, maxPoints) => {
        const run = await runs.createRun({ id: randomUUID() });
        await runs.logMetrics(run.id, drawn.map((p) => ({ key: 'acc', ...p })));
        const [series] = (await runs.metricHistory(run.id, { maxPoints, x: 'time', key: 'acc' })).series;
        const times = series.timestamps!;
        expect(times.length).toBe(series.steps.length);
        expect(times.length).toBeLessThanOrEqual(maxPoints);
        expect(times).toEqual([...times].sort((a, b) => a - b));
        expect(times[0]).toBe(Math.min(...drawn.map((p) => p.timestamp)));
        expect(times[times.length - 1]).toBe(Math.max(...drawn.map((p) => p.timestamp)));
        const all = finite(drawn.map((p) => p.value));
        if (all.length > 0) expect(Math.max(...finite(series.values))).toBe(Math.max(...all));
      }),
      { numRuns: 30 },
    );
  });

  it('keeps a bucket of nulls as a gap, and answers a series of one x value', async () => {
    const run = await runs.createRun({ id: randomUUID() });
    const points: MetricPoint[] = Array.from({ length: 100 }, (_, i) => ({ key: 'gap', value: i >= 40 && i < 60 ? null : i, step: i, timestamp: 1 }));
    points.push(...Array.from({ length: 50 }, (_, i) => ({ key: 'flat', value: i, step: 7, timestamp: 1 })));
    await runs.logMetrics(run.id, points);
    const { series } = await runs.metricHistory(run.id, { maxPoints: 22 });
    const gap = series.find((s) => s.key === 'gap')!;
    expect(gap.values).toContain(null);
    const flat = series.find((s) => s.key === 'flat')!;
    expect(flat.steps.length).toBeLessThanOrEqual(22);
    expect([flat.values[0], flat.values[flat.values.length - 1], Math.max(...finite(flat.values))]).toEqual([0, 49, 49]);
  });

  it('overlays one key of several runs in the order asked, empty for a run without it', async () => {
    const a = await runs.createRun({ id: randomUUID() });
    const b = await runs.createRun({ id: randomUUID() });
    await runs.logMetrics(a.id, Array.from({ length: 5000 }, (_, i) => ({ key: 'loss', value: Math.sin(i), step: i, timestamp: i })));
    await runs.logMetrics(b.id, [{ key: 'other', value: 1, step: 0, timestamp: 0 }]);
    const overlay = await runs.metricSeries([b.id, a.id, b.id], 'loss', { maxPoints: 100 });
    expect(validator.check('metric-series.schema.json', overlay)).toBeNull();
    expect(overlay.series.map((s) => [s.run_id, s.count])).toEqual([
      [b.id, 0],
      [a.id, 5000],
    ]);
    expect(overlay.series[1].steps.length).toBeLessThanOrEqual(100);
    expect(Math.max(...finite(overlay.series[1].values))).toBe(Math.max(...Array.from({ length: 5000 }, (_, i) => Math.sin(i))));
    const missing = randomUUID();
    await expect(runs.metricSeries([a.id, missing], 'loss')).rejects.toEqual(expect.objectContaining({ field: 'runs', value: missing }));
    await expect(runs.metricSeries([missing], 'loss')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses a maximum below two points, naming max_points', async () => {
    const run = await runs.createRun({ id: randomUUID() });
    await expect(runs.metricHistory(run.id, { maxPoints: 1 })).rejects.toEqual(expect.objectContaining({ field: 'max_points', value: 1 }));
  });
});
