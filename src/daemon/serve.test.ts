import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaValidator, type Endpoint, type InferenceRequest, type ServeEvent } from '@opsbook/schema';
import { OpsbookClient } from '../client/client';
import { followEvents, type FollowedEvents } from '../client/events';
import { BUILT_CLI } from '../cli/testing';
import { linearModelBytes } from '../explain/testing';
import { findDaemon, startDaemon, type RunningDaemon } from './daemon';
import { endpointName, servedNameOf, zerosRequest } from './serve-endpoints';
import { refusal, until } from './testing';

const validator = new SchemaValidator();
const WEIGHTS = [1, -2, 0.5, 3];
const BIAS = 0.25;
/** The sample row log_model writes beside the model (`<stem>.sample.json`): an InferenceRequest. */
const SAMPLE: InferenceRequest = { inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] };

/** Whether a process of that id exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function predict(row: number[]): number {
  return row.reduce((s, x, j) => s + x * WEIGHTS[j], BIAS);
}

describe('endpoint naming', () => {
  it('makes a DNS label of a served model name', () => {
    expect(endpointName('Churn_Model.v2')).toBe('churn-model-v2');
    expect(endpointName('--x--')).toBe('x');
    expect(endpointName('_')).toBe('endpoint');
    expect(endpointName('a'.repeat(100))).toHaveLength(63);
  });

  it('serves a file under its stem, with what a served name cannot hold replaced', () => {
    expect(servedNameOf('/models/Churn Model.onnx')).toBe('Churn-Model');
    expect(servedNameOf('/models/_tmp.v2.onnx')).toBe('tmp.v2');
    expect(servedNameOf('/models/__.onnx')).toBe('model');
  });

  it('fills a test request with zeros of the input shapes', () => {
    expect(zerosRequest([{ name: 'X', datatype: 'FP32', shape: [-1, 3] }, { name: 'flag', datatype: 'BOOL', shape: [-1] }])).toEqual({
      inputs: [
        { name: 'X', datatype: 'FP32', shape: [1, 3], data: [0, 0, 0] },
        { name: 'flag', datatype: 'BOOL', shape: [1], data: [false] },
      ],
    });
    expect(zerosRequest([{ name: 'image', datatype: 'FP32', shape: [-1, 3, 224, 224] }])).toBeNull();
  });
});

/**
 * The daemon's serving operations on a real daemon: each endpoint is a real `opsbook serve
 * --foreground` process (the built CLI) on a real port, serving real ONNX models in onnxruntime.
 */
describe('POST /serve and /serve/endpoints on a real daemon', () => {
  let workspace: string;
  let runtime: string;
  let daemon: RunningDaemon;
  let client: OpsbookClient;
  let runId: string;
  let followed: FollowedEvents;
  const events: ServeEvent[] = [];
  const pids: number[] = [];

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-serve-'));
    runtime = mkdtempSync(join(tmpdir(), 'opsbook-serve-runtime-'));
    mkdirSync(join(workspace, 'models'));
    writeFileSync(join(workspace, 'models', 'linear.onnx'), linearModelBytes(WEIGHTS, BIAS));
    writeFileSync(join(workspace, 'models', 'broken.onnx'), 'this is text, not a protobuf\n');
    writeFileSync(join(workspace, 'models', 'table.csv'), 'a,b\n1,2\n');
    daemon = await startDaemon({ workspace, port: 0, runtimeDir: runtime, validateResponses: true, cliEntry: BUILT_CLI });
    client = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token });
    const run = await client.createRun({ experiment: 'serve' });
    runId = run.id;
    await client.uploadArtifact(runId, 'model/churn.onnx', linearModelBytes(WEIGHTS, BIAS), { kind: 'model' });
    await client.uploadArtifact(runId, 'model/churn.sample.json', JSON.stringify(SAMPLE), { media_type: 'application/json' });
    await client.registerModelVersion('Churn', {
      run_id: runId,
      artifact: 'model/churn.onnx',
      flavor: 'onnx',
      signature: { inputs: [{ name: 'X', dtype: 'float32', shape: [null, 4] }], outputs: [], feature_names: null },
    });
    // The model's run has ended, as it has after log_model: endpoints are still recorded on it.
    await client.updateRun(runId, { status: 'finished' });
    let opened = false;
    followed = followEvents(client, { onEvent: () => undefined, onServe: (event) => events.push(event.data), onOpen: () => (opened = true) });
    await until(() => opened);
  });
  afterAll(async () => {
    followed?.close();
    await followed?.closed;
    await daemon?.close();
    // No server outlives its daemon.
    for (const pid of pids) expect(alive(pid)).toBe(false);
    rmSync(workspace, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });

  it('refuses bad models, hosts and names before any process starts, naming the field', async () => {
    expect(await refusal(client.startEndpoint({ models: [{ model: 'nobody' }] }))).toMatchObject({ status: 404, field: 'models/0/model', value: 'nobody' });
    expect(await refusal(client.startEndpoint({ models: [{ model: 'models/missing.onnx' }] }))).toMatchObject({ status: 404, field: 'models/0/model' });
    expect(await refusal(client.startEndpoint({ models: [{ model: 'models/linear.onnx' }, { model: 'models/table.csv' }] }))).toMatchObject({
      status: 400,
      field: 'models/1/model',
    });
    expect(await refusal(client.startEndpoint({ models: [{ model: 'models/linear.onnx' }], host: '0.0.0.0' }))).toMatchObject({ status: 400, field: 'host' });
    expect(await refusal(client.startEndpoint({ models: [{ model: 'models/linear.onnx' }, { model: 'Churn', name: 'linear' }] }))).toMatchObject({
      status: 400,
      field: 'models/1/name',
    });
    expect(await refusal(client.startEndpoint({ name: 'Not A Label', models: [{ model: 'models/linear.onnx' }] }))).toMatchObject({ status: 400 });
    expect((await client.listEndpoints()).endpoints).toEqual([]);
    for (const pending of [client.getEndpoint('nobody'), client.stopEndpoint('nobody'), client.endpointLogs('nobody'), client.testEndpoint('nobody', { model: 'm', request: SAMPLE })]) {
      expect(await refusal(pending)).toMatchObject({ status: 404, field: 'name', value: 'nobody' });
    }
  });

  it('serves a registry model: ready, inferred through the daemon, traffic as event: serve, logs, 409 for its name, recorded on its run, stopped', async () => {
    const endpoint = (await client.startEndpoint({ models: [{ model: 'Churn' }], workers: 1 })) as Endpoint;
    pids.push(endpoint.pid!);
    expect(validator.check('endpoint.schema.json', endpoint)).toBeNull();
    expect(endpoint).toMatchObject({ name: 'churn', status: 'ready', host: '127.0.0.1', device: 'cpu', error: null });
    expect(endpoint.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(endpoint.port).toBe(Number(new URL(endpoint.url!).port));
    expect(endpoint.request_log_dir).toBe(join(workspace, '.opsbook', 'serving', 'churn', 'requests'));
    expect(endpoint.models).toEqual([
      {
        name: 'Churn',
        version: '1',
        model: 'Churn',
        path: expect.stringMatching(/churn\.onnx$/) as unknown,
        run_id: runId,
        ready: true,
        error: null,
        inputs: [{ name: 'X', datatype: 'FP32', shape: [-1, 4] }],
        outputs: [{ name: 'Y', datatype: 'FP32', shape: [-1, 1] }],
        sample_request: SAMPLE,
      },
    ]);
    expect(alive(endpoint.pid!)).toBe(true);
    // The key-less config as started; never the key.
    expect(endpoint.config).toMatchObject({ name: 'churn', workers: 1, models: [{ model: 'Churn', name: 'Churn', version: '1', run_id: runId }] });

    // The server answers directly, and through the daemon's test operation.
    const direct = await fetch(`${endpoint.url}/v2/models/Churn/versions/1/infer`, { method: 'POST', body: JSON.stringify(SAMPLE) });
    expect(direct.status).toBe(200);
    const tested = await client.testEndpoint('churn', { model: 'Churn', version: '1', request: { ...SAMPLE, id: 'first' } });
    expect(validator.check('endpoint.schema.json#/$defs/EndpointTestAnswer', tested)).toBeNull();
    expect(tested.status).toBe(200);
    expect(tested.latency_ms).toBeGreaterThan(0);
    const body = tested.body as unknown as { id?: string; outputs: { name: string; data: number[] }[] };
    expect(body.id).toBe('first');
    expect(body.outputs[0].name).toBe('Y');
    expect(body.outputs[0].data[0]).toBeCloseTo(predict([1, 2, 3, 4]), 5);
    // A request the server refuses comes back as its answer, not as the daemon's error.
    const refused = await client.testEndpoint('churn', { model: 'Churn', request: { inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] } });
    expect(refused.status).toBe(400);
    expect(typeof (refused.body as { error?: unknown }).error).toBe('string');
    const unknown = await client.testEndpoint('churn', { model: 'nobody', request: SAMPLE });
    expect(unknown.status).toBe(404);

    // The server reports its traffic (every second while it has some); the daemon passes it on.
    await until(() => events.some((e) => e.endpoint === 'churn' && (e.stats?.requests ?? 0) >= 2));
    for (const event of events) expect(validator.check('endpoint.schema.json#/$defs/ServeEvent', event)).toBeNull();
    expect(events.filter((e) => e.endpoint === 'churn').map((e) => e.status).slice(0, 2)).toEqual(['starting', 'ready']);
    const shown = await client.getEndpoint('churn');
    expect(shown.stats?.requests).toBeGreaterThanOrEqual(2);
    expect((await client.listEndpoints()).endpoints.map((e) => [e.name, e.status])).toEqual([['churn', 'ready']]);

    const logs = await client.endpointLogs('churn', 1000);
    expect(validator.check('endpoint.schema.json#/$defs/EndpointLogs', logs)).toBeNull();
    const logEvents = logs.lines.map((line) => (line as { event?: string }).event);
    expect(logEvents).toEqual(expect.arrayContaining(['listening', 'model', 'ready', 'stats']));
    expect((await client.endpointLogs('churn', 2)).lines).toHaveLength(2);
    expect(JSON.stringify(logs)).not.toContain('Bearer');

    expect(await refusal(client.startEndpoint({ models: [{ model: 'models/linear.onnx' }], name: 'churn' }))).toMatchObject({ status: 409, field: 'name', value: 'churn' });

    const recorded = JSON.parse(await (await client.artifactContent(runId, 'endpoints/churn.json')).text()) as Endpoint;
    expect(validator.check('endpoint.schema.json', recorded)).toBeNull();
    expect(recorded).toMatchObject({ name: 'churn', status: 'ready', url: endpoint.url });

    const stopped = await client.stopEndpoint('churn');
    expect(validator.check('endpoint.schema.json', stopped)).toBeNull();
    expect(stopped).toMatchObject({ name: 'churn', status: 'stopped', error: null });
    expect(stopped.stopped_at).not.toBeNull();
    expect(alive(endpoint.pid!)).toBe(false);
    expect(events.filter((e) => e.endpoint === 'churn').map((e) => e.status).slice(-2)).toEqual(['stopping', 'stopped']);
    const after = JSON.parse(await (await client.artifactContent(runId, 'endpoints/churn.json')).text()) as Endpoint;
    expect(after.status).toBe('stopped');
    // Stopped, it answers as it is; its logs stay; test requests are refused; its name is free again.
    expect((await client.stopEndpoint('churn')).status).toBe('stopped');
    expect((await client.endpointLogs('churn')).lines.some((line) => (line as { event?: string }).event === 'stopped')).toBe(true);
    expect(await refusal(client.testEndpoint('churn', { model: 'Churn', request: SAMPLE }))).toMatchObject({ status: 409, field: 'name' });
  });

  it('keeps serving the good model next to one that fails to load, and says why the other failed', async () => {
    const endpoint = (await client.startEndpoint({ name: 'mixed', models: [{ model: 'models/linear.onnx' }, { model: 'models/broken.onnx' }], workers: 1, request_log: false })) as Endpoint;
    pids.push(endpoint.pid!);
    expect(endpoint.status).toBe('ready');
    expect(endpoint.request_log_dir).toBeNull();
    const [good, bad] = endpoint.models;
    expect(good).toMatchObject({ name: 'linear', version: '1', ready: true, error: null, run_id: null });
    // No logged sample for a bare file: the test form starts from zeros of the input shape.
    expect(good.sample_request).toEqual({ inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 4], data: [0, 0, 0, 0] }] });
    expect(bad).toMatchObject({ name: 'broken', ready: false, inputs: [] });
    expect(bad.error).toEqual(expect.any(String));
    const fine = await client.testEndpoint('mixed', { model: 'linear', request: SAMPLE });
    expect(fine.status).toBe(200);
    const failed = await client.testEndpoint('mixed', { model: 'broken', request: SAMPLE });
    expect(failed.status).toBe(400);
    expect((failed.body as unknown as { error: string }).error).toContain('broken');
    expect((await client.stopEndpoint('mixed')).status).toBe('stopped');
  });

  it('gives the API key to the server through its environment only, and sends it with test requests', async () => {
    const key = 'k'.repeat(12) + '-secret-key';
    const endpoint = (await client.startEndpoint({ name: 'keyed', models: [{ model: 'models/linear.onnx' }], api_key: key, workers: 1, request_log: false })) as Endpoint;
    pids.push(endpoint.pid!);
    expect(endpoint.status).toBe('ready');
    expect(JSON.stringify(endpoint)).not.toContain(key);
    expect(readFileSync(join(workspace, '.opsbook', 'serving', 'keyed', 'config.json'), 'utf8')).not.toContain(key);
    expect(JSON.stringify(await client.endpointLogs('keyed', 1000))).not.toContain(key);
    const anonymous = await fetch(`${endpoint.url}/v2/models/linear/infer`, { method: 'POST', body: JSON.stringify(SAMPLE) });
    expect(anonymous.status).toBe(401);
    expect((await client.testEndpoint('keyed', { model: 'linear', request: SAMPLE })).status).toBe(200);
    expect((await client.stopEndpoint('keyed')).status).toBe('stopped');
  });

  it('marks an endpoint failed, saying why, when its server dies on its own', async () => {
    const endpoint = (await client.startEndpoint({ name: 'fragile', models: [{ model: 'models/linear.onnx' }], workers: 1, request_log: false })) as Endpoint;
    pids.push(endpoint.pid!);
    process.kill(endpoint.pid!, 'SIGKILL');
    await until(() => events.some((e) => e.endpoint === 'fragile' && e.status === 'failed'));
    const failed = await client.getEndpoint('fragile');
    expect(failed).toMatchObject({ status: 'failed', error: 'the server was killed by SIGKILL' });
    expect(failed.stopped_at).not.toBeNull();
    expect(await refusal(client.testEndpoint('fragile', { model: 'linear', request: SAMPLE }))).toMatchObject({ status: 409 });
    // Its name is free again.
    const again = await client.startEndpoint({ name: 'fragile', models: [{ model: 'models/linear.onnx' }], workers: 1, request_log: false });
    pids.push(again.pid!);
    expect(again.status).toBe('ready');
    expect((await client.stopEndpoint('fragile')).status).toBe('stopped');
  });

  it('answers 400 and marks the endpoint failed when no model loads', async () => {
    const refused = await refusal(client.startEndpoint({ name: 'hopeless', models: [{ model: 'models/broken.onnx' }], workers: 1 }));
    expect(refused.status).toBe(400);
    expect(refused.message).toContain('hopeless');
    const endpoint = await client.getEndpoint('hopeless');
    expect(endpoint.status).toBe('failed');
    expect(endpoint.error).toEqual(expect.any(String));
    expect(alive(endpoint.pid!)).toBe(false);
    expect(events.filter((e) => e.endpoint === 'hopeless').map((e) => e.status)).toEqual(['starting', 'failed']);
  });

  it('answers 409 naming the port when it is taken', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
    const { port } = taken.address() as { port: number };
    try {
      const refused = await refusal(client.startEndpoint({ name: 'clash', models: [{ model: 'models/linear.onnx' }], port, workers: 1 }));
      expect(refused).toMatchObject({ status: 409, field: 'port', value: port });
      expect((await client.getEndpoint('clash')).status).toBe('failed');
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  it('stops every endpoint when the daemon stops: no server outlives it', async () => {
    const other = mkdtempSync(join(tmpdir(), 'opsbook-serve-close-'));
    const otherRuntime = mkdtempSync(join(tmpdir(), 'opsbook-serve-close-runtime-'));
    writeFileSync(join(other, 'linear.onnx'), linearModelBytes(WEIGHTS, BIAS));
    const second = await startDaemon({ workspace: other, port: 0, runtimeDir: otherRuntime, cliEntry: BUILT_CLI });
    try {
      const secondClient = new OpsbookClient({ baseUrl: second.info.url, token: second.token });
      const endpoint = await secondClient.startEndpoint({ models: [{ model: 'linear.onnx' }], workers: 1 });
      expect(endpoint.status).toBe('ready');
      expect(alive(endpoint.pid!)).toBe(true);
      await second.close();
      expect(alive(endpoint.pid!)).toBe(false);
      const answer = await fetch(`${endpoint.url}/v2/health/live`).then(
        () => 'answered',
        () => 'refused',
      );
      expect(answer).toBe('refused');
    } finally {
      await second.close();
      rmSync(other, { recursive: true, force: true });
      rmSync(otherRuntime, { recursive: true, force: true });
    }
  });
});

describe('a server that is not ready in time', () => {
  it('is killed and marked failed, and its start answers 503', async () => {
    const workspace = mkdtempSync(join(tmpdir(), 'opsbook-serve-slow-'));
    const runtime = mkdtempSync(join(tmpdir(), 'opsbook-serve-slow-runtime-'));
    writeFileSync(join(workspace, 'linear.onnx'), linearModelBytes(WEIGHTS, BIAS));
    // No process starts, loads a model and answers within a millisecond.
    const daemon = await startDaemon({ workspace, port: 0, runtimeDir: runtime, cliEntry: BUILT_CLI, serveStartTimeoutMs: 1 });
    try {
      const client = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token });
      const refused = await refusal(client.startEndpoint({ models: [{ model: 'linear.onnx' }], workers: 1 }));
      expect(refused).toMatchObject({ status: 503, message: 'endpoint "linear": the server was not ready within 0.001 s' });
      const endpoint = await client.getEndpoint('linear');
      expect(endpoint).toMatchObject({ status: 'failed', error: 'the server was not ready within 0.001 s' });
      await until(() => !alive(endpoint.pid!));
    } finally {
      await daemon.close();
      rmSync(workspace, { recursive: true, force: true });
      rmSync(runtime, { recursive: true, force: true });
    }
  });
});

describe('a daemon killed outright', () => {
  it('takes its servers with it: each drains and exits when the daemon is gone', async () => {
    const workspace = mkdtempSync(join(tmpdir(), 'opsbook-serve-orphan-'));
    const runtime = mkdtempSync(join(tmpdir(), 'opsbook-serve-orphan-runtime-'));
    writeFileSync(join(workspace, 'linear.onnx'), linearModelBytes(WEIGHTS, BIAS));
    // A daemon in its own process (as the CLI and the kernels start it), so it can be killed with SIGKILL.
    const daemonProcess = spawn(process.execPath, [BUILT_CLI, 'daemon', '--workspace', workspace], {
      env: { ...process.env, JUPYTER_RUNTIME_DIR: runtime },
      stdio: 'ignore',
    });
    let serverPid: number | undefined;
    try {
      let found: Awaited<ReturnType<typeof findDaemon>> = null;
      await until(() => {
        void findDaemon(workspace, runtime).then((answer) => (found = answer));
        return found !== null;
      });
      const remote = new OpsbookClient({ baseUrl: found!.info.url, token: found!.token });
      const endpoint = await remote.startEndpoint({ models: [{ model: 'linear.onnx' }], workers: 1, request_log: false });
      serverPid = endpoint.pid!;
      expect(alive(serverPid)).toBe(true);
      daemonProcess.kill('SIGKILL');
      await until(() => !alive(serverPid!));
    } finally {
      daemonProcess.kill('SIGKILL');
      if (serverPid !== undefined && alive(serverPid)) process.kill(serverPid, 'SIGKILL');
      rmSync(workspace, { recursive: true, force: true });
      rmSync(runtime, { recursive: true, force: true });
    }
  });
});

