import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaValidator, type MetricPoint } from '@opsbook/schema';
import fc from 'fast-check';
import { BadInputError, ConflictError, NotFoundError } from '../store/errors';
import { Store } from '../store/store';
import { RunStore } from './run-store';

const validator = new SchemaValidator();

describe('RunStore', () => {
  let workspace: string;
  let store: Store;
  let runs: RunStore;

  beforeEach(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-runs-'));
    store = await Store.open(workspace);
    runs = new RunStore(store);
  });
  afterEach(async () => {
    await store.close();
    rmSync(workspace, { recursive: true, force: true });
  });

  it('creates runs in the Default experiment, with client-chosen or generated ids', async () => {
    const id = randomUUID();
    const chosen = await runs.createRun({ id, name: 'baseline', source: { type: 'cell', code: 'fit()' } });
    expect(chosen).toMatchObject({ id, name: 'baseline', experiment: 'Default', status: 'running', end_time: null, duration_ms: null, source_type: 'cell' });
    const generated = await runs.createRun({ experiment: 'tuning' });
    expect(generated.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(generated.experiment).toBe('tuning');
    expect(validator.check('run.schema.json', chosen)).toBeNull();
    const { experiments } = await runs.listExperiments();
    expect(experiments.map((e) => [e.name, e.run_count])).toEqual([
      ['Default', 1],
      ['tuning', 1],
    ]);
    expect(validator.check('experiment-list.schema.json', { experiments })).toBeNull();
  });

  it('refuses a second run with the same id', async () => {
    const id = randomUUID();
    await runs.createRun({ id });
    await expect(runs.createRun({ id })).rejects.toBeInstanceOf(ConflictError);
  });

  it('ends a run with status, end time and duration', async () => {
    const run = await runs.createRun({ start_time: '2024-05-01T10:00:00.000Z' });
    const ended = await runs.updateRun(run.id, { status: 'failed', end_time: '2024-05-01T10:00:02.500Z', error: 'ValueError: boom', tags: { k: 'v' } });
    expect(ended).toMatchObject({ status: 'failed', end_time: '2024-05-01T10:00:02.500Z', duration_ms: 2500 });
    const detail = await runs.getRun(run.id);
    expect(detail.source).toEqual({ type: 'api', error: 'ValueError: boom' });
    expect(detail.tags).toEqual({ k: 'v' });
    const open = await runs.createRun({ start_time: '2024-05-01T10:00:00.000Z' });
    await expect(runs.updateRun(open.id, { end_time: '2024-04-30T00:00:00Z' })).rejects.toBeInstanceOf(BadInputError);
    await expect(runs.updateRun(randomUUID(), { status: 'finished' })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('logs params; the same value again is fine, a different one is a conflict naming the key and writes nothing', async () => {
    const run = await runs.createRun({ params: { lr: '0.1' } });
    await runs.logParams(run.id, { lr: '0.1', depth: '3' });
    const conflict = runs.logParams(run.id, { width: '8', lr: '0.2' });
    await expect(conflict).rejects.toBeInstanceOf(ConflictError);
    await expect(conflict).rejects.toThrow(/"lr"/);
    const detail = await runs.getRun(run.id);
    expect(detail.params).toEqual([
      { key: 'depth', value: '3' },
      { key: 'lr', value: '0.1' },
    ]);
    await expect(runs.logParams(randomUUID(), { a: 'b' })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('stores metric batches exactly and summarises them per key', async () => {
    const run = await runs.createRun({});
    const points: MetricPoint[] = [];
    for (let step = 0; step < 5000; step++) {
      points.push({ key: 'loss', value: 1 / (step + 1), step, timestamp: 1_700_000_000_000 + step });
      if (step % 2 === 0) points.push({ key: 'acc', value: step / 10_000, step, timestamp: 1_700_000_000_000 + step });
    }
    points.push({ key: 'grad', value: null, step: 3, timestamp: 1 });
    expect(await runs.logMetrics(run.id, points)).toBe(points.length);
    const detail = await runs.getRun(run.id);
    expect(validator.check('run-detail.schema.json', detail)).toBeNull();
    expect(detail.metrics).toEqual([
      { key: 'acc', count: 2500, last: 0.4998, min: 0, max: 0.4998, last_step: 4998 },
      { key: 'grad', count: 1, last: null, min: null, max: null, last_step: 3 },
      { key: 'loss', count: 5000, last: 1 / 5000, min: 1 / 5000, max: 1, last_step: 4999 },
    ]);
    const { runs: listed } = await runs.listRuns();
    expect(listed[0].metrics_latest).toEqual({ acc: 0.4998, grad: null, loss: 1 / 5000 });
    await expect(runs.logMetrics(randomUUID(), points.slice(0, 1))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('takes the point at the highest step as the last value, whatever the arrival order', async () => {
    const run = await runs.createRun({});
    await runs.logMetrics(run.id, [
      { key: 'x', value: 9, step: 9, timestamp: 1 },
      { key: 'x', value: 1, step: 1, timestamp: 2 },
    ]);
    const detail = await runs.getRun(run.id);
    expect(detail.metrics[0]).toMatchObject({ last: 9, last_step: 9 });
  });

  it('lists runs newest first, filtered by experiment, status and limit', async () => {
    const a = await runs.createRun({ experiment: 'e1', start_time: '2024-01-01T00:00:00Z' });
    const b = await runs.createRun({ experiment: 'e2', start_time: '2024-01-02T00:00:00Z' });
    const c = await runs.createRun({ experiment: 'e1', start_time: '2024-01-03T00:00:00Z' });
    await runs.updateRun(b.id, { status: 'finished' });
    expect((await runs.listRuns()).runs.map((r) => r.id)).toEqual([c.id, b.id, a.id]);
    expect((await runs.listRuns({ experiment: 'e1' })).runs.map((r) => r.id)).toEqual([c.id, a.id]);
    expect((await runs.listRuns({ status: 'finished' })).runs.map((r) => r.id)).toEqual([b.id]);
    expect((await runs.listRuns({ limit: 1 })).runs.map((r) => r.id)).toEqual([c.id]);
    expect((await runs.listRuns({ experiment: 'nope' })).runs).toEqual([]);
    await expect(runs.listRuns({ limit: 0 })).rejects.toBeInstanceOf(BadInputError);
    expect(validator.check('run-list.schema.json', await runs.listRuns())).toBeNull();
  });

  it('finds a run by a unique id prefix, and says when a prefix is ambiguous or unknown', async () => {
    await runs.createRun({ id: 'aaaa1111-0000-4000-8000-000000000000' });
    await runs.createRun({ id: 'aaaa2222-0000-4000-8000-000000000000' });
    expect((await runs.getRun('aaaa1')).run.id).toBe('aaaa1111-0000-4000-8000-000000000000');
    await expect(runs.getRun('aaaa')).rejects.toBeInstanceOf(BadInputError);
    await expect(runs.getRun('bbbb')).rejects.toBeInstanceOf(NotFoundError);
    await expect(runs.getRun('')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('downsamples metric history to at most max_points per key, keeping the first and last points', async () => {
    const run = await runs.createRun({});
    const points: MetricPoint[] = Array.from({ length: 1001 }, (_, step) => ({ key: 'loss', value: step, step, timestamp: step }));
    points.push({ key: 'lr', value: 0.1, step: 0, timestamp: 0 }, { key: 'lr', value: 0.05, step: 500, timestamp: 500 });
    await runs.logMetrics(run.id, points);
    const history = await runs.metricHistory(run.id, { maxPoints: 10 });
    expect(validator.check('metric-history.schema.json', history)).toBeNull();
    const loss = history.series.find((s) => s.key === 'loss')!;
    expect(loss.count).toBe(1001);
    expect(loss.steps.length).toBeLessThanOrEqual(10);
    expect(loss.steps[0]).toBe(0);
    expect(loss.steps[loss.steps.length - 1]).toBe(1000);
    expect([...loss.steps].sort((x, y) => x - y)).toEqual(loss.steps);
    expect(history.series.find((s) => s.key === 'lr')).toEqual({ key: 'lr', count: 2, steps: [0, 500], values: [0.1, 0.05] });
    const onlyLr = await runs.metricHistory(run.id, { key: 'lr', maxPoints: 2 });
    expect(onlyLr.series.map((s) => s.key)).toEqual(['lr']);
    const full = await runs.metricHistory(run.id, { key: 'loss', maxPoints: 5000 });
    expect(full.series[0].steps).toHaveLength(1001);
    await expect(runs.metricHistory(randomUUID())).rejects.toBeInstanceOf(NotFoundError);
  });

  it('appends 10,000 points in one batch through the appender', async () => {
    const run = await runs.createRun({});
    const points: MetricPoint[] = Array.from({ length: 10_000 }, (_, step) => ({ key: `m${step % 4}`, value: Math.sin(step), step, timestamp: Date.now() }));
    // How fast is bench/ingest.mjs's question; this test checks that every point lands.
    expect(await runs.logMetrics(run.id, points)).toBe(10_000);
    const detail = await runs.getRun(run.id);
    expect(detail.metrics.reduce((sum, m) => sum + m.count, 0)).toBe(10_000);
  });

  describe('the run state machine: running → finished | failed | killed, nothing after an end', () => {
    it.each(['finished', 'failed', 'killed'] as const)('a %s run refuses a new status, end, error or code with its status', async (status) => {
      const run = await runs.createRun({ params: { a: '1' } });
      await runs.logMetrics(run.id, [{ key: 'm', value: 1, step: 0, timestamp: 1 }], 'aaaaaaaa-0000-4000-8000-000000000001');
      await runs.updateRun(run.id, { status });
      for (const update of [{ status: 'finished' as const }, { status }, { end_time: new Date().toISOString() }, { error: 'late' }, { code: 'x = 1' }]) {
        const refused = runs.updateRun(run.id, update);
        await expect(refused).rejects.toBeInstanceOf(ConflictError);
        await expect(refused).rejects.toMatchObject({ field: 'status', value: status });
      }
      await expect(runs.logParams(run.id, { b: '2' })).rejects.toMatchObject({ field: 'status', value: status });
      await expect(runs.logMetrics(run.id, [{ key: 'm', value: 2, step: 1, timestamp: 2 }])).rejects.toMatchObject({ field: 'status', value: status });
      // A sender's retry of a batch stored before the end is answered as before, not refused.
      expect(await runs.logMetrics(run.id, [{ key: 'm', value: 1, step: 0, timestamp: 1 }], 'aaaaaaaa-0000-4000-8000-000000000001')).toBe(1);
      const renamed = await runs.updateRun(run.id, { name: 'kept', tags: { note: 'after the end' } });
      expect(renamed).toMatchObject({ name: 'kept', status });
      const detail = await runs.getRun(run.id);
      expect(detail.params).toEqual([{ key: 'a', value: '1' }]);
      expect(detail.metrics[0].count).toBe(1);
      expect(detail.tags).toEqual({ note: 'after the end' });
    });
  });

  describe('metric summaries', () => {
    it('equal the aggregates of the stored points, however the points arrive in batches', async () => {
      const point = fc.record({
        key: fc.constantFrom('a', 'b', 'c'),
        value: fc.oneof(fc.double({ noNaN: false }), fc.constant(null)),
        step: fc.integer({ min: 0, max: 20 }),
        timestamp: fc.integer({ min: 0, max: 5 }),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(point, { minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 5 }), async (batches) => {
          const run = await runs.createRun({});
          for (const batch of batches) await runs.logMetrics(run.id, batch);
          const expected = await store.exclusive((db) =>
            db.all(
              `SELECT key, count(*) AS count, arg_max_null(value, (step, timestamp_ms, rowid)) AS last,
                 min(value) AS min, max(value) AS max, max(step) AS last_step
               FROM metrics WHERE run_id = $1 GROUP BY key ORDER BY key`,
              [run.id],
            ),
          );
          // Compared as the API sends them: JSON has no -0, which DuckDB's arg_max_null turns into 0.
          const asSent = (value: unknown): unknown => JSON.parse(JSON.stringify(value));
          const { metrics } = await runs.getRun(run.id);
          expect(asSent(metrics)).toEqual(asSent(expected.map((row) => ({ ...row, count: Number(row.count), last_step: Number(row.last_step) }))));
          const listed = (await runs.listRuns({ limit: 1 })).runs[0];
          expect(asSent(listed.metrics_latest)).toEqual(asSent(Object.fromEntries(expected.map((row) => [row.key, row.last]))));
        }),
        { numRuns: 25 },
      );
    }, 60_000);
  });

  describe('reads and writes', () => {
    it('answers reads while a write transaction is still open, from the data committed before it', async () => {
      const run = await runs.createRun({ name: 'before' });
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let writing!: () => void;
      const started = new Promise<void>((resolve) => (writing = resolve));
      const write = store.transaction(async (db) => {
        await db.run("UPDATE runs SET name = 'during' WHERE id = $1", [run.id]);
        writing();
        await held;
      });
      await started;
      // Were reads queued behind the write, none of these would settle before `release()`.
      const [list, detail, experiments, history] = await Promise.all([
        runs.listRuns(),
        runs.getRun(run.id),
        runs.listExperiments(),
        runs.metricHistory(run.id),
      ]);
      expect(list.runs.map((r) => r.name)).toEqual(['before']);
      expect(detail.run.name).toBe('before');
      expect(experiments.experiments).toHaveLength(1);
      expect(history.series).toEqual([]);
      release();
      await write;
      expect((await runs.getRun(run.id)).run.name).toBe('during');
    });
  });

  describe('heartbeats', () => {
    it('kills supervised runs whose beats stopped, and nothing else', async () => {
      const silent = await runs.createRun({ heartbeat: true, name: 'silent' });
      const beating = await runs.createRun({ heartbeat: true, name: 'beating' });
      const unsupervised = await runs.createRun({ name: 'api' });
      const ended = await runs.createRun({ heartbeat: true, name: 'ended' });
      await runs.updateRun(ended.id, { status: 'finished' });
      // Times are passed in, so the test does not depend on how fast this machine is.
      const created = Date.now();
      const beat = created + 60_000;
      expect(await runs.killSilentRuns(60_000, 0, created + 1000)).toEqual([]);
      expect(await runs.heartbeat([beating.id, unsupervised.id, randomUUID()], beat)).toEqual(
        [
          { id: beating.id, status: 'running' },
          { id: unsupervised.id, status: 'running' },
        ].sort((a, b) => a.id.localeCompare(b.id)),
      );
      // A daemon that started after the beats counts them as made when it started.
      expect(await runs.killSilentRuns(1000, beat, beat + 500)).toEqual([]);
      expect(await runs.killSilentRuns(1000, 0, beat + 500)).toEqual([silent.id]);
      const killed = await runs.getRun(silent.id);
      expect(killed.run.status).toBe('killed');
      expect(killed.run.end_time).toBe(new Date(beat + 500).toISOString());
      expect(killed.source.error).toMatch(/no heartbeat/);
      for (const id of [beating.id, unsupervised.id]) expect((await runs.getRun(id)).run.status).toBe('running');
      expect((await runs.getRun(ended.id)).run.status).toBe('finished');
      expect(await runs.heartbeat([silent.id])).toEqual([{ id: silent.id, status: 'killed' }]);
      expect(await runs.killSilentRuns(1000, 0, beat + 5000)).toEqual([beating.id]);
    });
  });
});
