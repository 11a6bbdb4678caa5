import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaValidator, type CheckSuite, type QualityProgress } from '@opsbook/schema';
import { OpsbookApiError, OpsbookClient } from '../client/client';
import { followEvents } from '../client/events';
import { writeTable } from '../quality/testing';
import { startDaemon, type RunningDaemon } from './daemon';
import { refusal, until } from './testing';

const validator = new SchemaValidator();

/** 1,000 rows with planted defects: 10 null ids, 5 ages above 120, 3 unknown countries. */
const ORDERS = `
  SELECT CASE WHEN i % 100 = 0 THEN NULL ELSE i END AS id,
         CASE WHEN i % 200 = 1 THEN 150 ELSE i % 90 END AS age,
         CASE WHEN i < 3 THEN 'XX' ELSE ['DE', 'FR', 'US'][i % 3 + 1] END AS country
  FROM range(1000) t(i)`;

const SUITE: CheckSuite = {
  suite: 'orders',
  checks: [
    { check: 'row_count', min: 1 },
    { check: 'not_null', column: 'id' },
    { check: 'between', column: 'age', min: 0, max: 120 },
    { check: 'in_set', column: 'country', values: ['DE', 'FR', 'US'] },
  ],
};


/** Everything a test could have written to the store about runs: the list, each run's metrics and artifacts. */
async function storeState(client: OpsbookClient): Promise<unknown> {
  const { runs } = await client.listRuns({ limit: 1000 });
  return Promise.all(
    runs.map(async (run) => ({
      run,
      metrics: (await client.getRun(run.id)).metrics,
      artifacts: (await client.listArtifacts(run.id)).artifacts,
    })),
  );
}

/** A daemon of its own in a fresh workspace (prepared by `prepare` before it starts). */
async function workspaceDaemon(prefix: string, prepare: (workspace: string) => void = () => undefined): Promise<{
  workspace: string;
  daemon: RunningDaemon;
  client: OpsbookClient;
  close: () => Promise<void>;
}> {
  const workspace = mkdtempSync(join(tmpdir(), `opsbook-${prefix}-`));
  const runtime = mkdtempSync(join(tmpdir(), `opsbook-${prefix}-runtime-`));
  prepare(workspace);
  const daemon = await startDaemon({ workspace, port: 0, runtimeDir: runtime, validateResponses: true });
  return {
    workspace,
    daemon,
    client: new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token }),
    close: async () => {
      await daemon.close();
      rmSync(workspace, { recursive: true, force: true });
      rmSync(runtime, { recursive: true, force: true });
    },
  };
}

describe('quality operations on a real daemon', () => {
  let workspace: string;
  let client: OpsbookClient;
  let close: () => Promise<void>;
  let orders: string;

  beforeAll(async () => {
    ({ workspace, client, close } = await workspaceDaemon('quality-api'));
    orders = (await writeTable(workspace, 'orders', ORDERS)).path;
  });
  afterAll(() => close?.());

  it('runs a suite on a file named relative to the workspace, checks in suite order', async () => {
    const result = await client.runQualityCheck({ data: { path: 'orders.parquet' }, suite: SUITE });
    expect(validator.check('check-result.schema.json', result)).toBeNull();
    expect(result).toMatchObject({ suite: 'orders', status: 'fail', rows: 1000 });
    expect(result.checks.map((c) => [c.check, c.status, c.failing_rows])).toEqual([
      ['row_count', 'pass', undefined],
      ['not_null', 'fail', 10],
      ['between', 'fail', 5],
      ['in_set', 'fail', 3],
    ]);
    expect(result.run_id).toBeUndefined();
  });

  it('records a result against a run: passed/failed metrics at the next step, the report as an artifact', async () => {
    const run = await client.createRun({ experiment: 'quality' });
    const first = await client.runQualityCheck({ data: { path: orders }, suite: SUITE, run_id: run.id });
    expect(first).toMatchObject({ run_id: run.id, artifact: 'quality/orders.json' });
    await client.runQualityCheck({ data: { path: orders }, suite: { ...SUITE, checks: SUITE.checks.slice(0, 2) }, run_id: run.id });
    const passed = await client.metricHistory(run.id, { key: 'quality.orders.passed' });
    const failed = await client.metricHistory(run.id, { key: 'quality.orders.failed' });
    const points = (history: typeof passed): [number, number | null][] => history.series[0].steps.map((step, i) => [step, history.series[0].values[i]]);
    expect(points(passed)).toEqual([[0, 1], [1, 1]]);
    expect(points(failed)).toEqual([[0, 3], [1, 1]]);
    const { artifacts } = await client.listArtifacts(run.id);
    expect(artifacts.map((a) => [a.name, a.kind, a.media_type])).toEqual([['quality/orders.json', 'file', 'application/json']]);
    const report = JSON.parse(await (await client.artifactContent(run.id, 'quality/orders.json')).text()) as { checks: unknown[]; run_id: string };
    expect(validator.check('check-result.schema.json', report)).toBeNull();
    expect(report.checks).toHaveLength(2);
    expect(report.run_id).toBe(run.id);
  });

  it('answers 404 for an unknown run and 409 for an ended one, before any work and writing nothing', async () => {
    const ended = await client.createRun({ experiment: 'quality' });
    await client.updateRun(ended.id, { status: 'finished' });
    const before = await storeState(client);
    const unknown = randomUUID();
    expect(await refusal(client.runQualityCheck({ data: { path: orders }, suite: SUITE, run_id: unknown }))).toMatchObject({
      status: 404,
      field: 'run_id',
      value: unknown,
    });
    // The data is unreadable too: the run is checked first.
    expect(await refusal(client.runQualityCheck({ data: { path: 'missing.parquet' }, suite: SUITE, run_id: unknown }))).toMatchObject({ status: 404 });
    expect(await refusal(client.runQualityCheck({ data: { path: orders }, suite: SUITE, run_id: ended.id }))).toMatchObject({
      status: 409,
      field: 'status',
      value: 'finished',
    });
    expect(await storeState(client)).toEqual(before);
  });

  it('answers 400 naming the field for a bad suite, a bad sql check or unreadable data, writing nothing to the run', async () => {
    const run = await client.createRun({ experiment: 'quality' });
    const before = await storeState(client);
    const badSuite = { suite: 'orders', checks: [{ check: 'not_null', column: 7 }] } as unknown as CheckSuite;
    expect(await refusal(client.runQualityCheck({ data: { path: orders }, suite: badSuite, run_id: run.id }))).toMatchObject({
      status: 400,
      field: '/suite/checks/0/column',
    });
    const upsideDown: CheckSuite = { suite: 'orders', checks: [{ check: 'between', column: 'age', min: 120, max: 0 }] };
    expect(await refusal(client.runQualityCheck({ data: { path: orders }, suite: upsideDown, run_id: run.id }))).toMatchObject({
      status: 400,
      field: expect.stringMatching(/checks\/0/),
    });
    const twoStatements: CheckSuite = { suite: 'orders', checks: [{ check: 'sql', query: 'select 1; select 2', expect: 0 }] };
    expect(await refusal(client.runQualityCheck({ data: { path: orders }, suite: twoStatements, run_id: run.id }))).toMatchObject({ status: 400 });
    expect(await refusal(client.runQualityCheck({ data: { path: 'nope.parquet' }, suite: SUITE, run_id: run.id }))).toMatchObject({
      status: 400,
      field: 'data.path',
      value: 'nope.parquet',
    });
    writeFileSync(join(workspace, 'broken.parquet'), 'not parquet at all');
    expect(await refusal(client.runQualityCheck({ data: { path: 'broken.parquet' }, suite: SUITE, run_id: run.id }))).toMatchObject({ status: 400 });
    expect(await refusal(client.profileData({ data: { path: 'orders.txt' } }))).toMatchObject({ status: 400, field: 'data.path' });
    expect(await storeState(client)).toEqual(before);
  });

  describe('hand-off files', () => {
    const handoff = (): string => join(workspace, '.opsbook', 'handoff');
    beforeAll(() => mkdirSync(handoff(), { recursive: true }));

    it('reads a frame from the hand-off folder and removes it after use, whether the work succeeded or failed', async () => {
      const frame = (await writeTable(handoff(), 'frame-ok', ORDERS)).path;
      const result = await client.runQualityCheck({ data: { path: frame, handoff: true, label: 'df' }, suite: SUITE });
      expect(result.data?.label).toBe('df');
      expect(existsSync(frame)).toBe(false);

      const failing = (await writeTable(handoff(), 'frame-bad', ORDERS)).path;
      const bad: CheckSuite = { suite: 'orders', checks: [{ check: 'sql', query: 'drop table data', expect: 0 }] };
      expect(await refusal(client.runQualityCheck({ data: { path: '.opsbook/handoff/frame-bad.parquet', handoff: true }, suite: bad }))).toMatchObject({ status: 400 });
      expect(existsSync(failing)).toBe(false);

      // A body its schema refuses reaches no handler: the file still goes.
      const refused = (await writeTable(handoff(), 'frame-refused', ORDERS)).path;
      const malformed = { suite: 'orders', checks: [{ check: 'not_null' }] } as unknown as CheckSuite;
      expect(await refusal(client.runQualityCheck({ data: { path: refused, handoff: true }, suite: malformed }))).toMatchObject({ status: 400 });
      expect(existsSync(refused)).toBe(false);

      const profiled = (await writeTable(handoff(), 'frame-profile', ORDERS)).path;
      await client.profileData({ data: { path: profiled, handoff: true } });
      expect(existsSync(profiled)).toBe(false);
      expect(readdirSync(handoff())).toEqual([]);
    });

    it('refuses a hand-off path outside the folder, and leaves that file alone', async () => {
      const outside = (await writeTable(workspace, 'not-a-handoff', ORDERS)).path;
      const error = await refusal(client.runQualityCheck({ data: { path: outside, handoff: true }, suite: SUITE }));
      expect(error).toMatchObject({ status: 400, field: 'data.path' });
      expect(error.message).toContain('hand-off');
      const sneaky = await refusal(client.profileData({ data: { path: '.opsbook/handoff/../../not-a-handoff.parquet', handoff: true } }));
      expect(sneaky).toMatchObject({ status: 400, field: 'data.path' });
      expect(existsSync(outside)).toBe(true);
    });
  });

  it('cancels a large check through DELETE: the request answers 409 and the stream says cancelled', async () => {
    const big = (await writeTable(workspace, 'big', `
      SELECT i AS id, md5(i::VARCHAR) AS email, i % 97 AS age FROM range(4000000) t(i)`)).path;
    const suite: CheckSuite = {
      suite: 'big',
      checks: [
        { check: 'unique', column: 'email' },
        { check: 'matches', column: 'email', pattern: '^[0-9a-f]+@x$' },
        { check: 'duplicate_rows' },
        { check: 'unique', column: 'id' },
      ],
    };
    const progress: QualityProgress[] = [];
    const opened = new Promise<void>((resolve) => {
      const followed = followEvents(client, { onEvent: () => undefined, onQuality: (event) => progress.push(event.data), onOpen: resolve });
      afterCleanup.push(async () => {
        followed.close();
        await followed.closed;
      });
    });
    await opened;
    const jobId = 'big-check';
    const pending = client.runQualityCheck({ data: { path: big }, suite, job_id: jobId });
    const outcome = pending.then(
      () => 'finished',
      (reason: unknown) => reason,
    );
    await until(() => progress.some((p) => p.job_id === jobId));
    // The store answers while the check scans (it has a DuckDB of its own); the cancel below, which
    // finds the job still running, shows these were served during the scan.
    const run = await client.createRun({ experiment: 'during-check' });
    expect(await client.logMetrics(run.id, [{ key: 'loss', value: 1, step: 0, timestamp: Date.now() }])).toEqual({ accepted: 1 });
    expect((await client.listRuns({ experiment: 'during-check' })).runs.map((r) => r.id)).toEqual([run.id]);
    // A second job under the same id while it runs is refused.
    expect(await refusal(client.profileData({ data: { path: big }, job_id: jobId }))).toMatchObject({ status: 409, field: 'job_id' });
    expect(await client.cancelQualityJob(jobId)).toEqual({ job_id: jobId, cancelled: true });
    const error = await outcome;
    expect(error).toBeInstanceOf(OpsbookApiError);
    expect((error as OpsbookApiError).status).toBe(409);
    expect((error as OpsbookApiError).body.error).toMatchObject({ code: 'conflict', field: 'job_id', value: jobId });
    await until(() => progress.some((p) => p.phase === 'cancelled'));
    const ours = progress.filter((p) => p.job_id === jobId);
    for (const event of ours) expect(validator.check('quality-request.schema.json#/$defs/QualityProgress', event)).toBeNull();
    expect(ours[ours.length - 1].phase).toBe('cancelled');
    expect(await client.cancelQualityJob(jobId)).toEqual({ job_id: jobId, cancelled: false });
  });

  it('reports progress ending in done, or failed with the reason, for a job that names an id', async () => {
    const progress: QualityProgress[] = [];
    await new Promise<void>((resolve) => {
      const followed = followEvents(client, { onEvent: () => undefined, onQuality: (event) => progress.push(event.data), onOpen: resolve });
      afterCleanup.push(async () => {
        followed.close();
        await followed.closed;
      });
    });
    await client.compareDrift({ data: { path: orders }, reference: { path: orders }, job_id: 'drift-1' });
    await until(() => progress.some((p) => p.job_id === 'drift-1' && p.phase === 'done'));
    expect(progress.filter((p) => p.job_id === 'drift-1').map((p) => p.phase).filter((phase) => phase === 'done')).toEqual(['done']);
    expect(await refusal(client.profileData({ data: { path: 'missing.csv' }, job_id: 'profile-1' }))).toMatchObject({ status: 400 });
    await until(() => progress.some((p) => p.job_id === 'profile-1'));
    expect(progress.filter((p) => p.job_id === 'profile-1')).toEqual([
      { job_id: 'profile-1', phase: 'failed', done: 0, total: 1, message: expect.stringContaining('missing.csv') as unknown },
    ]);
  });

  const afterCleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of afterCleanup.splice(0)) await cleanup();
  });
});

describe('quality operations in a workspace tracking to MLflow', () => {
  let client: OpsbookClient;
  let close: () => Promise<void>;

  beforeAll(async () => {
    let workspace: string;
    ({ workspace, client, close } = await workspaceDaemon('quality-mlflow', (folder) => {
      mkdirSync(join(folder, '.opsbook'));
      // Nothing listens there: quality work must not need the tracking server.
      writeFileSync(join(folder, '.opsbook', 'config.yaml'), 'tracking:\n  backend: mlflow\n  uri: http://127.0.0.1:9\n');
    }));
    await writeTable(workspace, 'orders', ORDERS);
  });
  afterAll(() => close?.());

  it('runs checks locally, and refuses to record against a run with 400 naming tracking.backend', async () => {
    const result = await client.runQualityCheck({ data: { path: 'orders.parquet' }, suite: SUITE });
    expect(result.status).toBe('fail');
    expect(await refusal(client.runQualityCheck({ data: { path: 'orders.parquet' }, suite: SUITE, run_id: randomUUID() }))).toMatchObject({
      status: 400,
      field: 'tracking.backend',
      value: 'mlflow',
    });
  });
});

