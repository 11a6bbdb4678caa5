import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openapiDocument, SchemaValidator, type CheckSuite, type SchemaName } from '@opsbook/schema';
import { startDaemon, type RunningDaemon } from '../daemon/daemon';
import { BUILT_CLI } from '../cli/testing';
import { linearModelBytes } from '../explain/testing';
import { EventStreamParser } from './events';
import { FakeApiServer } from '../deploy/testing/fake-apiserver';
import { OpsbookApiError, OpsbookClient, type ApiRequestBody, type FetchLike, type OperationId } from './client';

/** One operation of openapi.json as the document states it. */
interface DocumentedOperation {
  operationId: string;
  method: string;
  template: string;
  responseSchema: SchemaName | undefined;
}

interface OperationObject {
  operationId?: string;
  responses?: Record<string, { content?: { 'application/json'?: { schema?: { $ref?: string } } } }>;
}

function documentedOperations(): DocumentedOperation[] {
  const paths = openapiDocument.paths as unknown as Record<string, Record<string, OperationObject>>;
  return Object.entries(paths).flatMap(([template, item]) =>
    Object.entries(item)
      .filter(([, operation]) => typeof operation === 'object' && operation !== null && typeof operation.operationId === 'string')
      .map(([method, operation]) => {
        const success = Object.entries(operation.responses ?? {}).find(([status]) => status.startsWith('2'))?.[1];
        const ref = success?.content?.['application/json']?.schema?.$ref;
        return { operationId: operation.operationId!, method: method.toUpperCase(), template, responseSchema: ref as SchemaName | undefined };
      }),
  );
}

/** What the run-scoped calls below refer to; made in `beforeAll`. */
const RUN_ID = randomUUID();

/**
 * One call of the client for each operationId. Typed by the operationIds generated from openapi.json,
 * so an operation added there fails `tsc -b` here until the client has a method for it and this
 * table calls it; the tests below check each call hits its operation's method and path.
 */
const CALLS: { [Op in OperationId]: (client: OpsbookClient) => Promise<unknown> } = {
  getHealth: (client) => client.health(),
  listExperiments: (client) => client.listExperiments(),
  listRuns: (client) => client.listRuns({ experiment: 'client', status: 'running', limit: 5 }),
  createRun: (client) => client.createRun({ experiment: 'client' }),
  getRun: (client) => client.getRun(RUN_ID),
  updateRun: (client) => client.updateRun(RUN_ID, { name: 'renamed' }),
  logParams: (client) => client.logParams(RUN_ID, { lr: '0.1' }),
  logMetrics: (client) => client.logMetrics(RUN_ID, [{ key: 'loss', value: 0.5, step: 1, timestamp: 1_700_000_000_000 }], randomUUID()),
  getMetricHistory: (client) => client.metricHistory(RUN_ID, { key: 'loss', max_points: 10 }),
  heartbeat: (client) => client.heartbeat([RUN_ID]),
  getMetricSeries: (client) => client.metricSeries([RUN_ID], 'loss', { max_points: 10, x: 'time' }),
  compareRuns: (client) => client.compareRuns([RUN_ID]),
  streamEvents: (client) => firstLiveEvent(client),
  uploadArtifact: (client) => client.uploadArtifact(RUN_ID, 'notes/readme.txt', 'hello', { media_type: 'text/plain' }),
  listArtifacts: (client) => client.listArtifacts(RUN_ID),
  getArtifactContent: (client) => client.artifactContent(RUN_ID, MODEL_FILE),
  listModels: (client) => client.listModels(),
  resolveModel: (client) => client.resolveModel(`${MODEL}@prod`),
  getModel: (client) => client.getModel(MODEL),
  registerModelVersion: (client) =>
    client.registerModelVersion(MODEL, { run_id: RUN_ID, artifact: MODEL_FILE, flavor: 'onnx', signature: SIGNATURE }),
  getModelVersion: (client) => client.getModelVersion(MODEL, 1),
  setModelAlias: (client) => client.setModelAlias(MODEL, 'prod', 1),
  deleteModelAlias: (client) => client.deleteModelAlias(MODEL, 'prod'),
  getWorkspaceSetting: (client) => client.getWorkspaceSetting(SETTING),
  putWorkspaceSetting: (client) => client.putWorkspaceSetting(SETTING, { columns: ['name', 'metrics.acc'], sort: 'metrics.acc', order: 'desc', filter: '' }),
  runQualityCheck: (client) =>
    client.runQualityCheck({ data: { path: DATA_FILE }, suite: SUITE, run_id: RUN_ID }),
  profileData: (client) => client.profileData({ data: { path: DATA_FILE }, bins: 4 }),
  compareDrift: (client) => client.compareDrift({ data: { path: DATA_FILE }, reference: { path: DATA_FILE } }),
  suggestSuite: (client) => client.suggestSuite({ data: { path: DATA_FILE } }),
  cancelQualityJob: (client) => client.cancelQualityJob(JOB_ID),
  explainModel: (client) => client.explainModel({ model: LINEAR_MODEL, data: { path: NUMBERS_FILE }, rows: '0:2', record: false }),
  cancelExplainJob: (client) => client.cancelExplainJob(JOB_ID),
  startEndpoint: (client) => client.startEndpoint(ENDPOINT),
  listEndpoints: (client) => client.listEndpoints(),
  getEndpoint: (client) => client.getEndpoint(MODEL),
  stopEndpoint: (client) => client.stopEndpoint(MODEL),
  getEndpointLogs: (client) => client.endpointLogs(MODEL, 50),
  testEndpoint: async (client) => {
    // Stopped by the call before (openapi.json's order): started again, unrecorded, for the test request.
    if ((await unrecorded!.getEndpoint(MODEL)).status !== 'ready') await unrecorded!.startEndpoint(ENDPOINT);
    return client.testEndpoint(MODEL, { model: 'linear', request: { inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] } });
  },
  planDeployment: (client) => client.planDeployment(DEPLOY),
  applyDeployment: (client) => client.applyDeployment({ ...DEPLOY, wait: false }),
  listKubeContexts: (client) => client.listKubeContexts(),
  listDeployments: (client) => client.listDeployments({ live: true }),
  promoteDeployment: async (client) => {
    await unrecorded!.applyDeployment({ ...DEPLOY, canary: 25, wait: false });
    return client.promoteDeployment(MODEL, { wait: false });
  },
  rollbackDeployment: async (client) => {
    // A canary to roll back (the promoted model's previous revision may not be rolled out yet).
    await unrecorded!.applyDeployment({ ...DEPLOY, canary: 50, wait: false });
    return client.rollbackDeployment(MODEL, { wait: false });
  },
  getDeployment: (client) => client.getDeployment(MODEL),
  deleteDeployment: (client) => client.deleteDeployment(MODEL),
};

/** The endpoint the serving calls start: a real server (a child process of the daemon) on {@link LINEAR_MODEL}. */
const ENDPOINT: ApiRequestBody<'startEndpoint'> = { name: 'client-model', models: [{ model: 'models/linear.onnx' }], workers: 1, request_log: false };

/** A real ONNX model (Y = X·W + b) and a table of its four features that the explain call reads; written in `beforeAll`. */
const LINEAR_MODEL = 'models/linear.onnx';
const NUMBERS_FILE = 'client-numbers.csv';

/** A small table in the workspace (a relative path is read from there) that the quality calls read; written in `beforeAll`. */
const DATA_FILE = 'client-data.csv';
/** The suite the quality call runs (the schema's type: openapi's flattens each check to its `check` alone). */
const SUITE: CheckSuite = { suite: 'client', checks: [{ check: 'not_null', column: 'id' }] };
/** A quality job id no job runs under: cancelling it answers `cancelled: false`. */
const JOB_ID = 'client-job';

/** The workspace setting the settings calls above read and write; kept in `beforeAll`. */
const SETTING = 'runs-table';
/** The registered model and its file that the registry calls above refer to; made in `beforeAll`. */
const MODEL = 'client-model';
const MODEL_FILE = 'models/client.onnx';
const SIGNATURE = { inputs: [{ name: 'X', dtype: 'float32', shape: [null, 2] }], outputs: [], feature_names: null };
/** The deployment the deploy calls make, on the fake Kubernetes API server the daemon's kubeconfig names. */
const DEPLOY: ApiRequestBody<'applyDeployment'> = { model: LINEAR_MODEL, name: MODEL, image: `registry.example/opsbook@sha256:${'0'.repeat(64)}`, replicas: 1 };

/** Path parameters of the templates, as the calls above fill them. */
const PATH_VALUES: Record<string, string> = { run_id: RUN_ID, name: MODEL, version: '1', alias: 'prod', key: 'runs-table', job_id: JOB_ID };
/** Operations whose success answer is not JSON, and what the client gives for them instead. */
const RAW_ANSWERS: Partial<Record<OperationId, (answer: unknown) => void>> = {
  getArtifactContent: (answer) => expect(answer).toBeInstanceOf(Blob),
  streamEvents: (answer) => expect(new SchemaValidator().check('event.schema.json', answer)).toBeNull(),
};

/** The stand-in Kubernetes API server of the deploy calls, and the KUBECONFIG it replaces for the test. */
let fake: FakeApiServer | undefined;
const savedKubeconfig = process.env.KUBECONFIG;

/** A client whose requests are not recorded, to make changes that a call under test watches for. */
let unrecorded: OpsbookClient | undefined;

/** Opens the live stream, renames the run through {@link unrecorded}, and gives the data of the event that follows. */
async function firstLiveEvent(client: OpsbookClient): Promise<unknown> {
  const reader = (await client.openEventStream()).getReader();
  const decoder = new TextDecoder();
  try {
    await unrecorded!.updateRun(RUN_ID, { name: 'streamed' });
    const parser = new EventStreamParser();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) throw new Error('the event stream ended before an event');
      const [message] = parser.push(decoder.decode(value, { stream: true }));
      if (message) return JSON.parse(message.data) as unknown;
    }
  } finally {
    await reader.cancel();
  }
}

// `heartbeat` (and `experiment`) have defaults in run-create.schema.json; a caller may still leave them out.
const minimalRun: ApiRequestBody<'createRun'> = {};

describe('OpsbookClient against a real daemon', () => {
  const validator = new SchemaValidator();
  let workspace: string;
  let runtime: string;
  let daemon: RunningDaemon;
  let client: OpsbookClient;
  /** Requests the client sent, as the daemon sees their method, path and query. */
  const sent: { method: string; path: string; search: string }[] = [];

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-client-'));
    runtime = mkdtempSync(join(tmpdir(), 'opsbook-client-runtime-'));
    writeFileSync(join(workspace, DATA_FILE), 'id,score,country\n1,0.5,DE\n2,0.7,FR\n3,,US\n4,0.1,DE\n');
    mkdirSync(join(workspace, 'models'));
    writeFileSync(join(workspace, LINEAR_MODEL), linearModelBytes([1, -2, 0.5, 3], 0.25));
    writeFileSync(join(workspace, NUMBERS_FILE), 'a,b,c,d\n1,2,3,4\n0,1,0,1\n5,5,5,5\n');
    // The deploy calls apply to the fake Kubernetes API server (no real one can be installed here),
    // named by the kubeconfig the daemon reads from its environment.
    fake = await FakeApiServer.start({ tickMs: 20 });
    fake.writeKubeconfig(join(workspace, 'kubeconfig'));
    process.env.KUBECONFIG = join(workspace, 'kubeconfig');
    daemon = await startDaemon({ workspace, port: 0, runtimeDir: runtime, validateResponses: true, cliEntry: BUILT_CLI });
    const recording: FetchLike = (request) => {
      const url = new URL(request.url);
      sent.push({ method: request.method, path: url.pathname, search: url.search });
      return fetch(request);
    };
    client = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token, fetch: recording });
    unrecorded = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token });
    await client.createRun({ ...minimalRun, id: RUN_ID, experiment: 'client', name: 'drift' });
    await client.uploadArtifact(RUN_ID, MODEL_FILE, new Uint8Array([1, 2, 3]), { kind: 'model' });
    await client.registerModelVersion(MODEL, { run_id: RUN_ID, artifact: MODEL_FILE, flavor: 'onnx', signature: SIGNATURE });
    await client.setModelAlias(MODEL, 'prod', 1);
    await client.putWorkspaceSetting(SETTING, { columns: ['name'] });
  });
  afterAll(async () => {
    await daemon?.close();
    await fake?.stop();
    if (savedKubeconfig === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = savedKubeconfig;
    rmSync(workspace, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });
  beforeEach(() => {
    sent.length = 0;
  });

  it('has a call for every operation of openapi.json, and none beyond them', () => {
    const documented = documentedOperations().map((operation) => operation.operationId);
    expect(documented.length).toBeGreaterThan(0);
    expect(Object.keys(CALLS).sort()).toEqual([...documented].sort());
  });

  it.each(documentedOperations().map((operation) => [operation.operationId, operation] as const))(
    '%s sends its method and path and returns the answer its schema describes',
    async (operationId, operation) => {
      const call = CALLS[operationId as OperationId];
      expect(call).toBeDefined();
      const answer = await call(client);
      const path = `/api/v1${operation.template.replace(/\{(\w+)\}/g, (_whole, name: string) => encodeURIComponent(PATH_VALUES[name]))}`;
      expect(sent.map(({ method, path: sentPath }) => ({ method, path: sentPath }))).toEqual([{ method: operation.method, path }]);
      const raw = RAW_ANSWERS[operationId as OperationId];
      if (raw) {
        raw(answer);
        return;
      }
      expect(operation.responseSchema).toBeDefined();
      expect(validator.check(operation.responseSchema!, answer)).toBeNull();
    },
  );

  it('sends query parameters encoded, and leaves empty filters out', async () => {
    const odd = 'a b&c=d/é';
    const run = await client.createRun({ experiment: odd });
    sent.length = 0;
    const { runs } = await client.listRuns({ experiment: odd, limit: 3 });
    expect(runs.map((r) => r.id)).toEqual([run.id]);
    expect(sent[0].search).toBe(`?experiment=${encodeURIComponent(odd)}&limit=3`);

    sent.length = 0;
    await client.listRuns({ experiment: '', status: undefined });
    await client.metricHistory(RUN_ID);
    expect(sent.map((request) => request.search)).toEqual(['', '']);
  });

  it('encodes path parameters, so a bad id is the daemon\'s 400, not another path', async () => {
    const error = await client.getRun('../runs').catch((reason: unknown) => reason);
    expect(sent[0].path).toBe('/api/v1/runs/..%2Fruns');
    expect(error).toBeInstanceOf(OpsbookApiError);
    expect(error).toMatchObject({ status: 400, body: { error: { code: 'bad_request', field: 'run_id', value: '../runs' } } });
  });

  it('rejects with the API\'s error body and status', async () => {
    const missing = randomUUID();
    const notFound = await client.getRun(missing).catch((reason: unknown) => reason);
    expect(notFound).toBeInstanceOf(OpsbookApiError);
    expect((notFound as OpsbookApiError).status).toBe(404);
    expect(validator.check('error.schema.json', (notFound as OpsbookApiError).body)).toBeNull();
    expect((notFound as OpsbookApiError).message).toBe((notFound as OpsbookApiError).body.error.message);

    await expect(client.listRuns({ limit: 0 })).rejects.toMatchObject({ status: 400, body: { error: { field: 'limit' } } });
    const anonymous = new OpsbookClient({ baseUrl: daemon.info.url });
    await expect(anonymous.health()).rejects.toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
  });

  describe('behind something that answers without the API\'s error body', () => {
    let gateway: Server;
    beforeAll(async () => {
      // A real HTTP server in the daemon's place, as a misconfigured proxy would answer.
      gateway = createServer((_request, response) => {
        response.writeHead(502, { 'Content-Type': 'text/html' });
        response.end('<html><body>Bad Gateway</body></html>');
      });
      await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', () => resolve()));
    });
    afterAll(() => new Promise<void>((resolve) => gateway.close(() => resolve())));

    it('rejects with an internal error naming the status and what came back', async () => {
      const { port } = gateway.address() as AddressInfo;
      const behindGateway = new OpsbookClient({ baseUrl: `http://127.0.0.1:${port}/api/v1` });
      const error = await behindGateway.listRuns().catch((reason: unknown) => reason);
      expect(error).toBeInstanceOf(OpsbookApiError);
      expect(error).toMatchObject({ status: 502, body: { error: { code: 'internal' } } });
      expect((error as OpsbookApiError).message).toBe('HTTP 502: <html><body>Bad Gateway</body></html>');
    });
  });
});
