import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SchemaValidator, type MetricPoint, type MlflowTransfer } from '@opsbook/schema';
import { OpsbookApiError, OpsbookClient } from '../../client/client';
import { startDaemon, type RunningDaemon } from '../../daemon/daemon';
import { readTrackingConfig, TrackingConfigError } from './config';
import { BOOKKEEPING_TAGS } from './mapping';
import { mlflowExecutable, startMlflowServer, type MlflowTestServer } from './testing/mlflow-server';
import { runBuiltCli as opsbook, BUILT_CLI } from '../../cli/testing';

/**
 * MLflow interop against a REAL `mlflow server` (SQLite store, artifacts served by the server), the
 * real daemon and the built CLI (`npx tsc -b` first). Runs are seeded with MLflow's own Python client.
 */
const validator = new SchemaValidator();
const RUNS = 8;

/** Runs logged by MLflow's own client: params, system tags, multi-step metrics (one of 26,000 points, a NaN), artifacts, every status. */
const SEED = `
import json, os, sys, tempfile
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

client = MlflowClient()
exp = client.create_experiment(sys.argv[2])
statuses = ["FINISHED", "FAILED", "KILLED", "RUNNING"]
made = []
for i in range(int(sys.argv[1])):
    start = 1_700_000_000_000 + i * 1_000_000
    tags = {"team": "vision", "mlflow.user": "alice", "mlflow.source.name": "train.py", "idx": str(i)}
    if i == 1:
        tags["mlflow.parentRunId"] = made[0]  # nested under trial-0
    run = client.create_run(exp, start_time=start, run_name=f"trial-{i}", tags=tags)
    rid = run.info.run_id
    metrics = []
    for step in range(150):
        metrics.append(Metric("loss", 1 / (step + 1) + i, start + step * 10, step))
        metrics.append(Metric("acc", step / 150, start + step * 10 + 1, step))
    metrics.append(Metric("loss", float("nan"), start + 5000, 150))
    if i == 0:
        metrics += [Metric("long", float(s % 97), start + s, s) for s in range(26_000)]
    for k in range(0, len(metrics), 1000):
        client.log_batch(rid, metrics=metrics[k:k + 1000])
    client.log_batch(rid, params=[Param("lr", str(0.1 * (i + 1))), Param("depth", str(i + 3)), Param("model", "rf")])
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "summary.txt")
        with open(path, "w") as f:
            f.write(f"run {i}\\n")
        client.log_artifact(rid, path)
        path = os.path.join(d, "curve.csv")
        with open(path, "w") as f:
            f.write("step,loss\\n0,1\\n")
        client.log_artifact(rid, path, artifact_path="plots")
    if statuses[i % 4] != "RUNNING":
        client.set_terminated(rid, status=statuses[i % 4], end_time=start + 60_000 + i)
    made.append(rid)
print("SEEDED " + json.dumps(made))
`;

/** MLflow's REST API, asked directly (not through the code under test). */
async function mlflowApi<T>(server: MlflowTestServer, endpoint: string, body?: unknown): Promise<T> {
  const response = await fetch(`${server.uri}/api/2.0/mlflow/${endpoint}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${endpoint}: HTTP ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

interface RestRun {
  info: { run_id: string; run_name: string; status: string; start_time: number; end_time?: number; experiment_id: string; artifact_uri: string };
  data: { params?: { key: string; value: string }[]; tags?: { key: string; value: string }[]; metrics?: { key: string }[] };
}

async function runsOf(server: MlflowTestServer, experiment: string): Promise<RestRun[]> {
  const { experiment: found } = await mlflowApi<{ experiment: { experiment_id: string } }>(
    server,
    `experiments/get-by-name?experiment_name=${encodeURIComponent(experiment)}`,
  );
  const { runs } = await mlflowApi<{ runs?: RestRun[] }>(server, 'runs/search', { experiment_ids: [found.experiment_id], max_results: 1000 });
  return runs ?? [];
}

/** Every point of every metric of a run as comparable text: key, step, value, timestamp. */
async function pointsOf(server: MlflowTestServer, run: RestRun): Promise<string[]> {
  const points: string[] = [];
  for (const key of new Set((run.data.metrics ?? []).map((m) => m.key))) {
    let token = '';
    do {
      const page = await mlflowApi<{ metrics: { key: string; step: number; value: number | string; timestamp: number }[]; next_page_token?: string }>(
        server,
        `metrics/get-history?run_id=${run.info.run_id}&metric_key=${key}&max_results=25000${token ? `&page_token=${token}` : ''}`,
      );
      for (const m of page.metrics) points.push(`${m.key}|${m.step}|${String(m.value)}|${m.timestamp}`);
      token = page.next_page_token ?? '';
    } while (token);
  }
  return points.sort();
}

const record = (list?: { key: string; value: string }[]): Record<string, string> => Object.fromEntries((list ?? []).map((kv) => [kv.key, kv.value]));
const withoutBookkeeping = (tags: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(tags).filter(([key]) => !BOOKKEEPING_TAGS.includes(key)));

async function artifactText(server: MlflowTestServer, run: RestRun, path: string): Promise<string> {
  const root = run.info.artifact_uri.replace(/^mlflow-artifacts:\//, '');
  const response = await fetch(`${server.uri}/api/2.0/mlflow-artifacts/artifacts/${root}/${path}`);
  if (!response.ok) throw new Error(`artifact ${path}: HTTP ${response.status}`);
  return response.text();
}

describe('MLflow interop with a real mlflow server', () => {
  let server: MlflowTestServer;
  const timings: string[] = [];
  const folders: string[] = [];
  const daemons: RunningDaemon[] = [];

  const folder = (prefix: string): string => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    folders.push(dir);
    return dir;
  };

  beforeAll(async () => {
    if (spawnSync(process.execPath, [BUILT_CLI, '--help']).status !== 0) throw new Error(`${BUILT_CLI} does not run: build first with npx tsc -b`);
    server = await startMlflowServer();
    timings.push(`mlflow server start: ${server.startSeconds.toFixed(1)} s`);
  }, 180_000);

  afterAll(async () => {
    for (const daemon of daemons) await daemon.close();
    await server?.stop();
    for (const dir of folders) rmSync(dir, { recursive: true, force: true });
    process.stdout.write(`MLflow interop timings (${RUNS} runs): ${timings.join('; ')}\n`);
  }, 60_000);

  it('imports runs logged in MLflow and exports them again with params, tags and every metric point intact', async () => {
    const python = join(dirname(mlflowExecutable()), 'python');
    const seeded = spawnSync(python, ['-c', SEED, String(RUNS), 'seed'], {
      env: { ...process.env, MLFLOW_TRACKING_URI: server.uri },
      encoding: 'utf8',
      timeout: 240_000,
    });
    const line = seeded.stdout.split('\n').find((l) => l.startsWith('SEEDED '));
    if (!line) throw new Error(`seeding failed: ${seeded.stderr.slice(-2000)}`);
    const originals = await runsOf(server, 'seed');
    expect(originals).toHaveLength(RUNS);

    const workspace = folder('opsbook-mlflow-ws-');
    const runtime = folder('opsbook-mlflow-rt-');
    const daemon = await startDaemon({ workspace, runtimeDir: runtime, validateResponses: true });
    daemons.push(daemon);
    const env = { ...process.env, JUPYTER_RUNTIME_DIR: runtime };
    const client = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token });

    let started = Date.now();
    const imported = await opsbook(['runs', 'import-mlflow', server.uri, '--experiment', 'seed', '--workspace', workspace, '--json'], env);
    timings.push(`import: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    const report = JSON.parse(imported.stdout) as MlflowTransfer;
    expect(validator.check('mlflow-transfer.schema.json', report)).toBeNull();
    expect(report).toMatchObject({ direction: 'import', copied: RUNS, skipped: 0 });
    expect(report.runs.reduce((sum, run) => sum + run.metric_points, 0)).toBe(RUNS * 301 + 26_000);
    expect(report.runs.every((run) => run.artifacts === 2)).toBe(true);

    // In the workspace: names, statuses, times, params, every tag, every point with its timestamp, artifacts.
    for (const original of originals) {
      const entry = report.runs.find((run) => run.mlflow_run_id === original.info.run_id);
      expect(entry).toBeDefined();
      const detail = await client.getRun(entry!.run_id);
      expect(detail.run.name).toBe(original.info.run_name);
      expect(detail.run.experiment).toBe('seed');
      expect(detail.run.status).toBe(original.info.status.toLowerCase() === 'running' ? 'running' : original.info.status.toLowerCase());
      expect(Date.parse(detail.run.start_time)).toBe(Number(original.info.start_time));
      expect(detail.run.end_time === null ? null : Date.parse(detail.run.end_time)).toBe(
        original.info.status === 'RUNNING' ? null : Number(original.info.end_time),
      );
      expect(Object.fromEntries(detail.params.map((p) => [p.key, p.value]))).toEqual(record(original.data.params));
      expect(detail.tags).toEqual({ ...record(original.data.tags), 'opsbook.mlflow_run_id': original.info.run_id });
      const parent = record(original.data.tags)['mlflow.parentRunId'];
      expect(detail.parent_run_id).toBe(parent ? report.runs.find((run) => run.mlflow_run_id === parent)!.run_id : null);
      const history = await client.metricHistory(entry!.run_id, { max_points: 100_000, x: 'time' });
      const points = history.series.flatMap((s) =>
        s.steps.map((step, i) => `${s.key}|${step}|${s.values[i] === null ? 'NaN' : String(s.values[i])}|${s.timestamps![i]}`),
      );
      expect(points.sort()).toEqual(await pointsOf(server, original));
      const artifacts = (await client.listArtifacts(entry!.run_id)).artifacts.map((a) => a.name);
      expect(artifacts).toEqual(['plots/curve.csv', 'summary.txt']);
      expect(await (await client.artifactContent(entry!.run_id, 'summary.txt')).text()).toBe(await artifactText(server, original, 'summary.txt'));
    }

    // Importing again finds every run already there.
    const again = await opsbook(['runs', 'import-mlflow', server.uri, '--experiment', 'seed', '--workspace', workspace, '--json'], env);
    expect(JSON.parse(again.stdout)).toMatchObject({ copied: 0, skipped: RUNS });

    // --filter takes the run filter language.
    const filtered = await opsbook(
      ['runs', 'export-mlflow', server.uri, '--filter', 'status = failed and params.model = rf', '--experiment', 'failed-only', '--workspace', workspace, '--json'],
      env,
    );
    expect(filtered.stderr).toBe('');
    expect(JSON.parse(filtered.stdout)).toMatchObject({ copied: RUNS / 4, skipped: 0 });
    expect((await runsOf(server, 'failed-only')).every((run) => run.info.status === 'FAILED')).toBe(true);

    started = Date.now();
    const exported = await opsbook(['runs', 'export-mlflow', server.uri, '--experiment', 'copy', '--workspace', workspace, '--json'], env);
    timings.push(`export: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(exported.code).toBe(0);
    const out = JSON.parse(exported.stdout) as MlflowTransfer;
    expect(validator.check('mlflow-transfer.schema.json', out)).toBeNull();
    expect(out).toMatchObject({ direction: 'export', copied: RUNS, skipped: 0 });

    // The acceptance: the copies carry the same params, tags and every metric step, value and timestamp.
    const copies = await runsOf(server, 'copy');
    expect(copies).toHaveLength(RUNS);
    for (const original of originals) {
      const copy = copies.find((run) => record(run.data.tags)['opsbook.mlflow_run_id'] === original.info.run_id);
      expect(copy).toBeDefined();
      expect(record(copy!.data.params)).toEqual(record(original.data.params));
      // A nested copy points at its parent's copy; every other tag is the same.
      const { 'mlflow.parentRunId': parent, ...originalTags } = withoutBookkeeping(record(original.data.tags));
      const { 'mlflow.parentRunId': copyParent, ...copyTags } = withoutBookkeeping(record(copy!.data.tags));
      expect(copyTags).toEqual(originalTags);
      const parentCopy = copies.find((run) => record(run.data.tags)['opsbook.mlflow_run_id'] === parent);
      expect(copyParent).toBe(parent === undefined ? undefined : parentCopy!.info.run_id);
      expect(await pointsOf(server, copy!)).toEqual(await pointsOf(server, original));
      expect(copy!.info.status).toBe(original.info.status);
      expect(Number(copy!.info.start_time)).toBe(Number(original.info.start_time));
      if (original.info.status !== 'RUNNING') expect(Number(copy!.info.end_time)).toBe(Number(original.info.end_time));
      expect(await artifactText(server, copy!, 'plots/curve.csv')).toBe(await artifactText(server, original, 'plots/curve.csv'));
    }

    // Exporting again adds nothing.
    const twice = await opsbook(['runs', 'export-mlflow', server.uri, '--experiment', 'copy', '--workspace', workspace, '--json'], env);
    expect(JSON.parse(twice.stdout)).toMatchObject({ copied: 0, skipped: RUNS });
    expect(await runsOf(server, 'copy')).toHaveLength(RUNS);
  }, 600_000);

  it('refuses a bad tracking URI, an unknown experiment and an unreachable server with one line and the right exit code', async () => {
    const workspace = folder('opsbook-mlflow-ws-');
    const runtime = folder('opsbook-mlflow-rt-');
    const daemon = await startDaemon({ workspace, runtimeDir: runtime });
    daemons.push(daemon);
    const env = { ...process.env, JUPYTER_RUNTIME_DIR: runtime };
    const notUri = await opsbook(['runs', 'import-mlflow', 'ftp://x', '--workspace', workspace], env);
    expect(notUri.code).toBe(2);
    expect(notUri.stderr).toMatch(/must start with http:\/\/ or https:\/\/, not "ftp:\/\/x"/);
    const folderGiven = await opsbook(['runs', 'import-mlflow', workspace, '--workspace', workspace], env);
    expect(folderGiven.code).toBe(2);
    expect(folderGiven.stderr).toContain('local mlruns folder');
    const unknown = await opsbook(['runs', 'import-mlflow', server.uri, '--experiment', 'no-such', '--workspace', workspace, '--json'], env);
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stdout).error.message).toContain('no experiment named "no-such"');
    const badFilter = await opsbook(['runs', 'export-mlflow', server.uri, '--filter', 'params.lr >', '--workspace', workspace, '--json'], env);
    expect(badFilter.code).toBe(2);
    expect(JSON.parse(badFilter.stdout).error.field).toBe('filter');
    const down = await opsbook(['runs', 'export-mlflow', 'http://127.0.0.1:9', '--workspace', workspace], env);
    expect(down.code).toBe(3);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).toContain('cannot be reached');
  }, 120_000);

  it('with tracking.backend mlflow, the daemon writes runs to the MLflow server and reads them back', async () => {
    const workspace = folder('opsbook-mlflow-ws-');
    const runtime = folder('opsbook-mlflow-rt-');
    mkdirSync(join(workspace, '.opsbook'));
    writeFileSync(join(workspace, '.opsbook', 'config.yaml'), `tracking:\n  backend: mlflow\n  uri: ${server.uri}\n`);
    const daemon = await startDaemon({ workspace, runtimeDir: runtime, validateResponses: true });
    daemons.push(daemon);
    const client = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token });

    const id = randomUUID();
    const run = await client.createRun({ id, experiment: 'backend', name: 'b1', params: { lr: '0.01' }, tags: { team: 'nlp' }, source: { type: 'cell', code: 'x = 1' } });
    expect(run).toMatchObject({ id, experiment: 'backend', name: 'b1', status: 'running' });
    await expect(client.createRun({ id, experiment: 'backend' })).rejects.toMatchObject({ status: 409 });
    await client.logParams(id, { depth: '4' });
    await expect(client.logParams(id, { lr: '0.5' })).rejects.toMatchObject({ status: 409 });
    const points: MetricPoint[] = Array.from({ length: 2500 }, (_, step) => ({ key: 'loss', value: 1 / (step + 1), step, timestamp: 1_700_000_000_000 + step }));
    points.push({ key: 'loss', value: null, step: 2500, timestamp: 1_700_000_002_500 });
    const batch = randomUUID();
    expect(await client.logMetrics(id, points, batch)).toEqual({ accepted: 2501 });
    expect(await client.logMetrics(id, points, batch)).toEqual({ accepted: 2501 }); // a retry is stored once
    await client.updateRun(id, { status: 'finished' });
    await expect(client.logMetrics(id, [{ key: 'loss', value: 1, step: 9999, timestamp: 1 }])).rejects.toMatchObject({ status: 409 });

    // MLflow's own API sees the run, its params and every point.
    const [seen] = await runsOf(server, 'backend');
    expect(seen.info.run_name).toBe('b1');
    expect(seen.info.status).toBe('FINISHED');
    expect(record(seen.data.params)).toEqual({ lr: '0.01', depth: '4' });
    expect(record(seen.data.tags)).toMatchObject({ team: 'nlp', 'opsbook.run_id': id });
    expect(await pointsOf(server, seen)).toHaveLength(2501);

    // And the daemon reads it back.
    const detail = await client.getRun(id);
    expect(validator.check('run-detail.schema.json', detail)).toBeNull();
    expect(detail.run.status).toBe('finished');
    expect(detail.tags).toEqual({ team: 'nlp', 'mlflow.runName': 'b1' });
    expect(detail.source).toEqual({ type: 'cell', code: 'x = 1' });
    expect(detail.metrics).toEqual([{ key: 'loss', count: 2501, last: null, min: 1 / 2500, max: 1, last_step: 2500 }]);
    const history = await client.metricHistory(id, { max_points: 200 });
    expect(history.series[0].count).toBe(2501);
    expect(history.series[0].steps.length).toBeLessThanOrEqual(200);
    expect(history.series[0].values).toContain(1);
    const list = await client.listRuns({ experiment: 'backend' });
    expect(list.runs.map((r) => r.id)).toEqual([id]);
    expect(list.runs[0].metrics_latest).toEqual({ loss: null });
    const experiments = await client.listExperiments();
    expect(experiments.experiments.find((e) => e.name === 'backend')?.run_count).toBe(1);

    // A run logged in MLflow by something else is listed under the UUID spelled with its id.
    const { experiment_id } = await mlflowApi<{ experiment_id: string }>(server, 'experiments/create', { name: 'made-in-mlflow' });
    const { run: outside } = await mlflowApi<{ run: RestRun }>(server, 'runs/create', { experiment_id, run_name: 'outside', start_time: 1_700_000_000_000 });
    const spelled = outside.info.run_id.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
    expect((await client.getRun(spelled)).run).toMatchObject({ id: spelled, name: 'outside', experiment: 'made-in-mlflow', status: 'running' });

    // What only the local store does answers 400 naming the setting.
    const refused = await client.compareRuns([id]).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpsbookApiError);
    expect((refused as OpsbookApiError).status).toBe(400);
    expect((refused as OpsbookApiError).body.error).toMatchObject({ field: 'tracking.backend', value: 'mlflow' });
    expect((refused as OpsbookApiError).body.error.message).toContain('not available with tracking.backend mlflow');
    await expect(client.listRuns({ filter: 'params.lr = "0.01"' })).rejects.toMatchObject({ status: 400 });

    // `opsbook runs list` shows it.
    const listed = await opsbook(['runs', 'list', '--experiment', 'backend', '--workspace', workspace, '--json'], { ...process.env, JUPYTER_RUNTIME_DIR: runtime });
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).runs.map((r: { id: string }) => r.id)).toEqual([id]);
  }, 300_000);

  it('with tracking.backend mlflow, a run whose heartbeats stop is ended KILLED on the MLflow server', async () => {
    const workspace = folder('opsbook-mlflow-ws-');
    const runtime = folder('opsbook-mlflow-rt-');
    mkdirSync(join(workspace, '.opsbook'));
    writeFileSync(join(workspace, '.opsbook', 'config.yaml'), `tracking:\n  backend: mlflow\n  uri: ${server.uri}\n`);
    const daemon = await startDaemon({ workspace, runtimeDir: runtime, validateResponses: true, heartbeatTimeoutMs: 1500 });
    daemons.push(daemon);
    const client = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token });
    const [alive, silent] = [randomUUID(), randomUUID()];
    await client.createRun({ id: alive, experiment: 'beats', heartbeat: true });
    await client.createRun({ id: silent, experiment: 'beats', heartbeat: true });
    const first = await client.heartbeat([alive, silent]);
    expect(first.runs).toEqual([
      { id: alive, status: 'running' },
      { id: silent, status: 'running' },
    ]);
    for (let i = 0; i < 5; i += 1) {
      await new Promise((done) => setTimeout(done, 500));
      await client.heartbeat([alive]);
    }
    const reply = await client.heartbeat([alive, silent]);
    expect(reply.runs).toEqual([
      { id: alive, status: 'running' },
      { id: silent, status: 'killed' },
    ]);
    const killed = (await runsOf(server, 'beats')).find((run) => record(run.data.tags)['opsbook.run_id'] === silent)!;
    expect(killed.info.status).toBe('KILLED');
    expect((await client.getRun(silent)).source.error).toContain('no heartbeat');
    expect((await client.getRun(alive)).run.status).toBe('running');
  }, 120_000);

  it('answers 503 naming the server when the MLflow server cannot be reached', async () => {
    const workspace = folder('opsbook-mlflow-ws-');
    const runtime = folder('opsbook-mlflow-rt-');
    const daemon = await startDaemon({ workspace, runtimeDir: runtime });
    daemons.push(daemon);
    await daemon.close();
    const previous = { backend: process.env.OPSBOOK_TRACKING_BACKEND, uri: process.env.OPSBOOK_MLFLOW_URI };
    process.env.OPSBOOK_TRACKING_BACKEND = 'mlflow';
    process.env.OPSBOOK_MLFLOW_URI = 'http://127.0.0.1:9';
    try {
      const down = await startDaemon({ workspace, runtimeDir: runtime });
      daemons.push(down);
      const client = new OpsbookClient({ baseUrl: down.info.url, token: down.token });
      const error = (await client.listRuns().catch((e: unknown) => e)) as OpsbookApiError;
      expect(error.status).toBe(503);
      expect(error.body.error.message).toContain('http://127.0.0.1:9 cannot be reached');
    } finally {
      process.env.OPSBOOK_TRACKING_BACKEND = previous.backend ?? '';
      process.env.OPSBOOK_MLFLOW_URI = previous.uri ?? '';
      if (previous.backend === undefined) delete process.env.OPSBOOK_TRACKING_BACKEND;
      if (previous.uri === undefined) delete process.env.OPSBOOK_MLFLOW_URI;
    }
  }, 60_000);
});

describe('tracking settings', () => {
  let workspace: string;
  beforeEach(() => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-config-'));
    mkdirSync(join(workspace, '.opsbook'));
  });
  afterEach(() => rmSync(workspace, { recursive: true, force: true }));
  const write = (text: string): void => writeFileSync(join(workspace, '.opsbook', 'config.yaml'), text);

  it('reads the backend from config.yaml, with the environment overriding it', () => {
    expect(readTrackingConfig(workspace, {})).toEqual({ backend: 'local' });
    write('tracking:\n  backend: mlflow\n  uri: http://mlflow.example:5000\n');
    expect(readTrackingConfig(workspace, {})).toEqual({ backend: 'mlflow', uri: 'http://mlflow.example:5000' });
    expect(readTrackingConfig(workspace, { OPSBOOK_MLFLOW_URI: 'https://other:443' })).toEqual({ backend: 'mlflow', uri: 'https://other:443' });
    expect(readTrackingConfig(workspace, { OPSBOOK_TRACKING_BACKEND: 'local' })).toEqual({ backend: 'local' });
  });

  it('names the file or variable and the bad value', () => {
    write('tracking:\n  backend: postgres\n');
    expect(() => readTrackingConfig(workspace, {})).toThrow(/tracking\.backend must be local or mlflow, not "postgres"/);
    write('tracking:\n  backend: mlflow\n');
    expect(() => readTrackingConfig(workspace, {})).toThrow(/no tracking server is named/);
    write('tracking: [unclosed\n');
    expect(() => readTrackingConfig(workspace, {})).toThrow(TrackingConfigError);
    rmSync(join(workspace, '.opsbook', 'config.yaml'));
    expect(() => readTrackingConfig(workspace, { OPSBOOK_TRACKING_BACKEND: 'mlflow', OPSBOOK_MLFLOW_URI: 'file:///tmp/mlruns' })).toThrow(
      /OPSBOOK_MLFLOW_URI must be the http\(s\) URI of an MLflow tracking server, not "file:\/\/\/tmp\/mlruns"/,
    );
  });

  it('stops the daemon from starting on a bad setting, before it opens the store', async () => {
    write('tracking:\n  backend: nope\n');
    await expect(startDaemon({ workspace, runtimeDir: workspace })).rejects.toThrow(TrackingConfigError);
  });
});
