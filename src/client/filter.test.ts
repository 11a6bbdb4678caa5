import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FilterSyntaxError, matchesFilter, parseFilter, parseSortField, quoteFilterValue, type FilterableRun } from './filter';

const run = (over: Partial<FilterableRun> = {}): FilterableRun => ({
  id: 'a1b2c3d4-0000-4000-8000-000000000001',
  name: 'ResNet baseline',
  experiment: 'vision',
  status: 'finished',
  start_time: '2024-05-01T10:00:00.000Z',
  end_time: '2024-05-01T10:02:00.000Z',
  duration_ms: 120_000,
  notes: 'tried a **bigger** batch',
  starred: true,
  deleted: false,
  params: { lr: '0.01', model: 'rf', layers: '12', optimizer: 'adam' },
  tags: { team: 'ml-platform' },
  metrics_latest: { acc: 0.91, loss: 0.2, nan_metric: null },
  ...over,
});

const matches = (text: string, over: Partial<FilterableRun> = {}): boolean => matchesFilter(parseFilter(text), run(over));

describe('parseFilter', () => {
  it('gives no filter for blank text', () => {
    expect(parseFilter('')).toBeNull();
    expect(parseFilter('   \t')).toBeNull();
  });

  it('parses comparisons with and/or/not and parentheses, and binds and tighter than or', () => {
    expect(parseFilter('status = finished or name ~ res and starred = true')).toMatchObject({
      type: 'or',
      left: { type: 'compare', field: { kind: 'run', name: 'status' }, operator: '=' },
      right: { type: 'and' },
    });
    expect(parseFilter('not (a or b)')).toMatchObject({ type: 'not', operand: { type: 'or' } });
    expect(parseFilter('params.optimizer.lr >= 1e-3')).toMatchObject({
      type: 'compare',
      field: { kind: 'params', key: 'optimizer.lr' },
      value: { number: 0.001, quoted: false },
    });
    expect(parseFilter('params."batch size" = 32')).toMatchObject({ field: { kind: 'params', key: 'batch size' } });
    expect(parseFilter('tags.team in (a, "b c")')).toMatchObject({ type: 'in', values: [{ text: 'a' }, { text: 'b c' }] });
    expect(parseFilter('status not in (running)')).toMatchObject({ type: 'not', operand: { type: 'in' } });
    expect(parseFilter('EXISTS params.lr AND NOT exists metrics.acc')).toMatchObject({ type: 'and', left: { type: 'exists' } });
  });

  it('joins side-by-side terms with and; free text is a term', () => {
    expect(parseFilter('resnet status = finished')).toMatchObject({ type: 'and', left: { type: 'text', text: 'resnet' } });
    expect(parseFilter('"and"')).toMatchObject({ type: 'text', text: 'and' });
  });

  it('reads escapes in quoted strings', () => {
    expect(parseFilter(String.raw`name = "say \"hi\" \\ \u00e9\n"`)).toMatchObject({ value: { text: 'say "hi" \\ é\n', quoted: true } });
    expect(parseFilter(`name = 'it\\'s'`)).toMatchObject({ value: { text: "it's" } });
  });

  it('turns times and durations into milliseconds', () => {
    expect(parseFilter('start_time >= 2024-05-01')).toMatchObject({ value: { number: Date.parse('2024-05-01') } });
    expect(parseFilter('duration > 1.5m')).toMatchObject({ value: { number: 90_000 } });
    expect(parseFilter('duration < 90')).toMatchObject({ value: { number: 90_000 } });
    expect(parseFilter('duration < 250ms')).toMatchObject({ value: { number: 250 } });
  });

  // Each bad input, the position the error must name (1-based), and words of its message.
  const corpus: [string, number, string][] = [
    ['metrics.acc >', 14, 'expected a value'],
    ['metrics.acc > high', 15, 'number'],
    ['metrics.acc ~ 0.5', 15, 'takes = != <'],
    ['(status = finished', 19, 'expected ")"'],
    ['status = finished)', 18, 'unexpected'],
    ['()', 2, 'empty parentheses'],
    ['name = "open', 8, 'unterminated string'],
    [String.raw`name = "a\qb"`, 10, 'unknown escape'],
    [String.raw`name = "\u12"`, 9, 'four hex digits'],
    ['nmae = x', 1, 'unknown field "nmae"'],
    ['params.lr', 10, 'needs an operator'],
    ['params. = 1', 1, 'unknown field'],
    ['status = finshed', 10, 'is one of running, finished'],
    ['starred = yes', 11, 'true or false'],
    ['starred > true', 11, 'takes = or !='],
    ['deleted = "true"', 11, 'true or false'],
    ['start_time > yesterday', 14, 'date'],
    ['duration > -5s', 12, 'duration'],
    ['duration > 5y', 12, 'duration'],
    ['exists name', 8, 'exists takes'],
    ['exists', 7, 'exists takes'],
    ['a and', 6, 'expected a condition'],
    ['or a', 1, 'quote it'],
    ['a ! b', 3, '"!" must be followed by "="'],
    ['tags.team in a, b', 14, 'expected "("'],
    ['tags.team in (a b)', 17, 'expected "," or ")"'],
    ['tags.team in ()', 15, 'expected a value'],
    ['name = )', 8, 'expected a value'],
    [String.raw`foo\bar`, 4, 'backslash'],
    ['name = = b', 8, 'expected a value'],
    ['not', 4, 'expected a condition'],
    ['and', 1, 'quote it'],
    ['params."" = 1', 8, 'needs a key'],
    [',', 1, 'expected a condition'],
  ];

  it.each(corpus)('refuses %j at position %i', (text, position, words) => {
    let error: unknown;
    try {
      parseFilter(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(FilterSyntaxError);
    expect((error as FilterSyntaxError).position).toBe(position);
    expect((error as FilterSyntaxError).message).toContain(words);
    expect((error as FilterSyntaxError).message).toContain(`(at position ${position})`);
  });
});

describe('matchesFilter', () => {
  it.each([
    ['status = finished', true],
    ['status != finished', false],
    ['status in (running, failed)', false],
    ['name ~ resnet', true],
    ['name ~ RESNET', true],
    ['name = "ResNet baseline"', true],
    ['name < S', true],
    ['experiment = vision', true],
    ['id = a1b2c3d4-0000-4000-8000-000000000001', true],
    ['notes ~ bigger', true],
    ['starred = true and deleted = false', true],
    ['params.lr = 0.010', true],
    ['params.lr = "0.010"', false],
    ['params.lr > 0.001 and params.lr < 0.1', true],
    ['params.layers > 9', true],
    ['params.layers > "9"', false],
    ['params.model = rf and metrics.acc > 0.5', true],
    ['params.model > 5', true],
    ['params.missing != 1', false],
    ['not params.missing = 1', true],
    ['exists params.lr', true],
    ['exists params.missing', false],
    ['exists metrics.nan_metric', true],
    ['metrics.nan_metric >= 0 or metrics.nan_metric < 0', false],
    ['metrics.acc >= 0.91', true],
    ['tags.team ~ platform', true],
    ['start_time >= 2024-05-01 and start_time < 2024-05-02', true],
    ['end_time > 2024-05-01T10:01:00Z', true],
    ['duration = 2m', true],
    ['duration > 2m', false],
    ['exists end_time', true],
    ['resnet', true],
    ['platform', true],
    ['a1b2', true],
    ['b2c3', false],
    ['VISION', true],
    ['bigger status = running', false],
    ['(bigger or nothing) and not starred = false', true],
  ])('%s → %s', (text, expected) => {
    expect(matches(text)).toBe(expected);
  });

  it('treats a running run as having no end and no duration', () => {
    expect(matches('exists duration', { end_time: null, duration_ms: null })).toBe(false);
    expect(matches('duration < 1h', { end_time: null, duration_ms: null })).toBe(false);
    expect(matches('not duration >= 1h', { end_time: null, duration_ms: null })).toBe(true);
  });

  it('never reads a param named after an Object member as present', () => {
    expect(matches('exists params.constructor')).toBe(false);
    expect(matches('params.toString ~ function')).toBe(false);
  });
});

describe('parseSortField and quoteFilterValue', () => {
  it('accepts the sortable fields and refuses others', () => {
    expect(parseSortField('metrics.val.acc')).toEqual({ kind: 'metrics', key: 'val.acc' });
    expect(parseSortField('duration')).toEqual({ kind: 'run', name: 'duration' });
    expect(() => parseSortField('notes')).toThrow(FilterSyntaxError);
    expect(() => parseSortField('params.')).toThrow('cannot sort by "params."');
  });

  it('quotes what would not read back as one word', () => {
    for (const value of ['rf', 'a b', 'x"y', 'and', '', 'back\\slash', '(', "it's"]) {
      expect(parseFilter(`name = ${quoteFilterValue(value)}`)).toMatchObject({ value: { text: value } });
    }
  });
});

describe('docs/filter.md', () => {
  it('has examples that all parse', () => {
    const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'filter.md'), 'utf8');
    const examples = [...doc.matchAll(/^ {4}(\S.*)$/gm)].map((match) => match[1]);
    expect(examples.length).toBeGreaterThan(10);
    for (const example of examples) expect(() => parseFilter(example)).not.toThrow();
  });
});
