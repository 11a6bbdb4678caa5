import { randomUUID } from 'node:crypto';
import { readFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { SchemaValidator, type MetricPoint } from '@opsbook/schema';
import { OpsbookApiError, OpsbookClient } from '../client/client';
import { startDaemon, type RunningDaemon } from './daemon';
import { discoveryPath, readDiscovery } from './discovery';
import { SERVER_VERSION } from '../serving/server';
import { CORE_VERSION } from './version';

const validator = new SchemaValidator();

interface Answer {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

/** One raw HTTP request, so tests control every header (fetch would fix Host). */
function send(
  daemon: RunningDaemon,
  method: string,
  path: string,
  options: { body?: string | Buffer; headers?: Record<string, string>; token?: string | null } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { Host: `127.0.0.1:${daemon.info.port}`, ...options.headers };
  const token = options.token === undefined ? daemon.token : options.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  if (options.body !== undefined) {
    headers['Content-Type'] ??= 'application/json';
    headers['Content-Length'] = String(Buffer.byteLength(options.body));
  }
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: daemon.info.port, method, path: `/api/v1${path}`, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, headers: res.headers });
      });
    });
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

function expectError(answer: Answer, status: number, code: string): { message: string; field?: string; value?: unknown } {
  expect(answer.status).toBe(status);
  expect(validator.check('error.schema.json', answer.body)).toBeNull();
  const error = (answer.body as { error: { code: string; message: string; field?: string; value?: unknown } }).error;
  expect(error.code).toBe(code);
  return error;
}

describe('daemon HTTP API', () => {
  let workspace: string;
  let runtime: string;
  let daemon: RunningDaemon;
  let client: OpsbookClient;
  const logged: string[] = [];

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-api-'));
    runtime = mkdtempSync(join(tmpdir(), 'opsbook-runtime-'));
    process.env.JUPYTER_RUNTIME_DIR = runtime;
    daemon = await startDaemon({ workspace, port: 0, runtimeDir: runtime, validateResponses: true, log: (line) => logged.push(line) });
    client = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token });
  });
  afterAll(async () => {
    await daemon?.close();
    rmSync(workspace, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });

  it('answers /health with its info, and reports the version of src/package.json (the inference server too)', async () => {
    const info = await client.health();
    expect(validator.check('daemon-info.schema.json', info)).toBeNull();
    expect(info).toEqual(daemon.info);
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    expect(info.version).toBe(pkg.version);
    expect(CORE_VERSION).toBe(pkg.version);
    // GET /v2 of an inference server reports the same version.
    expect(SERVER_VERSION).toBe(pkg.version);
  });

  it('writes a discovery file with mode 0600 that holds the token', () => {
    const path = discoveryPath(workspace, runtime);
    expect(daemon.discoveryFile).toBe(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const content = readDiscovery(path);
    expect(content).toEqual({ ...daemon.info, token: daemon.token });
    expect(daemon.token).toMatch(/^[0-9a-f]{64}$/);
  });

  it('answers 401 without a token or with a wrong one', async () => {
    expectError(await send(daemon, 'GET', '/runs', { token: null }), 401, 'unauthorized');
    expectError(await send(daemon, 'GET', '/runs', { token: 'f'.repeat(64) }), 401, 'unauthorized');
    expectError(await send(daemon, 'GET', '/runs', { token: daemon.token.slice(0, 63) }), 401, 'unauthorized');
    expectError(await send(daemon, 'GET', '/runs', { headers: { Authorization: daemon.token }, token: null }), 401, 'unauthorized');
    expectError(await send(daemon, 'GET', '/runs', { headers: { Authorization: `Basic ${daemon.token}` }, token: null }), 401, 'unauthorized');
  });

  it('answers 403 to a foreign Host, even with the right token', async () => {
    const error = expectError(await send(daemon, 'GET', '/runs', { headers: { Host: `evil.example:${daemon.info.port}` } }), 403, 'forbidden');
    expect(error.message).toContain('evil.example');
    expectError(await send(daemon, 'GET', '/runs', { headers: { Host: `evil.example:${daemon.info.port}` }, token: null }), 403, 'forbidden');
    expectError(await send(daemon, 'GET', '/runs', { headers: { Host: '127.0.0.1:1' } }), 403, 'forbidden');
    expect((await send(daemon, 'GET', '/runs', { headers: { Host: `localhost:${daemon.info.port}` } })).status).toBe(200);
    expect((await send(daemon, 'GET', '/runs', { headers: { Host: `[::1]:${daemon.info.port}` } })).status).toBe(200);
  });

  it('maps routing and transport problems to 404, 405, 415, 400 and 413', async () => {
    expectError(await send(daemon, 'GET', '/nope'), 404, 'not_found');
    const notAllowed = await send(daemon, 'DELETE', '/runs');
    expectError(notAllowed, 405, 'method_not_allowed');
    expect(notAllowed.headers.allow).toBe('GET, POST');
    expectError(await send(daemon, 'POST', '/runs', { body: '{}', headers: { 'Content-Type': 'text/plain' } }), 415, 'unsupported_media_type');
    const badJson = expectError(await send(daemon, 'POST', '/runs', { body: '{"id": ' }), 400, 'bad_request');
    expect(badJson.message).toMatch(/not JSON/);
    expectError(await send(daemon, 'GET', `/runs/${randomUUID()}`), 404, 'not_found');
    const tooLarge = await send(daemon, 'POST', '/runs', {
      body: Buffer.alloc(64 * 1024 * 1024 + 10, 0x20),
    });
    expectError(tooLarge, 413, 'payload_too_large');
  });

  it('names the offending field and value of bad parameters and bodies', async () => {
    const limit = expectError(await send(daemon, 'GET', '/runs?limit=abc'), 400, 'bad_request');
    expect(limit).toMatchObject({ field: 'limit', value: 'abc' });
    expect(expectError(await send(daemon, 'GET', '/runs?limit=0'), 400, 'bad_request').field).toBe('limit');
    expect(expectError(await send(daemon, 'GET', '/runs?status=done'), 400, 'bad_request')).toMatchObject({ field: 'status', value: 'done' });
    expect(expectError(await send(daemon, 'GET', '/runs?colour=red'), 400, 'bad_request').field).toBe('colour');
    expect(expectError(await send(daemon, 'GET', '/runs/not-a-uuid'), 400, 'bad_request')).toMatchObject({ field: 'run_id', value: 'not-a-uuid' });
    const body = expectError(await send(daemon, 'POST', '/runs', { body: JSON.stringify({ id: 'nope' }) }), 400, 'bad_request');
    expect(body).toMatchObject({ field: '/id', value: 'nope' });
    expect(body.message).toContain('nope');
    const extra = expectError(await send(daemon, 'POST', '/runs', { body: JSON.stringify({ colour: 'red' }) }), 400, 'bad_request');
    expect(extra.field).toBe('/colour');
  });

  it('creates a run, logs params (409 naming a changed key), ends it and lists it', async () => {
    const id = randomUUID();
    const run = await client.createRun({ id, experiment: 'api', name: 'first', params: { lr: '0.1' }, source: { type: 'script' } });
    expect(run).toMatchObject({ id, experiment: 'api', name: 'first', status: 'running' });
    const again = await send(daemon, 'POST', '/runs', { body: JSON.stringify({ id }) });
    expectError(again, 409, 'conflict');
    const detail = await client.logParams(id, { lr: '0.1', depth: '4' });
    expect(detail.params).toHaveLength(2);
    const conflict = await send(daemon, 'POST', `/runs/${id}/params`, { body: JSON.stringify({ params: { lr: '0.5' } }) });
    expect(expectError(conflict, 409, 'conflict')).toMatchObject({ field: '/params/lr' });
    const ended = await client.updateRun(id, { status: 'finished' });
    expect(ended.status).toBe('finished');
    expect(ended.duration_ms).toBeGreaterThanOrEqual(0);
    const { runs } = await client.listRuns({ experiment: 'api' });
    expect(runs.map((r) => r.id)).toEqual([id]);
    const { experiments } = await client.listExperiments();
    expect(experiments.find((e) => e.name === 'api')?.run_count).toBe(1);
    await expect(client.updateRun(randomUUID(), { status: 'finished' })).rejects.toMatchObject({ status: 404 });
  });

  it('round-trips metric batches with exact counts', async () => {
    const run = await client.createRun({});
    const batch = (offset: number, n: number): MetricPoint[] =>
      Array.from({ length: n }, (_, i) => ({ key: i % 2 ? 'acc' : 'loss', value: (offset + i) / 100, step: offset + i, timestamp: 1_700_000_000_000 + offset + i }));
    expect(await client.logMetrics(run.id, batch(0, 10_000))).toEqual({ accepted: 10_000 });
    expect(await client.logMetrics(run.id, batch(10_000, 5))).toEqual({ accepted: 5 });
    const detail = await client.getRun(run.id);
    expect(detail.metrics).toEqual([
      { key: 'acc', count: 5002, last: 100.03, min: 0.01, max: 100.03, last_step: 10_003 },
      { key: 'loss', count: 5003, last: 100.04, min: 0, max: 100.04, last_step: 10_004 },
    ]);
    const history = await client.metricHistory(run.id, { key: 'loss', max_points: 100 });
    expect(history.series[0]).toMatchObject({ key: 'loss', count: 5003 });
    expect(history.series[0].steps.length).toBeLessThanOrEqual(100);
    expect(history.series[0].steps[history.series[0].steps.length - 1]).toBe(10_004);
    const empty = await send(daemon, 'POST', `/runs/${run.id}/metrics`, { body: JSON.stringify({ metrics: [] }) });
    expect(expectError(empty, 400, 'bad_request').field).toBe('/metrics');
    const unknown = await send(daemon, 'POST', `/runs/${randomUUID()}/metrics`, { body: JSON.stringify({ metrics: batch(0, 1) }) });
    expectError(unknown, 404, 'not_found');
    expect((await client.getRun(run.id)).metrics.reduce((s, m) => s + m.count, 0)).toBe(10_005);
  });

  it('stores a batch resent with the same batch_id once, and refuses a batch_id that is not a UUID', async () => {
    const run = await client.createRun({});
    const points: MetricPoint[] = [0, 1, 2].map((step) => ({ key: 'loss', value: step, step, timestamp: 1_700_000_000_000 + step }));
    const batchId = randomUUID();
    const post = () => send(daemon, 'POST', `/runs/${run.id}/metrics`, { body: JSON.stringify({ batch_id: batchId, metrics: points }) });
    expect((await post()).status).toBe(200);
    const again = await post();
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ accepted: 3 });
    expect(await client.logMetrics(run.id, points)).toEqual({ accepted: 3 });
    expect((await client.getRun(run.id)).metrics[0].count).toBe(6);
    const bad = await send(daemon, 'POST', `/runs/${run.id}/metrics`, { body: JSON.stringify({ batch_id: 'b-1', metrics: points }) });
    expect(expectError(bad, 400, 'bad_request').field).toBe('/batch_id');
  });

  it('never answers 5xx to junk bodies (property-based)', async () => {
    const run = await client.createRun({});
    const junkValue = fc.oneof(
      fc.anything(),
      fc.record({ id: fc.oneof(fc.uuid(), fc.string()), experiment: fc.string(), name: fc.string(), params: fc.dictionary(fc.string(), fc.string()) }, { requiredKeys: [] }),
      fc.record({ metrics: fc.array(fc.record({ key: fc.string(), value: fc.oneof(fc.double(), fc.constant(null), fc.string()), step: fc.oneof(fc.integer(), fc.double()), timestamp: fc.double() }, { requiredKeys: [] }), { maxLength: 5 }) }),
    );
    const junkBody = fc.oneof(
      junkValue.map((v) => JSON.stringify(v) ?? 'undefined'),
      fc.string(),
      fc.constant('{"metrics": [{"key": "a", "value": 1e400, "step": 0, "timestamp": 0}]}'),
    );
    await fc.assert(
      fc.asyncProperty(junkBody, fc.constantFrom('/runs', `/runs/${run.id}/metrics`), async (body, path) => {
        const answer = await send(daemon, 'POST', path, { body });
        expect(answer.status).toBeGreaterThanOrEqual(200);
        expect(answer.status).toBeLessThan(500);
        if (answer.status >= 400) expect(validator.check('error.schema.json', answer.body)).toBeNull();
      }),
      { numRuns: 300 },
    );
    expect(logged).toEqual([]);
  });

  it('keeps answering while many clients write at once', async () => {
    const created = await Promise.all(Array.from({ length: 10 }, () => client.createRun({ experiment: 'parallel' })));
    await Promise.all(created.map((r) => client.logMetrics(r.id, [{ key: 'x', value: 1, step: 0, timestamp: 0 }])));
    const { runs } = await client.listRuns({ experiment: 'parallel' });
    expect(runs).toHaveLength(10);
    expect(runs.every((r) => r.metrics_latest?.x === 1)).toBe(true);
  });

  it('rejects with OpsbookApiError through the typed client', async () => {
    await expect(client.getRun(randomUUID())).rejects.toBeInstanceOf(OpsbookApiError);
  });
});

describe('daemon HTTP API: run state machine and heartbeats', () => {
  const TIMEOUT_MS = 400;
  let workspace: string;
  let runtime: string;
  let daemon: RunningDaemon;

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-beat-'));
    runtime = mkdtempSync(join(tmpdir(), 'opsbook-runtime-'));
    daemon = await startDaemon({ workspace, runtimeDir: runtime, heartbeatTimeoutMs: TIMEOUT_MS, validateResponses: true, log: () => undefined });
  });
  afterAll(async () => {
    await daemon?.close();
    rmSync(workspace, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });

  const json = (value: unknown): { body: string } => ({ body: JSON.stringify(value) });
  const statusOf = async (id: string): Promise<string> => ((await send(daemon, 'GET', `/runs/${id}`)).body as { run: { status: string } }).run.status;

  it('answers 409 with the status when an ended run is ended again or sent params or metrics', async () => {
    const id = randomUUID();
    expect((await send(daemon, 'POST', '/runs', json({ id }))).status).toBe(201);
    expect((await send(daemon, 'PATCH', `/runs/${id}`, json({ status: 'failed', error: 'boom' }))).status).toBe(200);
    for (const [method, path, body] of [
      ['PATCH', `/runs/${id}`, { status: 'finished' }],
      ['POST', `/runs/${id}/params`, { params: { lr: '0.1' } }],
      ['POST', `/runs/${id}/metrics`, { metrics: [{ key: 'm', value: 1, step: 0, timestamp: 1 }] }],
    ] as const) {
      const error = expectError(await send(daemon, method, path, json(body)), 409, 'conflict');
      expect(error).toMatchObject({ field: 'status', value: 'failed' });
      expect(error.message).toContain('failed');
    }
    expect((await send(daemon, 'PATCH', `/runs/${id}`, json({ name: 'renamed after the end' }))).status).toBe(200);
    expect(await statusOf(id)).toBe('failed');
  });

  it('tells its heartbeat timeout in /health and each beat, and kills a supervised run whose beats stop', async () => {
    const health = (await send(daemon, 'GET', '/health')).body as { heartbeat_timeout_ms: number };
    expect(health.heartbeat_timeout_ms).toBe(TIMEOUT_MS);
    const [beating, silent, plain] = [randomUUID(), randomUUID(), randomUUID()];
    for (const id of [beating, silent]) expect((await send(daemon, 'POST', '/runs', json({ id, heartbeat: true }))).status).toBe(201);
    expect((await send(daemon, 'POST', '/runs', json({ id: plain }))).status).toBe(201);
    const unknown = randomUUID();
    let reply = (await send(daemon, 'POST', '/heartbeat', json({ runs: [beating, unknown] }))).body as {
      timeout_ms: number;
      interval_ms: number;
      runs: { id: string; status: string }[];
    };
    expect(reply).toEqual({ timeout_ms: TIMEOUT_MS, interval_ms: TIMEOUT_MS / 4, runs: [{ id: beating, status: 'running' }] });
    // Beat at the interval the daemon asked for until the silent run has been killed.
    while ((await statusOf(silent)) === 'running') {
      await new Promise((resolve) => setTimeout(resolve, reply.interval_ms));
      reply = (await send(daemon, 'POST', '/heartbeat', json({ runs: [beating] }))).body as typeof reply;
      expect(reply.runs).toEqual([{ id: beating, status: 'running' }]);
    }
    const killed = (await send(daemon, 'GET', `/runs/${silent}`)).body as { run: { status: string }; source: { error?: string } };
    expect(killed.run.status).toBe('killed');
    expect(killed.source.error).toMatch(/no heartbeat/);
    expect(await statusOf(beating)).toBe('running');
    expect(await statusOf(plain)).toBe('running');
    expectError(await send(daemon, 'POST', '/heartbeat', json({ runs: ['not-a-uuid'] })), 400, 'bad_request');
  });
});
