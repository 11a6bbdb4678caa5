/**
 * Conformance of the V2 REST server: a real server on a real port, real HTTP.
 *  - The HTTP layer against an Executor written here that computes y = 2·x (and one that fails,
 *    one that holds requests until released), for every endpoint and status code.
 *  - The whole server process (runForeground, the real Executor and onnxruntime) on ONNX models made
 *    by the venv's onnx: every datatype through an Identity model, an affine model with two outputs,
 *    a Reshape that onnxruntime fails on (500), and a file that is not a model.
 * No timed assertions.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { SchemaValidator } from '@opsbook/schema';
import { ConfigError, loadServeConfig, readServeConfig, resolveServeConfig } from './config';
import { runForeground } from './foreground';
import { ServingMetrics } from './metrics';
import { InferenceServer, type RequestSink } from './server';
import { InferenceFailure, type Executor, type InferResult, type LogFields, type RequestRecord, type ResolvedServeConfig, type ServedModel, type Tensor } from './types';

const KEY = 'k'.repeat(24);
const validator = SchemaValidator.shared();

/** An Executor computing y = factor·x on FP32 [-1, 2] inputs; `hold` keeps answers until released. */
class DoublingExecutor implements Executor {
  readonly device = 'cpu' as const;
  settled: Promise<void>;
  settle: () => void = () => undefined;
  held: (() => void)[] = [];
  hold = false;
  calls = 0;
  private readonly served: ServedModel[];

  constructor() {
    const spec = (name: string) => ({ name, datatype: 'FP32' as const, shape: [-1, 2] });
    const model = (name: string, version: string, ready = true, error: string | null = null): ServedModel => ({
      name, version, model: `${name}.onnx`, path: `/models/${name}.onnx`, device: 'cpu', ready, error,
      inputs: ready ? [spec('x')] : [], outputs: ready ? [spec('y'), spec('z')] : [], batchable: true,
    });
    this.served = [model('double', '1'), model('double', '2'), model('fails', '1'), model('broken', '1', false, 'Protobuf parsing failed')];
    this.settled = new Promise((resolve) => (this.settle = resolve));
  }

  models(): ServedModel[] {
    return this.served;
  }

  async infer(model: ServedModel, inputs: Tensor[], outputs?: string[]): Promise<InferResult> {
    this.calls++;
    if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
    if (model.name === 'fails') throw new InferenceFailure('onnxruntime failed: the kernel refused');
    const x = inputs[0].data as Float32Array;
    const factor = Number(model.version) + 1;
    const all: Tensor[] = [
      { name: 'y', datatype: 'FP32', shape: inputs[0].shape, data: x.map((v) => v * factor) },
      { name: 'z', datatype: 'FP32', shape: inputs[0].shape, data: x.map((v) => -v) },
    ];
    return { outputs: (outputs ?? ['y', 'z']).map((name) => all.find((t) => t.name === name) as Tensor), queueMs: 0.1, batchRows: inputs[0].shape[0] };
  }

  async close(): Promise<void> {}
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  json: unknown;
}

/** One request over node:http (headers as given, no client-side conveniences). */
function send(url: string, method: string, path: string, body?: string, headers: Record<string, string> = {}, agent?: Agent): Promise<Answer> {
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest(`${url}${path}`, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown = null;
        try {
          json = JSON.parse(text);
        } catch {
          json = null;
        }
        resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const infer = (x: number[][] | number[], shape = [x.length, 2], extra: Record<string, unknown> = {}) =>
  JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape, data: x }], ...extra });

function config(overrides: Partial<ResolvedServeConfig> = {}): ResolvedServeConfig {
  return { ...resolveServeConfig({ models: [{ model: '/models/double.onnx' }], request_log: false, workers: 1 }), ...overrides };
}

describe('the V2 REST server (HTTP layer)', () => {
  let executor: DoublingExecutor;
  let server: InferenceServer;
  let url: string;
  let records: RequestRecord[];
  const logs: LogFields[] = [];

  beforeEach(async () => {
    executor = new DoublingExecutor();
    records = [];
    const sink: RequestSink = { record: (r) => records.push(r) };
    server = new InferenceServer({ config: config({ body_limit_bytes: 4096 }), executor, metrics: new ServingMetrics(), log: (f) => logs.push(f), requestLog: sink });
    url = (await server.listen()).url;
  });
  afterEach(async () => {
    executor.hold = false;
    executor.held.forEach((release) => release());
    await server.drain();
  });

  test('health: live at once; ready only once the models settled', async () => {
    const live = await send(url, 'GET', '/v2/health/live');
    expect([live.status, live.json]).toEqual([200, { live: true }]);
    expect(live.headers['content-type']).toBe('application/json');
    const before = await send(url, 'GET', '/v2/health/ready');
    expect([before.status, before.json]).toEqual([400, { ready: false }]);
    executor.settle();
    await executor.settled;
    const after = await send(url, 'GET', '/v2/health/ready');
    expect([after.status, after.json]).toEqual([200, { ready: true }]);
    expect(validator.check('inference.schema.json#/$defs/HealthAnswer', after.json)).toBeNull();
  });

  test('server and model metadata, versions, readiness; unknown models are 404', async () => {
    executor.settle();
    const meta = await send(url, 'GET', '/v2');
    expect(meta.json).toEqual({ name: 'opsbook', version: expect.any(String), extensions: [] });
    expect(validator.check('inference.schema.json#/$defs/ServerMetadata', meta.json)).toBeNull();
    const model = await send(url, 'GET', '/v2/models/double');
    expect(model.status).toBe(200);
    expect(validator.check('inference.schema.json#/$defs/ModelMetadata', model.json)).toBeNull();
    expect(model.json).toMatchObject({ name: 'double', versions: ['1', '2'], platform: 'onnxruntime_onnx', inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 2] }], parameters: { device: 'cpu', ready: true, error: null } });
    const v1 = await send(url, 'GET', '/v2/models/double/versions/1');
    expect(v1.status).toBe(200);
    const broken = await send(url, 'GET', '/v2/models/broken');
    expect(broken.json).toMatchObject({ parameters: { ready: false, error: 'Protobuf parsing failed' } });
    const ready = await send(url, 'GET', '/v2/models/double/versions/2/ready');
    expect([ready.status, ready.json]).toEqual([200, { name: 'double', version: '2', ready: true }]);
    expect(validator.check('inference.schema.json#/$defs/ModelReady', ready.json)).toBeNull();
    const notReady = await send(url, 'GET', '/v2/models/broken/ready');
    expect([notReady.status, notReady.json]).toEqual([400, { name: 'broken', version: '1', ready: false }]);
    for (const path of ['/v2/models/nope', '/v2/models/double/versions/9', '/v2/models/nope/ready', '/v2/models/double/versions/9/ready']) {
      const missing = await send(url, 'GET', path);
      expect(missing.status).toBe(404);
      expect(validator.check('inference.schema.json#/$defs/InferenceError', missing.json)).toBeNull();
    }
  });

  test('infer: outputs, id echoed, parameters passed through, outputs selection, nested = flat, version routing', async () => {
    executor.settle();
    const answer = await send(url, 'POST', '/v2/models/double/versions/1/infer', infer([[1, 2], [3, 4.5]], [2, 2], { id: 'req-7', parameters: { tag: 'a', n: 3, flag: true } }), { 'content-type': 'application/json' });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(validator.check('inference.schema.json#/$defs/InferenceResponse', answer.json)).toBeNull();
    expect(answer.json).toEqual({
      model_name: 'double', model_version: '1', id: 'req-7', parameters: { tag: 'a', n: 3, flag: true },
      outputs: [{ name: 'y', datatype: 'FP32', shape: [2, 2], data: [2, 4, 6, 9] }, { name: 'z', datatype: 'FP32', shape: [2, 2], data: [-1, -2, -3, -4.5] }],
    });
    const flat = await send(url, 'POST', '/v2/models/double/versions/1/infer', infer([1, 2, 3, 4.5], [2, 2]));
    expect((flat.json as { outputs: unknown }).outputs).toEqual((answer.json as { outputs: unknown }).outputs);
    const selected = await send(url, 'POST', '/v2/models/double/versions/1/infer', infer([[1, 2]], [1, 2], { outputs: [{ name: 'z' }] }));
    expect(selected.json).toEqual({ model_name: 'double', model_version: '1', outputs: [{ name: 'z', datatype: 'FP32', shape: [1, 2], data: [-1, -2] }] });
    // Without a version: the highest one (2 triples).
    const latest = await send(url, 'POST', '/v2/models/double/infer', infer([[1, 2]], [1, 2], { outputs: [{ name: 'y' }] }));
    expect(latest.json).toMatchObject({ model_version: '2', outputs: [{ data: [3, 6] }] });
    const unknownOutput = await send(url, 'POST', '/v2/models/double/infer', infer([[1, 2]], [1, 2], { outputs: [{ name: 'w' }] }));
    expect(unknownOutput.status).toBe(400);
    expect((unknownOutput.json as { error: string }).error).toMatch(/output w is not an output of model double/);
  });

  test('bad requests are 400 {"error"} and never reach the executor', async () => {
    executor.settle();
    const bad = [
      '{"inputs": [',
      '[]',
      infer([[1, 2]], [1, 3]),
      infer([[1, 2]], [-1, 2]),
      infer([1, 2], [2 ** 40, 2]),
      infer([1, 2, 3], [1, 2]),
      JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP64', shape: [1, 2], data: [1, 2] }] }),
      JSON.stringify({ inputs: [{ name: 'q', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] }),
      JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 'NaN'] }] }),
      JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, true] }] }),
    ];
    for (const body of bad) {
      const answer = await send(url, 'POST', '/v2/models/double/versions/1/infer', body);
      expect([body, answer.status]).toEqual([body, 400]);
      expect(validator.check('inference.schema.json#/$defs/InferenceError', answer.json)).toBeNull();
    }
    expect(executor.calls).toBe(0);
    const failed = await send(url, 'POST', '/v2/models/broken/infer', infer([[1, 2]]));
    expect([failed.status, failed.json]).toEqual([400, { error: 'model broken failed to load: Protobuf parsing failed' }]);
    const unknown = await send(url, 'POST', '/v2/models/nope/infer', infer([[1, 2]]));
    expect(unknown.status).toBe(404);
  });

  test('an onnxruntime failure is a 500 with its message', async () => {
    executor.settle();
    const answer = await send(url, 'POST', '/v2/models/fails/infer', infer([[1, 2]]));
    expect([answer.status, answer.json]).toEqual([500, { error: 'onnxruntime failed: the kernel refused' }]);
  });

  test('wrong methods are 405 with Allow; unknown paths 404', async () => {
    const getInfer = await send(url, 'GET', '/v2/models/double/infer');
    expect([getInfer.status, getInfer.headers.allow]).toEqual([405, 'POST']);
    const postMeta = await send(url, 'POST', '/v2/models/double', '{}');
    expect([postMeta.status, postMeta.headers.allow]).toEqual([405, 'GET, HEAD']);
    expect((await send(url, 'DELETE', '/v2/health/live')).status).toBe(405);
    expect((await send(url, 'PUT', '/metrics')).status).toBe(405);
    for (const path of ['/', '/v1/models', '/v2/models', '/v2/models/double/versions', '/v2/models/double/explain', '/v2/health']) {
      const answer = await send(url, 'GET', path);
      expect([path, answer.status]).toEqual([path, 404]);
      expect(answer.json).toEqual({ error: expect.any(String) });
    }
  });

  test('the body limit: 413 from Content-Length before reading, and for a chunked body past it', async () => {
    executor.settle();
    const big = await rawExchange(url, `POST /v2/models/double/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{"inputs":`);
    expect(big).toMatch(/^HTTP\/1.1 413/);
    expect(big).toMatch(/larger than the limit of 4096 bytes/);
    expect(big.toLowerCase()).toMatch(/connection: close/);
    const chunk = `${(5000).toString(16)}\r\n${' '.repeat(5000)}\r\n`;
    const chunked = await rawExchange(url, `POST /v2/models/double/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}${chunk}`);
    expect(chunked).toMatch(/^HTTP\/1.1 413/);
    expect(chunked.toLowerCase()).toMatch(/connection: close/);
    // A client that keeps sending while the server refuses still reads the 413 (no reset eats it).
    for (let round = 0; round < 3; round++) {
      const part = Buffer.alloc(64 * 1024, 0x20);
      const pumped = await pumpExchange(url, 'POST /v2/models/double/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]), 80);
      expect(pumped).toMatch(/^HTTP\/1.1 413/);
    }
    // Under the limit, chunked bodies are read whole.
    const small = await rawExchange(url, `POST /v2/models/double/versions/1/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunkOf(infer([[1, 2]]))}0\r\n\r\n`);
    expect(small).toMatch(/^HTTP\/1.1 200/);
    expect(executor.calls).toBe(1);
  });

  test('keep-alive: requests share one connection', async () => {
    executor.settle();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const ports = new Set<number>();
    for (let i = 0; i < 5; i++) {
      const answer = await new Promise<number>((resolvePromise, reject) => {
        const req = httpRequest(`${url}/v2/models/double/versions/1/infer`, { method: 'POST', agent }, (res) => {
          ports.add(req.socket?.localPort ?? -1);
          res.resume();
          res.on('end', () => resolvePromise(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(infer([[i, i]]));
      });
      expect(answer).toBe(200);
    }
    expect(ports.size).toBe(1);
    agent.destroy();
  });

  test('the request log gets every answered inference', async () => {
    executor.settle();
    await send(url, 'POST', '/v2/models/double/versions/1/infer', infer([[1, 2]], [1, 2], { id: 'logged' }));
    await send(url, 'POST', '/v2/models/double/versions/1/infer', infer([[1, 2]], [1, 3]));
    expect(records).toHaveLength(2);
    expect(records[0]).toMatchObject({ model: 'double', version: '1', id: 'logged', status: 200, batch_rows: 1 });
    expect(JSON.parse(records[0].request)).toMatchObject({ id: 'logged' });
    expect(JSON.parse(records[0].response)).toMatchObject({ id: 'logged', outputs: [{ name: 'y' }, { name: 'z' }] });
    expect(records[1]).toMatchObject({ status: 400, id: null });
  });

  test('/metrics: the exposition format with the request counters, no key needed', async () => {
    executor.settle();
    await executor.settled;
    await send(url, 'POST', '/v2/models/double/versions/1/infer', infer([[1, 2]]));
    await send(url, 'POST', '/v2/models/double/versions/1/infer', infer([[1, 2]], [1, 3]));
    await send(url, 'POST', '/v2/models/nope/infer', infer([[1, 2]]));
    const metrics = await send(url, 'GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    expect(metrics.body).toContain('opsbook_requests_total{model="double",version="1",code="200"} 1');
    expect(metrics.body).toContain('opsbook_requests_total{model="double",version="1",code="400"} 1');
    expect(metrics.body).toContain('opsbook_requests_total{model="",version="",code="404"} 1');
    expect(metrics.body).toContain('opsbook_request_duration_seconds_count{model="double",version="1"} 2');
    expect(metrics.body).toContain('opsbook_model_ready{model="broken",version="1"} 0');
    expect(metrics.body).toContain('opsbook_device_info{device="cpu"} 1');
    expect(metrics.body).toContain('opsbook_in_flight_requests 0');
  });

  test('drain: not ready, in-flight requests answered, then the port is closed', async () => {
    executor.settle();
    executor.hold = true;
    const pending = send(url, 'POST', '/v2/models/double/versions/1/infer', infer([[5, 6]]));
    while (executor.held.length === 0) await new Promise((r) => setTimeout(r, 5));
    const drained = server.drain();
    expect(server.ready).toBe(false);
    executor.held.forEach((release) => release());
    const answer = await pending;
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ outputs: [{ data: [10, 12] }, { data: [-5, -6] }] });
    expect(answer.headers.connection).toBe('close');
    await drained;
    await expect(send(url, 'GET', '/v2/health/live')).rejects.toThrow(/ECONNREFUSED/);
  });
});

test('drain cuts a request whose body never finishes, after its time', async () => {
  const executor = new DoublingExecutor();
  executor.settle();
  const server = new InferenceServer({ config: config(), executor, metrics: new ServingMetrics(), log: () => undefined });
  const { url } = await server.listen();
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  const closed = new Promise<void>((r) => socket.on('close', () => r()));
  socket.on('error', () => undefined);
  socket.write('POST /v2/models/double/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"inputs":');
  await new Promise((r) => setTimeout(r, 100));
  await server.drain(200);
  await closed;
  expect(executor.calls).toBe(0);
});

describe('the API key', () => {
  let server: InferenceServer;
  let url: string;
  beforeAll(async () => {
    const executor = new DoublingExecutor();
    executor.settle();
    server = new InferenceServer({ config: config({ api_key: KEY }), executor, metrics: new ServingMetrics(), log: () => undefined });
    url = (await server.listen()).url;
    await executor.settled;
  });
  afterAll(() => server.drain());

  test('every V2 path but health needs it; Bearer or x-api-key; /metrics and health do not', async () => {
    for (const [method, path, body] of [['GET', '/v2'], ['GET', '/v2/models/double'], ['GET', '/v2/models/double/ready'], ['POST', '/v2/models/double/infer', infer([[1, 2]])]] as const) {
      const none = await send(url, method, path, body);
      expect([path, none.status]).toEqual([path, 401]);
      expect(none.headers['www-authenticate']).toBe('Bearer');
      expect((await send(url, method, path, body, { authorization: `Bearer ${KEY}x` })).status).toBe(401);
      expect((await send(url, method, path, body, { 'x-api-key': 'short' })).status).toBe(401);
      expect((await send(url, method, path, body, { authorization: `Bearer ${KEY}` })).status).toBe(200);
      expect((await send(url, method, path, body, { 'x-api-key': KEY })).status).toBe(200);
    }
    expect((await send(url, 'GET', '/v2/health/live')).status).toBe(200);
    expect((await send(url, 'GET', '/v2/health/ready')).status).toBe(200);
    expect((await send(url, 'GET', '/metrics')).status).toBe(200);
  });
});

/** Writes raw bytes, reads until the server closes or 2 s of quiet; the answer's text. */
function rawExchange(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolvePromise) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolvePromise(answer));
    socket.write(text);
    socket.setTimeout(2000, () => socket.destroy());
  });
}

/** Writes `head`, then `part` `times` times with backpressure while reading; the answer's text. */
function pumpExchange(url: string, head: string, part: Buffer, times: number): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolvePromise) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolvePromise(answer));
    socket.setTimeout(5000, () => socket.destroy());
    socket.write(head);
    let sent = 0;
    const more = (): void => {
      while (sent < times && !socket.destroyed) {
        sent++;
        if (!socket.write(part)) {
          socket.once('drain', more);
          return;
        }
      }
    };
    more();
  });
}

const chunkOf = (text: string): string => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;

// ------------------------------------------------------------------------------------------------
// The server process on real models.

const ROOT = resolve(__dirname, '../..');
const PYTHON = join(ROOT, '.venv', 'bin', 'python');
const DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'] as const;

const MODELS = String.raw`
import sys
import onnx
from onnx import TensorProto as T, helper as h
out = sys.argv[1]
def save(graph, name):
    m = h.make_model(graph, opset_imports=[h.make_opsetid('', 17)])
    m.ir_version = 8
    onnx.save(m, f'{out}/{name}.onnx')
types = {'BOOL': T.BOOL, 'UINT8': T.UINT8, 'UINT16': T.UINT16, 'UINT32': T.UINT32, 'UINT64': T.UINT64, 'INT8': T.INT8, 'INT16': T.INT16,
         'INT32': T.INT32, 'INT64': T.INT64, 'FP16': T.FLOAT16, 'FP32': T.FLOAT, 'FP64': T.DOUBLE, 'BYTES': T.STRING}
save(h.make_graph([h.make_node('Identity', [f'in_{k}'], [f'out_{k}']) for k in types], 'types',
                  [h.make_tensor_value_info(f'in_{k}', v, ['N', 2]) for k, v in types.items()],
                  [h.make_tensor_value_info(f'out_{k}', v, ['N', 2]) for k, v in types.items()]), 'types')
# y = 2x + 1 and s = the sum of each row, over x [N, 3]
save(h.make_graph([h.make_node('Mul', ['x', 'two'], ['x2']), h.make_node('Add', ['x2', 'one'], ['y']), h.make_node('ReduceSum', ['x', 'axes'], ['s'], keepdims=0)], 'affine',
                  [h.make_tensor_value_info('x', T.FLOAT, ['N', 3])],
                  [h.make_tensor_value_info('y', T.FLOAT, ['N', 3]), h.make_tensor_value_info('s', T.FLOAT, ['N'])],
                  initializer=[h.make_tensor('two', T.FLOAT, [], [2.0]), h.make_tensor('one', T.FLOAT, [], [1.0]), h.make_tensor('axes', T.INT64, [1], [1])]), 'affine')
# Reshape to [-1, 3]: one row of two values passes the checks and fails in onnxruntime.
save(h.make_graph([h.make_node('Reshape', ['x', 'shape'], ['y'])], 'reshape',
                  [h.make_tensor_value_info('x', T.FLOAT, ['N', 2])], [h.make_tensor_value_info('y', T.FLOAT, ['M', 3])],
                  initializer=[h.make_tensor('shape', T.INT64, [2], [-1, 3])]), 'reshape')
open(f'{out}/broken.onnx', 'wb').write(b'not an onnx model')
`;

/** A stdout that keeps the JSON lines and wakes waiters on each event. */
class Lines extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  private waiters: { event: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const text of chunk.toString('utf8').split('\n').filter(Boolean)) {
      const line = JSON.parse(text) as Record<string, unknown>;
      this.lines.push(line);
      this.waiters = this.waiters.filter((w) => (w.event === line.event ? (w.resolve(line), false) : true));
    }
    done();
  }
  next(event: string): Promise<Record<string, unknown>> {
    const seen = this.lines.find((line) => line.event === event);
    return seen ? Promise.resolve(seen) : new Promise((resolvePromise) => this.waiters.push({ event, resolve: resolvePromise }));
  }
  events(): string[] {
    return this.lines.map((line) => line.event as string).filter(Boolean);
  }
}

describe('the server process on real ONNX models', () => {
  let dir: string;
  let stop: AbortController;
  let out: Lines;
  let exit: Promise<number>;
  let url: string;
  const post = (path: string, body: unknown) => send(url, 'POST', path, JSON.stringify(body), { 'x-api-key': KEY });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'opsbook-serving-'));
    execFileSync(PYTHON, ['-c', MODELS, dir], { stdio: 'pipe' });
    stop = new AbortController();
    out = new Lines();
    exit = runForeground(
      { models: ['types', 'affine', 'reshape', 'broken'].map((name) => ({ model: join(dir, `${name}.onnx`) })) as never, workers: 2, device: 'cpu', api_key: KEY, request_log_dir: join(dir, 'requests') },
      { stdout: out, stop: stop.signal, signals: false },
    );
    url = (await out.next('listening')).url as string;
    await out.next('ready');
  });
  afterAll(async () => {
    stop.abort();
    await exit;
    rmSync(dir, { recursive: true, force: true });
  });

  test('the protocol events: listening, device, one model event each, ready with every model', async () => {
    const ready = await out.next('ready');
    expect(ready).toMatchObject({ url, device: 'cpu' });
    const models = ready.models as { name: string; ready: boolean; error: string | null }[];
    expect(models.map((m) => [m.name, m.ready])).toEqual([['types', true], ['affine', true], ['reshape', true], ['broken', false]]);
    expect(models[3].error).toMatch(/./);
    expect(out.events().slice(0, 7).sort()).toEqual(['affine', 'broken', 'reshape', 'types'].map(() => 'model').concat(['device', 'listening', 'ready']).sort());
    for (const line of out.lines) expect(line).toEqual(expect.objectContaining({ time: expect.any(String), level: expect.any(String), msg: expect.any(String) }));
    expect((await send(url, 'GET', '/v2/health/ready')).status).toBe(200);
  });

  test('every datatype goes through onnxruntime and back unchanged', async () => {
    const values: Record<(typeof DATATYPES)[number], unknown[]> = {
      BOOL: [true, false, false, true], UINT8: [0, 255, 7, 1], UINT16: [0, 65535, 2, 3], UINT32: [0, 4294967295, 5, 6],
      UINT64: [0, 2 ** 53 - 1, 8, 9], INT8: [-128, 127, 0, 1], INT16: [-32768, 32767, 0, 1], INT32: [-2147483648, 2147483647, 0, 1],
      INT64: [-(2 ** 53) + 1, 2 ** 53 - 1, 0, 1], FP16: [0.5, -2, 65504, 0.0999755859375], FP32: [0.5, -1.25, 3.4028234663852886e38, 1e-30],
      FP64: [0.1, -1e300, 5e-324, 1.7976931348623157e308], BYTES: ['a', '', 'é ü', '"quoted"'],
    };
    const inputs = DATATYPES.map((t, i) => ({ name: `in_${t}`, datatype: t, shape: [2, 2], data: i % 2 === 0 ? values[t] : [values[t].slice(0, 2), values[t].slice(2)] }));
    const answer = await post('/v2/models/types/infer', { id: 'types', inputs });
    expect(answer.status).toBe(200);
    const outputs = (answer.json as { outputs: { name: string; datatype: string; shape: number[]; data: unknown[] }[] }).outputs;
    expect(outputs.map((o) => o.name)).toEqual(DATATYPES.map((t) => `out_${t}`));
    for (const [i, t] of DATATYPES.entries()) {
      expect([t, outputs[i].datatype, outputs[i].shape]).toEqual([t, t, [2, 2]]);
      const want = t === 'FP32' ? values[t].map((v) => Math.fround(v as number)) : values[t];
      expect([t, outputs[i].data]).toEqual([t, want]);
    }
  });

  test('outputs equal the model function; selection, nested and flat; NaN policy', async () => {
    const rows = [[1, 2, 3], [0.5, -1, 4.25]];
    const nested = await post('/v2/models/affine/versions/1/infer', { id: 'n', parameters: { p: 1 }, inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 3], data: rows }] });
    expect(nested.json).toEqual({
      model_name: 'affine', model_version: '1', id: 'n', parameters: { p: 1 },
      outputs: [{ name: 'y', datatype: 'FP32', shape: [2, 3], data: [3, 5, 7, 2, -1, 9.5] }, { name: 's', datatype: 'FP32', shape: [2], data: [6, 3.75] }],
    });
    const flat = await post('/v2/models/affine/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 3], data: rows.flat() }], outputs: [{ name: 's' }] });
    expect(flat.json).toEqual({ model_name: 'affine', model_version: '1', outputs: [{ name: 's', datatype: 'FP32', shape: [2], data: [6, 3.75] }] });
    const nan = await post('/v2/models/affine/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 'NaN', 2] }] });
    expect([nan.status, nan.json]).toEqual([400, { error: "input x: data[1] is NaN: non-finite inputs are refused (the server's nonfinite policy is reject)" }]);
    // A large flat body takes the fast path; its answer is the same function.
    const many = Array.from({ length: 3000 }, (_, i) => Number(((i % 97) / 8 - 3).toFixed(3)));
    const big = await post('/v2/models/affine/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1000, 3], data: many }], outputs: [{ name: 'y' }] });
    expect((big.json as { outputs: { data: number[] }[] }).outputs[0].data).toEqual(many.map((v) => Math.fround(Math.fround(v) * 2 + 1)));
  });

  test('onnxruntime failing is a 500; a model that did not load is a 400; the others keep serving', async () => {
    const failed = await post('/v2/models/reshape/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] });
    expect(failed.status).toBe(500);
    expect((failed.json as { error: string }).error).toMatch(/Reshape|reshape/);
    const broken = await post('/v2/models/broken/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] });
    expect(broken.status).toBe(400);
    expect((broken.json as { error: string }).error).toMatch(/^model broken failed to load: /);
    const meta = await send(url, 'GET', '/v2/models/broken', undefined, { 'x-api-key': KEY });
    expect(meta.json).toMatchObject({ parameters: { ready: false, error: expect.any(String), device: 'cpu' } });
    const ok = await post('/v2/models/affine/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 1, 1] }] });
    expect(ok.status).toBe(200);
  });

  test('a stats event follows a second with traffic', async () => {
    const seen = out.lines.filter((line) => line.event === 'stats').length;
    await post('/v2/models/affine/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 1, 1] }] });
    while (out.lines.filter((line) => line.event === 'stats').length === seen) await new Promise((r) => setTimeout(r, 100));
    const stats = out.lines.filter((line) => line.event === 'stats').at(-1) as Record<string, unknown>;
    const { event, level, msg, ...fields } = stats;
    expect([event, typeof level, typeof msg]).toEqual(['stats', 'string', 'string']);
    expect(validator.check('endpoint.schema.json#/$defs/EndpointStats', fields)).toBeNull();
    expect(fields.requests as number).toBeGreaterThan(0);
  });

  test('a client that leaves mid-body is no longer in flight', async () => {
    const { port } = new URL(url);
    await new Promise<void>((resolvePromise) => {
      const socket = connect(Number(port), '127.0.0.1');
      socket.write(`POST /v2/models/affine/infer HTTP/1.1\r\nHost: x\r\nx-api-key: ${KEY}\r\nContent-Length: 1000\r\n\r\n{"inputs":`);
      setTimeout(() => socket.destroy(), 50);
      socket.on('close', () => resolvePromise());
    });
    let metrics = '';
    while (!metrics.includes('code="499"')) metrics = (await send(url, 'GET', '/metrics')).body;
    expect(metrics).toContain('opsbook_in_flight_requests 0');
    expect(metrics).toContain('opsbook_requests_total{model="affine",version="1",code="499"} 1');
  });

  test('stops on request: draining, stopped, exit 0, port closed', async () => {
    const pending = Array.from({ length: 20 }, (_, i) => post('/v2/models/affine/infer', { id: String(i), inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [i, 0, 0] }] }));
    stop.abort();
    const answers = await Promise.allSettled(pending);
    // Every request that reached the server before the drain got its own answer.
    for (const [i, answer] of answers.entries()) {
      if (answer.status === 'fulfilled') expect(answer.value.json).toMatchObject({ id: String(i), outputs: [{ data: [2 * i + 1, 1, 1] }] });
    }
    expect(await exit).toBe(0);
    expect(out.events().slice(-2)).toEqual(['draining', 'stopped']);
    await expect(send(url, 'GET', '/v2/health/live')).rejects.toThrow(/ECONNREFUSED/);
  });
});

test('SIGTERM drains and exits 0 (the built server process)', async () => {
  // The daemon stops a server with SIGTERM; this runs the compiled foreground as its own process.
  const script = `require(${JSON.stringify(join(ROOT, 'src', 'dist', 'serving', 'foreground.js'))}).runForeground(JSON.parse(process.argv[1])).then((code) => process.exit(code))`;
  const dir = mkdtempSync(join(tmpdir(), 'opsbook-serving-signal-'));
  try {
    execFileSync(PYTHON, ['-c', MODELS, dir], { stdio: 'pipe' });
    const child = spawn(process.execPath, ['-e', script, JSON.stringify({ models: [{ model: join(dir, 'affine.onnx') }], workers: 1, device: 'cpu', request_log: false })], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Record<string, unknown>[] = [];
    let buffered = '';
    const ready = new Promise<void>((resolvePromise) => {
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const complete = buffered.split('\n');
        buffered = complete.pop() ?? '';
        for (const text of complete.filter(Boolean)) {
          const line = JSON.parse(text) as Record<string, unknown>;
          lines.push(line);
          if (line.event === 'ready') resolvePromise();
        }
      });
    });
    const exited = new Promise<number | null>((resolvePromise) => child.on('exit', (code) => resolvePromise(code)));
    await ready;
    const url = lines.find((line) => line.event === 'listening')?.url as string;
    expect((await send(url, 'POST', '/v2/models/affine/infer', JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }))).status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(lines.map((line) => line.event).filter(Boolean).slice(-2)).toEqual(['draining', 'stopped']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('the server process refusing to start', () => {
  const run = async (config: object): Promise<[number, Record<string, unknown> | undefined]> => {
    const out = new Lines();
    const code = await runForeground(config as never, { stdout: out, signals: false });
    return [code, out.lines.find((line) => line.event === 'fatal')];
  };

  test('a taken port exits 3 (port_in_use)', async () => {
    const taken = createNetServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as AddressInfo).port;
    try {
      const [code, fatal] = await run({ models: [{ model: '/nonexistent/a.onnx' }], port, request_log: false, workers: 1, device: 'cpu' });
      expect(code).toBe(3);
      expect(fatal).toMatchObject({ code: 'port_in_use', level: 'error' });
    } finally {
      taken.close();
    }
  });

  test('--device cuda without CUDA exits 3 (cuda_unavailable)', async () => {
    const [code, fatal] = await run({ models: [{ model: '/nonexistent/a.onnx' }], request_log: false, workers: 1, device: 'cuda' });
    // Where CUDA does load, the missing model is what fails instead.
    if (fatal?.code === 'no_model_loaded') return;
    expect([code, fatal?.code, fatal?.level]).toEqual([3, 'cuda_unavailable', 'error']);
  });

  test('no model loaded exits 2 (no_model_loaded); a bad config exits 2 (bad_input)', async () => {
    const [code, fatal] = await run({ models: [{ model: '/nonexistent/a.onnx' }], request_log: false, workers: 1, device: 'cpu' });
    expect(code).toBe(2);
    expect(fatal).toMatchObject({ code: 'no_model_loaded' });
    const [badCode, bad] = await run({ models: [{ model: '/x/a.onnx' }], host: '0.0.0.0' });
    expect(badCode).toBe(2);
    expect(bad).toMatchObject({ code: 'bad_input', error: expect.stringMatching(/API key/) });
    const [schemaCode] = await run({ models: [], port: -1 });
    expect(schemaCode).toBe(2);
  });
});

describe('the serve config', () => {
  test('defaults, served names and versions, paths from the config file\'s folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbook-serve-config-'));
    try {
      const file = join(dir, 'serve.yaml');
      writeFileSync(file, 'models:\n  - model: ./Churn Model.onnx\n  - model: churn:3\n    path: /models/churn-3.onnx\n  - model: ./b.onnx\n    name: b\n    version: "7"\nmax_batch: 8\n');
      expect(readServeConfig(file).models[0]).toEqual({ model: './Churn Model.onnx' });
      const config = loadServeConfig(file, {});
      expect(config).toMatchObject({
        name: 'churn-model', host: '127.0.0.1', port: 0, device: 'auto', max_batch: 8, max_delay_us: 200, api_key: null, insecure: false,
        body_limit_bytes: 64 * 1024 * 1024, nonfinite: 'reject', request_log: true, request_log_dir: join(dir, 'opsbook-requests'),
      });
      expect(config.workers).toBeGreaterThanOrEqual(1);
      expect(config.models.map((m) => [m.name, m.version, m.path])).toEqual([
        ['Churn-Model', '1', join(dir, 'Churn Model.onnx')],
        ['churn', '3', '/models/churn-3.onnx'],
        ['b', '7', join(dir, 'b.onnx')],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('refuses: schema violations, a public host without a key, short keys, one name and version twice, a registry model without a path', () => {
    const models = [{ model: '/m/a.onnx' }];
    expect(() => resolveServeConfig({ models, max_batch: 0 })).toThrow(/invalid serve config: \/max_batch/);
    expect(() => resolveServeConfig({ models, host: '0.0.0.0' }, { env: {} })).toThrow(/API key/);
    expect(resolveServeConfig({ models, host: '0.0.0.0', insecure: true }, { env: {} }).api_key).toBeNull();
    expect(resolveServeConfig({ models, host: '0.0.0.0' }, { env: { OPSBOOK_SERVE_API_KEY: KEY } }).api_key).toBe(KEY);
    expect(() => resolveServeConfig({ models }, { env: { OPSBOOK_SERVE_API_KEY: 'short' } })).toThrow(/at least 16/);
    expect(() => resolveServeConfig({ models: [{ model: '/m/a.onnx' }, { model: '/n/a.onnx' }] })).toThrow(/two models are served as a version 1/);
    expect(() => resolveServeConfig({ models: [{ model: 'churn@prod' }] })).toThrow(ConfigError);
    expect(resolveServeConfig({ models, device: 'cuda' }).workers).toBe(1);
  });
});
