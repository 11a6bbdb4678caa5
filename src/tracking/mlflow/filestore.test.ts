import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SchemaValidator, type MlflowTransfer } from '@opsbook/schema';
import { OpsbookClient } from '../../client/client';
import { startDaemon, type RunningDaemon } from '../../daemon/daemon';
import { FileStoreError, FileStoreReader } from './filestore';
import { mlflowExecutable } from './testing/mlflow-server';
import { runBuiltCli as opsbook, BUILT_CLI } from '../../cli/testing';

/**
 * Import from a local mlruns folder (MLflow's FileStore), read without MLflow: the folder is written
 * by MLflow's own Python client (`.venv-mlflow`), imported through the built CLI (`npx tsc -b` first)
 * into a real daemon, and compared with what MLflow's client reads back from the same folder.
 */
const validator = new SchemaValidator();

/**
 * Three runs (a parent FINISHED, a nested child FAILED, one still RUNNING) with params (one key with a
 * '/'), tags, multi-step metrics with their own timestamps (a NaN among them) and artifacts; a deleted
 * run and a deleted experiment that import must leave out. Prints what MLflow's client reads back.
 */
const SEED = `
import json, math, os, sys, tempfile
import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

mlflow.set_tracking_uri("file://" + sys.argv[1])
client = MlflowClient()
exp = client.create_experiment("fs-seed")
gone = client.create_experiment("fs-gone")
client.create_run(gone, run_name="in-deleted-experiment")
client.delete_experiment(gone)

def make(name, start, tags):
    run = client.create_run(exp, start_time=start, run_name=name, tags=tags)
    return run.info.run_id

base = 1_700_000_000_000
parent = make("parent", base, {"team": "vision", "mlflow.user": "alice"})
child = make("child", base + 1000, {"team": "vision", "mlflow.parentRunId": parent})
open_run = make("still-running", base + 2000, {"idx": "2"})
deleted = make("deleted", base + 3000, {})
client.delete_run(deleted)
for i, rid in enumerate([parent, child, open_run]):
    points = []
    for step in range(40):
        points.append(Metric("loss", 1 / (step + 1) + i, base + i * 1000 + step * 7, step))
        points.append(Metric("train/acc", step / 40, base + i * 1000 + step * 7 + 3, step))
    points.append(Metric("loss", float("nan"), base + i * 1000 + 999, 40))
    client.log_batch(rid, metrics=points, params=[Param("lr", str(0.1 * (i + 1))), Param("opt/name", "adam"), Param("depth", str(i + 3))])
    client.set_tag(rid, "note", "line one\\nline two" if i == 0 else "plain")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "summary.txt")
        with open(path, "w") as f:
            f.write(f"run {i}\\n")
        client.log_artifact(rid, path)
        path = os.path.join(d, "curve.csv")
        with open(path, "w") as f:
            f.write("step,loss\\n0,1\\n")
        client.log_artifact(rid, path, artifact_path="plots")
client.set_terminated(parent, status="FINISHED", end_time=base + 60_000)
client.set_terminated(child, status="FAILED", end_time=base + 61_000)

def files(rid, path=None):
    out = []
    for f in client.list_artifacts(rid, path):
        out += files(rid, f.path) if f.is_dir else [f.path]
    return out

seen = []
for rid in [parent, child, open_run]:
    r = client.get_run(rid)
    seen.append({
        "run_id": rid, "name": r.info.run_name, "status": r.info.status,
        "start_time": r.info.start_time, "end_time": r.info.end_time,
        "params": r.data.params, "tags": r.data.tags,
        "points": [[m.key, m.step, None if math.isnan(m.value) else m.value, m.timestamp]
                   for k in r.data.metrics for m in client.get_metric_history(rid, k)],
        "artifacts": sorted(files(rid)),
    })
print("SEEDED " + json.dumps(seen))
`;

interface Seen {
  run_id: string;
  name: string;
  status: string;
  start_time: number;
  end_time: number | null;
  params: Record<string, string>;
  tags: Record<string, string>;
  /** [key, step, value (null for NaN), timestamp] */
  points: [string, number, number | null, number][];
  artifacts: string[];
}

describe('import from a local mlruns folder (MLflow FileStore), without MLflow', () => {
  const folders: string[] = [];
  const daemons: RunningDaemon[] = [];
  const folder = (prefix: string): string => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    folders.push(dir);
    return dir;
  };

  beforeAll(() => {
    if (spawnSync(process.execPath, [BUILT_CLI, '--help']).status !== 0) throw new Error(`${BUILT_CLI} does not run: build first with npx tsc -b`);
  });

  afterAll(async () => {
    for (const daemon of daemons) await daemon.close();
    for (const dir of folders) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('copies every param, tag, metric point, status, time, parent and artifact, and nothing on a second import', async () => {
    const mlruns = join(folder('opsbook-mlruns-'), 'mlruns');
    const python = join(dirname(mlflowExecutable()), 'python');
    const seeded = spawnSync(python, ['-c', SEED, mlruns], {
      env: { ...process.env, MLFLOW_ALLOW_FILE_STORE: 'true', MLFLOW_TRACKING_URI: '' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    const line = seeded.stdout.split('\n').find((l) => l.startsWith('SEEDED '));
    if (!line) throw new Error(`seeding failed: ${seeded.stderr.slice(-2000)}`);
    const originals = JSON.parse(line.slice('SEEDED '.length)) as Seen[];
    expect(originals).toHaveLength(3);

    const workspace = folder('opsbook-fs-ws-');
    const runtime = folder('opsbook-fs-rt-');
    const daemon = await startDaemon({ workspace, runtimeDir: runtime, validateResponses: true });
    daemons.push(daemon);
    // MLflow is not needed: the CLI runs with a PATH without it.
    const env = { ...process.env, JUPYTER_RUNTIME_DIR: runtime, MLFLOW_ALLOW_FILE_STORE: '', PATH: dirname(process.execPath) };
    const client = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token });

    const imported = await opsbook(['runs', 'import-mlflow', mlruns, '--workspace', workspace, '--json'], env);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    const report = JSON.parse(imported.stdout) as MlflowTransfer;
    expect(validator.check('mlflow-transfer.schema.json', report)).toBeNull();
    expect(report).toMatchObject({ direction: 'import', mlflow: `file://${mlruns}`, copied: 3, skipped: 0 });
    expect(report.runs.map((run) => run.name).sort()).toEqual(['child', 'parent', 'still-running']);
    expect(report.runs.every((run) => run.experiment === 'fs-seed' && run.artifacts === 2 && run.metric_points === 81)).toBe(true);

    for (const original of originals) {
      const entry = report.runs.find((run) => run.mlflow_run_id === original.run_id)!;
      expect(entry).toBeDefined();
      const detail = await client.getRun(entry.run_id);
      expect(detail.run.name).toBe(original.name);
      expect(detail.run.experiment).toBe('fs-seed');
      expect(detail.run.status).toBe(original.status.toLowerCase());
      expect(Date.parse(detail.run.start_time)).toBe(original.start_time);
      expect(detail.run.end_time === null ? null : Date.parse(detail.run.end_time)).toBe(original.end_time);
      expect(Object.fromEntries(detail.params.map((p) => [p.key, p.value]))).toEqual(original.params);
      expect(detail.tags).toEqual({ ...original.tags, 'opsbook.mlflow_run_id': original.run_id });
      const parent = original.tags['mlflow.parentRunId'];
      expect(detail.parent_run_id).toBe(parent ? report.runs.find((run) => run.mlflow_run_id === parent)!.run_id : null);
      const history = await client.metricHistory(entry.run_id, { max_points: 100_000, x: 'time' });
      const points = history.series.flatMap((s) =>
        s.steps.map((step, i) => `${s.key}|${step}|${s.values[i] === null ? 'NaN' : String(s.values[i])}|${s.timestamps![i]}`),
      );
      expect(points.sort()).toEqual(original.points.map(([key, step, value, time]) => `${key}|${step}|${value === null ? 'NaN' : String(value)}|${time}`).sort());
      expect((await client.listArtifacts(entry.run_id)).artifacts.map((a) => a.name)).toEqual(original.artifacts);
      const index = ['parent', 'child', 'still-running'].indexOf(original.name);
      expect(await (await client.artifactContent(entry.run_id, 'summary.txt')).text()).toBe(`run ${index}\n`);
      expect(await (await client.artifactContent(entry.run_id, 'plots/curve.csv')).text()).toBe('step,loss\n0,1\n');
    }
    expect(originals.map((run) => run.status).sort()).toEqual(['FAILED', 'FINISHED', 'RUNNING']);
    expect((await client.listRuns({})).runs).toHaveLength(3);

    // Importing again copies nothing; a file: URI and --experiment work too.
    const again = await opsbook(['runs', 'import-mlflow', `file://${mlruns}`, '--experiment', 'fs-seed', '--workspace', workspace, '--json'], env);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ copied: 0, skipped: 3 });
    const deleted = await opsbook(['runs', 'import-mlflow', mlruns, '--experiment', 'fs-gone', '--workspace', workspace, '--json'], env);
    expect(deleted.code).toBe(2);
    expect(JSON.parse(deleted.stdout).error.message).toBe(`the mlruns folder ${mlruns} has no experiment named "fs-gone"`);
  }, 240_000);

  it('refuses a folder that is not an mlruns folder, and export to a folder, with exit 2 and one line', async () => {
    const workspace = folder('opsbook-fs-ws-');
    const runtime = folder('opsbook-fs-rt-');
    const daemon = await startDaemon({ workspace, runtimeDir: runtime });
    daemons.push(daemon);
    const env = { ...process.env, JUPYTER_RUNTIME_DIR: runtime };
    const empty = folder('opsbook-not-mlruns-');
    writeFileSync(join(empty, 'notes.txt'), 'hello');
    mkdirSync(join(empty, '.trash'));
    mkdirSync(join(empty, 'sub'));
    for (const args of [[empty], [empty, '--json']]) {
      const refused = await opsbook(['runs', 'import-mlflow', ...args, '--workspace', workspace], env);
      expect(refused.code).toBe(2);
      const message = args.includes('--json') ? (JSON.parse(refused.stdout) as { error: { message: string } }).error.message : refused.stderr;
      expect(message).toContain(`${JSON.stringify(empty)} is not a local mlruns folder (MLflow's file store): it holds no experiment folder with a meta.yaml`);
      if (!args.includes('--json')) expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    }
    const exported = await opsbook(['runs', 'export-mlflow', empty, '--workspace', workspace], env);
    expect(exported.code).toBe(2);
    expect(exported.stderr).toContain('export-mlflow writes only to an MLflow tracking server, not to a local mlruns folder');
  }, 60_000);

  it('reads run statuses written as numbers or names, and skips deleted runs and .trash', async () => {
    const root = folder('opsbook-mlruns-hand-');
    const write = (path: string, text: string): void => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    write('7/meta.yaml', "experiment_id: '7'\nname: hand\nlifecycle_stage: active\n");
    write('9/meta.yaml', "experiment_id: '9'\nname: gone\nlifecycle_stage: deleted\n");
    write('.trash/3/meta.yaml', "experiment_id: '3'\nname: trashed\nlifecycle_stage: deleted\n");
    const statuses: [string, string][] = [
      ['1', 'RUNNING'],
      ['2', 'SCHEDULED'],
      ['3', 'FINISHED'],
      ['4', 'FAILED'],
      ['5', 'KILLED'],
      ['KILLED', 'KILLED'],
      ['FINISHED', 'FINISHED'],
    ];
    statuses.forEach(([written], i) => {
      write(`7/r${i}/meta.yaml`, `run_id: r${i}\nexperiment_id: '7'\nstatus: ${written}\nstart_time: ${1000 + i}\nend_time: null\nlifecycle_stage: active\n`);
    });
    write('7/rd/meta.yaml', "run_id: rd\nexperiment_id: '7'\nstatus: 3\nstart_time: 1\nlifecycle_stage: deleted\n");
    write('7/r0/params/a/b', 'x y');
    write('7/r0/tags/mlflow.runName', 'named by tag');
    write('7/r0/metrics/loss', '10 0.5 0\n20 nan 1\n30 0.25\n');

    const reader = new FileStoreReader(root);
    expect(reader.baseUrl).toBe(`file://${root}`);
    expect((await reader.listExperiments()).map((e) => e.name)).toEqual(['hand']);
    const runs = await reader.searchRuns(['7'], { orderBy: ['attributes.start_time ASC'] });
    expect(runs.map((run) => run.info.run_id)).toEqual(statuses.map((_, i) => `r${i}`));
    expect(runs.map((run) => run.info.status)).toEqual(statuses.map(([, status]) => status));
    expect(runs[0].data.params).toEqual([{ key: 'a/b', value: 'x y' }]);
    expect(runs[0].data.tags).toEqual([{ key: 'mlflow.runName', value: 'named by tag' }]);
    expect(runs[0].info.end_time).toBeUndefined();
    expect(await reader.metricHistory('r0', 'loss')).toEqual([
      { key: 'loss', timestamp: 10, value: 0.5, step: 0 },
      { key: 'loss', timestamp: 20, value: Number.NaN, step: 1 },
      { key: 'loss', timestamp: 30, value: 0.25, step: 0 },
    ]);
    expect(() => new FileStoreReader(join(root, '7'))).toThrow(FileStoreError);
    expect(() => new FileStoreReader(join(root, 'missing'))).toThrow(/is not a folder/);
  });
});
