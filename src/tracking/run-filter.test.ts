import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaValidator, type Run } from '@opsbook/schema';
import fc from 'fast-check';
import { matchesFilter, parseFilter, quoteFilterValue } from '../client/filter';
import { BadInputError } from '../store/errors';
import { Store } from '../store/store';
import { RunStore } from './run-store';

const validator = new SchemaValidator();

// Small domains, so that random filters hit and miss the same values often.
const PARAM_KEYS = ['lr', 'model', 'x.y'];
const TAG_KEYS = ['team', 'kind'];
const METRIC_KEYS = ['acc', 'loss'];
const TEXTS = ['rf', 'RF', 'adam', 'a b', '', 'é', 'ml-platform', 'Zeta', '0.01', '.5', '1.', '12', '-3', '1e-3', '9', '+2', 'x1'];
const NUMBERS = [-3, 0, 0.01, 0.5, 1, 2, 9, 12, 1e-3, 100];
const WORDS = ['rf', 'adam', 'a', 'res', 'ml', 'é', 'zeta', 'vision', 'a1', 'b'];
const STATUSES = ['running', 'finished', 'failed', 'killed'] as const;
const DAY = Date.parse('2024-05-01T00:00:00Z');

interface SeedRun {
  name: string;
  experiment: string;
  status: (typeof STATUSES)[number];
  startOffset: number;
  durationMs: number;
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, number | null>;
  starred: boolean;
  deleted: boolean;
  notes: string;
}

const subset = <T>(keys: string[], values: fc.Arbitrary<T>): fc.Arbitrary<Record<string, T>> =>
  fc.dictionary(fc.constantFrom(...keys), values, { maxKeys: keys.length });

const seedRun: fc.Arbitrary<SeedRun> = fc.record({
  name: fc.constantFrom('ResNet base', 'rf small', 'Zeta', 'é run', 'adam-2'),
  experiment: fc.constantFrom('vision', 'tabular'),
  status: fc.constantFrom(...STATUSES),
  startOffset: fc.integer({ min: 0, max: 3 * 3_600_000 }),
  durationMs: fc.integer({ min: 0, max: 600_000 }),
  params: subset(PARAM_KEYS, fc.constantFrom(...TEXTS)),
  tags: subset(TAG_KEYS, fc.constantFrom(...TEXTS)),
  metrics: subset(METRIC_KEYS, fc.option(fc.constantFrom(...NUMBERS), { nil: null })),
  starred: fc.boolean(),
  deleted: fc.boolean(),
  notes: fc.constantFrom('', 'tried adam', 'RF baseline', 'zeta notes'),
});

const value = fc.oneof(
  fc.constantFrom(...NUMBERS).map(String),
  fc.constantFrom(...TEXTS).map(quoteFilterValue),
  fc.constantFrom(...TEXTS).map((text) => JSON.stringify(text)),
);
const anyOp = fc.constantFrom('=', '!=', '<', '<=', '>', '>=', '~');
const orderOp = fc.constantFrom('=', '!=', '<', '<=', '>', '>=');
const keyed = (kind: string, keys: string[]): fc.Arbitrary<string> => fc.constantFrom(...keys).map((key) => `${kind}.${key}`);

const leaf: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.oneof(keyed('params', PARAM_KEYS), keyed('tags', TAG_KEYS)), anyOp, value).map((parts) => parts.join(' ')),
  fc.tuple(keyed('metrics', METRIC_KEYS), orderOp, fc.constantFrom(...NUMBERS)).map((parts) => parts.join(' ')),
  fc.tuple(fc.constantFrom('name', 'experiment', 'notes', 'id'), anyOp, value).map((parts) => parts.join(' ')),
  fc.tuple(fc.constantFrom('=', '!='), fc.constantFrom(...STATUSES)).map(([op, status]) => `status ${op} ${status}`),
  fc.tuple(fc.constantFrom('starred', 'deleted'), fc.constantFrom('=', '!='), fc.boolean()).map((parts) => parts.join(' ')),
  fc
    .tuple(fc.constantFrom('start_time', 'end_time'), orderOp, fc.integer({ min: -1, max: 4 }))
    .map(([field, op, hours]) => `${field} ${op} ${new Date(DAY + hours * 3_600_000).toISOString()}`),
  fc.tuple(orderOp, fc.constantFrom('0', '30s', '2m', '5m', '1h', '250ms')).map(([op, span]) => `duration ${op} ${span}`),
  fc
    .tuple(fc.oneof(keyed('params', PARAM_KEYS), keyed('tags', TAG_KEYS)), fc.array(value, { minLength: 1, maxLength: 3 }), fc.boolean())
    .map(([field, values, negated]) => `${field} ${negated ? 'not in' : 'in'} (${values.join(', ')})`),
  fc.oneof(keyed('params', PARAM_KEYS), keyed('metrics', METRIC_KEYS), keyed('tags', TAG_KEYS), fc.constantFrom('end_time', 'duration')).map(
    (field) => `exists ${field}`,
  ),
  fc.constantFrom(...WORDS).map(quoteFilterValue),
);

const filterText: fc.Arbitrary<string> = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.tuple(tie('expr'), fc.constantFrom('and', 'or', 'AND', ''), tie('expr')).map(([a, op, b]) => `(${a}) ${op} (${b})`),
    tie('expr').map((a) => `not (${a})`),
  ),
})).expr;

describe('run filters: the store\'s SQL and matchesFilter agree', () => {
  let workspace: string;
  let store: Store;
  let runs: RunStore;
  let listed: Run[];

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-filter-'));
    store = await Store.open(workspace);
    runs = new RunStore(store);
    const seeds = fc.sample(fc.array(seedRun, { minLength: 40, maxLength: 40 }), { numRuns: 1, seed: 6 })[0];
    for (const seed of seeds) {
      const startMs = DAY + seed.startOffset;
      const run = await runs.createRun({
        name: seed.name,
        experiment: seed.experiment,
        start_time: new Date(startMs).toISOString(),
        params: seed.params,
        tags: seed.tags,
      });
      const points = Object.entries(seed.metrics).map(([key, last]) => ({ key, value: last, step: 1, timestamp: startMs }));
      if (points.length > 0) await runs.logMetrics(run.id, points);
      const ending = seed.status === 'running' ? {} : { status: seed.status, end_time: new Date(startMs + seed.durationMs).toISOString() };
      await runs.updateRun(run.id, { ...ending, starred: seed.starred, notes: seed.notes, deleted: seed.deleted });
    }
    listed = (await runs.listRuns({ deleted: 'include', limit: 10_000 })).runs;
  }, 120_000);
  afterAll(async () => {
    await store.close();
    rmSync(workspace, { recursive: true, force: true });
  });

  it('lists every seeded run, each valid against run.schema.json', () => {
    expect(listed).toHaveLength(40);
    for (const run of listed) expect(validator.check('run.schema.json', run)).toBeNull();
  });

  it('selects the same runs in SQL as in JS for random filters', async () => {
    await fc.assert(
      fc.asyncProperty(filterText, async (text) => {
        const ast = parseFilter(text);
        const expected = listed.filter((run) => matchesFilter(ast, run)).map((run) => run.id);
        const { runs: found, total } = await runs.listRuns({ filter: text, deleted: 'include', limit: 10_000 });
        expect(found.map((run) => run.id)).toEqual(expected);
        expect(total).toBe(expected.length);
      }),
      { numRuns: 300, seed: 6 },
    );
  }, 300_000);

  it('sorts by params numbers first, then text, then runs without the key, both ways', async () => {
    for (const order of ['asc', 'desc'] as const) {
      const { runs: sorted } = await runs.listRuns({ sort: 'params.lr', order, deleted: 'include', limit: 10_000 });
      const values = sorted.map((run) => run.params?.lr);
      const numbers = values.filter((v) => v !== undefined && /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v)).map(Number);
      const rank = (v: string | undefined): number => (v === undefined ? 2 : /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v) ? 0 : 1);
      expect(values.map(rank)).toEqual([...values.map(rank)].sort());
      expect(numbers).toEqual([...numbers].sort((a, b) => (order === 'asc' ? a - b : b - a)));
    }
  });

  it('pages with offset and limit, and counts the total before the page', async () => {
    const all = (await runs.listRuns({ sort: 'name', order: 'asc', deleted: 'include', limit: 10_000 })).runs.map((run) => run.id);
    const page = await runs.listRuns({ sort: 'name', order: 'asc', deleted: 'include', limit: 7, offset: 10 });
    expect(page.runs.map((run) => run.id)).toEqual(all.slice(10, 17));
    expect(page.total).toBe(40);
    const past = await runs.listRuns({ deleted: 'include', limit: 5, offset: 100 });
    expect(past).toEqual({ runs: [], total: 40 });
  });

  it('hides soft-deleted runs unless asked for them', async () => {
    const hidden = (await runs.listRuns({ limit: 10_000 })).runs;
    const only = (await runs.listRuns({ deleted: 'only', limit: 10_000 })).runs;
    expect(hidden.every((run) => run.deleted === false)).toBe(true);
    expect(only.every((run) => run.deleted === true)).toBe(true);
    expect(hidden.length + only.length).toBe(40);
    expect(only.length).toBeGreaterThan(0);
  });

  it('refuses a bad filter or sort as bad input naming the field, the text and the position', async () => {
    const error = await runs.listRuns({ filter: 'metrics.acc > high' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BadInputError);
    expect(error).toMatchObject({ field: 'filter', value: 'metrics.acc > high' });
    expect((error as Error).message).toContain('position 15');
    await expect(runs.listRuns({ sort: 'params.' })).rejects.toMatchObject({ field: 'sort', value: 'params.' });
    await expect(runs.listRuns({ offset: -1 })).rejects.toMatchObject({ field: 'offset' });
  });

  it('keeps user text out of the SQL: quotes and keys are bound values', async () => {
    const evil = `x'); DROP TABLE runs; --`;
    const { runs: none } = await runs.listRuns({ filter: `params."${evil}" = "${evil}" or name = "${evil}"`, deleted: 'include' });
    expect(none).toEqual([]);
    expect((await runs.listRuns({ deleted: 'include', limit: 10_000 })).runs).toHaveLength(40);
  });
});
