import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaValidator, type ExplainProgress, type Explanation } from '@opsbook/schema';
import { OpsbookApiError, OpsbookClient } from '../client/client';
import { followEvents } from '../client/events';
import { linearModelBytes } from '../explain/testing';
import { startDaemon, type RunningDaemon } from './daemon';
import { refusal, until } from './testing';

const validator = new SchemaValidator();
const WEIGHTS = [1, -2, 0.5, 3];
const BIAS = 0.25;
const NAMES = ['a', 'b', 'c', 'd'];



/** Rows of the CSV the tests explain: columns in another order than the model's, and one extra. */
function table(rows: number): string {
  const lines = ['d,extra,b,a,c'];
  for (let i = 0; i < rows; i++) lines.push([(i * 13) % 11, 'x', i % 3, i % 7, i % 5].join(','));
  return `${lines.join('\n')}\n`;
}

/**
 * The explanation service on a real daemon, with a real ONNX model (Y = X·W + b) in onnxruntime: a
 * linear model's exact SHAP values are w_j·(x_j − mean_j), which KernelSHAP must reproduce.
 */
describe('POST /explain on a real daemon', () => {
  let workspace: string;
  let runtime: string;
  let daemon: RunningDaemon;
  let client: OpsbookClient;
  let runId: string;

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-explain-'));
    runtime = mkdtempSync(join(tmpdir(), 'opsbook-explain-runtime-'));
    mkdirSync(join(workspace, 'models'));
    writeFileSync(join(workspace, 'models', 'linear.onnx'), linearModelBytes(WEIGHTS, BIAS));
    writeFileSync(join(workspace, 'rows.csv'), table(40));
    writeFileSync(join(workspace, 'ordered.csv'), `a,b,c,d\n${Array.from({ length: 30 }, (_, i) => [i % 7, i % 3, i % 5, (i * 13) % 11].join(',')).join('\n')}\n`);
    writeFileSync(join(workspace, 'not-a-model.onnx'), 'this is text, not a protobuf\n');
    daemon = await startDaemon({ workspace, port: 0, runtimeDir: runtime, validateResponses: true });
    client = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token });
    const run = await client.createRun({ experiment: 'explain' });
    runId = run.id;
    await client.uploadArtifact(runId, 'model/linear.onnx', linearModelBytes(WEIGHTS, BIAS), { kind: 'model' });
    await client.registerModelVersion('linear', {
      run_id: runId,
      artifact: 'model/linear.onnx',
      flavor: 'onnx',
      signature: { inputs: [{ name: 'X', dtype: 'float32', shape: [null, 4] }], outputs: [], feature_names: NAMES },
    });
  });
  afterAll(async () => {
    await daemon?.close();
    rmSync(workspace, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });

  it('explains a registry model by feature name, exactly for a linear model, and records it on the model run', async () => {
    const explanation = (await client.explainModel({ model: 'linear', data: { path: 'rows.csv' }, rows: '2:12', method: 'kernel', artifact_name: 'first' })) as Explanation;
    expect(validator.check('explanation.schema.json', explanation)).toBeNull();
    expect(explanation.feature_names).toEqual(NAMES);
    expect(explanation.rows).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(explanation.model).toMatchObject({ ref: 'linear', name: 'linear', version: 1, run_id: runId, kind: 'other' });
    // The background is the data itself (40 rows, no k-means below 100): its means by feature.
    const rows = Array.from({ length: 40 }, (_, i) => ({ a: i % 7, b: i % 3, c: i % 5, d: (i * 13) % 11 }));
    const mean = NAMES.map((name) => rows.reduce((s, r) => s + r[name as keyof (typeof rows)[0]], 0) / rows.length);
    explanation.values.forEach((values, r) => {
      const x = explanation.features[r] as number[];
      expect(x).toEqual(NAMES.map((name) => rows[r + 2][name as keyof (typeof rows)[0]]));
      values.forEach((v, j) => expect(v).toBeCloseTo(WEIGHTS[j] * (x[j] - mean[j]), 4));
      const prediction = x.reduce((s, xj, j) => s + WEIGHTS[j] * xj, BIAS);
      expect(explanation.predictions![r]).toBeCloseTo(prediction, 4);
      expect(explanation.base_values[r] + values.reduce((s, v) => s + v, 0)).toBeCloseTo(prediction, 5);
    });
    expect(explanation).toMatchObject({ run_id: runId, artifact: 'explanations/first.json' });
    const artifacts = (await client.listArtifacts(runId)).artifacts.map((a) => a.name);
    expect(artifacts).toContain('explanations/first.json');
  });

  it('takes a path model, its columns in order, and records nothing for it', async () => {
    const explanation = (await client.explainModel({ model: 'models/linear.onnx', data: { path: 'ordered.csv' }, rows: '0', method: 'lime', seed: 3 })) as Explanation;
    expect(validator.check('explanation.schema.json', explanation)).toBeNull();
    expect(explanation.method).toBe('lime');
    expect(explanation.lime).toHaveLength(1);
    expect(explanation.lime![0].weights[0].feature).toBe('d');
    expect(explanation.run_id).toBeUndefined();
    expect(explanation.artifact).toBeUndefined();
  });

  it('matches the columns by name to a model with one input per column', async () => {
    writeFileSync(join(workspace, 'models', 'columns.onnx'), linearModelBytes(WEIGHTS, BIAS, NAMES));
    const explanation = (await client.explainModel({ model: 'models/columns.onnx', data: { path: 'rows.csv' }, rows: '0:5', method: 'kernel' })) as Explanation;
    expect(explanation.feature_names).toEqual(NAMES);
    explanation.values.forEach((values, r) => {
      const x = explanation.features[r] as number[];
      const prediction = x.reduce((sum, xj, j) => sum + WEIGHTS[j] * xj, BIAS);
      expect(explanation.base_values[r] + values.reduce((sum, v) => sum + v, 0)).toBeCloseTo(prediction, 5);
    });
    writeFileSync(join(workspace, 'short-columns.csv'), 'a,b,c,e\n1,2,3,4\n');
    expect(await refusal(client.explainModel({ model: 'models/columns.onnx', data: { path: 'short-columns.csv' } }))).toMatchObject({
      status: 400,
      message: expect.stringContaining('"d"'),
    });
  });

  it('refuses bad input with 400 naming what is wrong', async () => {
    expect(await refusal(client.explainModel({ model: 'not-a-model.onnx', data: { path: 'rows.csv' } }))).toMatchObject({
      status: 400,
      field: 'model',
      message: expect.stringContaining('not a readable ONNX model'),
    });
    expect(await refusal(client.explainModel({ model: 'linear', data: { path: 'rows.csv' }, method: 'tree' }))).toMatchObject({
      status: 400,
      field: 'method',
      message: expect.stringContaining('--method kernel'),
    });
    writeFileSync(join(workspace, 'short.csv'), 'a,b,c\n1,2,3\n');
    expect(await refusal(client.explainModel({ model: 'linear', data: { path: 'short.csv' } }))).toMatchObject({
      status: 400,
      message: expect.stringContaining('"d"'),
    });
    expect(await refusal(client.explainModel({ model: 'models/linear.onnx', data: { path: 'rows.csv' } }))).toMatchObject({
      status: 400,
      message: expect.stringContaining('has 5 columns; the model takes 4'),
    });
    expect(await refusal(client.explainModel({ model: 'linear', data: { path: 'rows.csv' }, rows: '500:' }))).toMatchObject({ status: 400, field: 'rows' });
    expect(await refusal(client.explainModel({ model: 'linear', data: { path: 'rows.csv' }, output: 'nope' }))).toMatchObject({ status: 400, field: 'output' });
    expect((await refusal(client.explainModel({ model: 'nothing', data: { path: 'rows.csv' } }))).status).toBe(404);
  });

  it('reports progress as event: explain, and cancels through DELETE with 409', async () => {
    writeFileSync(join(workspace, 'many.csv'), table(3000));
    const progress: ExplainProgress[] = [];
    const followed = followEvents(client, { onEvent: () => undefined, onExplain: (event) => progress.push(event.data) });
    try {
      await client.explainModel({ model: 'linear', data: { path: 'many.csv' }, rows: '0:3', method: 'kernel', job_id: 'small', record: false });
      await until(() => progress.some((p) => p.job_id === 'small' && p.phase === 'done'));
      const small = progress.filter((p) => p.job_id === 'small');
      for (const event of small) expect(validator.check('explain-request.schema.json#/$defs/ExplainProgress', event)).toBeNull();
      expect(small.map((p) => p.phase)).toEqual(expect.arrayContaining(['load', 'explain', 'done']));

      const pending = client.explainModel({ model: 'linear', data: { path: 'many.csv' }, rows: '0:3000', method: 'lime', nsamples: 20_000, job_id: 'big', record: false });
      const outcome = pending.then(
        () => 'finished',
        (reason: unknown) => reason,
      );
      await until(() => progress.some((p) => p.job_id === 'big' && p.phase === 'explain'));
      expect(await client.cancelExplainJob('big')).toEqual({ job_id: 'big', cancelled: true });
      const error = await outcome;
      expect(error).toBeInstanceOf(OpsbookApiError);
      expect((error as OpsbookApiError).status).toBe(409);
      await until(() => progress.some((p) => p.job_id === 'big' && p.phase === 'cancelled'));
      expect(await client.cancelExplainJob('big')).toEqual({ job_id: 'big', cancelled: false });
    } finally {
      followed.close();
      await followed.closed;
    }
  });
});
