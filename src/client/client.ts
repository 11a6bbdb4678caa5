import createClient from 'openapi-fetch';
import type { ApiOperations as operations, ApiPaths as paths, ErrorBody } from '@opsbook/schema';

/** The operationIds of `schema/openapi.json`. */
export type OperationId = keyof operations;

type JsonContent<T> = T extends { content: { 'application/json': infer Body } } ? Body : never;
type Responses<Op extends OperationId> = operations[Op]['responses'];
type SuccessStatus = 200 | 201 | 202 | 204;

/** The body of an operation's success answer, as `openapi.json` declares it. */
export type ApiResponse<Op extends OperationId> = JsonContent<Responses<Op>[SuccessStatus & keyof Responses<Op>]>;
/** The JSON body an operation takes (`never` when it takes none). */
export type ApiRequestBody<Op extends OperationId> = JsonContent<NonNullable<operations[Op]['requestBody']>>;
/** The query parameters an operation takes. */
export type ApiQuery<Op extends OperationId> = NonNullable<operations[Op]['parameters']['query']>;

/**
 * The request (path and query parameters, body) and the success answer of each operation, keyed by
 * operationId. Generated from `schema/openapi.json` (through `schema/generated/openapi.ts`), never kept by hand.
 */
export type ApiMap = {
  [Op in OperationId]: [
    { path?: operations[Op]['parameters']['path']; query?: operations[Op]['parameters']['query']; body?: ApiRequestBody<Op> },
    ApiResponse<Op>,
  ];
};

/** How the client sends a request: the standard `fetch` signature that openapi-fetch calls. */
export type FetchLike = (request: Request) => Promise<Response>;

export interface ClientOptions {
  /** Base URL that `/runs` etc. are appended to, e.g. `http://127.0.0.1:PORT/api/v1` or a proxy path. */
  baseUrl: string;
  /** Bearer token; omit when the transport authenticates (the Jupyter proxy). */
  token?: string;
  /** Fetch implementation; defaults to the global `fetch`. JupyterLab passes one built on `ServerConnection`. */
  fetch?: FetchLike;
}

/** An error answer of the API, carrying its status and the schema'd body. */
export class OpsbookApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
  ) {
    super(body.error.message);
    this.name = 'OpsbookApiError';
  }
}

/** What openapi-fetch resolves to: the parsed body of a success or of an error, and the response. */
interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/**
 * Typed client of the core HTTP API, one method per operation of `schema/openapi.json`; paths,
 * parameters and bodies are typed by the types generated from that document, so a change there that
 * the client does not follow fails the build. Browser-safe: it only needs a fetch function.
 * Every method throws {@link OpsbookApiError} on a 4xx/5xx answer.
 */
export class OpsbookClient {
  private readonly api: ReturnType<typeof createClient<paths>>;

  constructor(options: ClientOptions) {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    // Array parameters are comma-separated (`runs=ID,ID`), as openapi.json declares them (form, not exploded).
    this.api = createClient<paths>({
      baseUrl: options.baseUrl,
      headers,
      fetch: options.fetch,
      querySerializer: { array: { style: 'form', explode: false } },
    });
  }

  /** `getHealth`: which daemon answers. @throws OpsbookApiError */
  health(): Promise<ApiResponse<'getHealth'>> {
    return answer(this.api.GET('/health'));
  }

  /** `listExperiments`. @throws OpsbookApiError */
  listExperiments(): Promise<ApiResponse<'listExperiments'>> {
    return answer(this.api.GET('/experiments'));
  }

  /** `listRuns`, newest first. @throws OpsbookApiError (400) on a bad filter */
  listRuns(query: ApiQuery<'listRuns'> = {}): Promise<ApiResponse<'listRuns'>> {
    return answer(this.api.GET('/runs', { params: { query: withoutEmpty(query) } }));
  }

  /** `createRun`. @throws OpsbookApiError (409) when a run with the given id exists */
  createRun(body: ApiRequestBody<'createRun'>): Promise<ApiResponse<'createRun'>> {
    return answer(this.api.POST('/runs', { body }));
  }

  /** `getRun`. @throws OpsbookApiError (404) when the run does not exist */
  getRun(runId: string): Promise<ApiResponse<'getRun'>> {
    return answer(this.api.GET('/runs/{run_id}', { params: { path: { run_id: runId } } }));
  }

  /**
   * `updateRun`: end, rename, re-tag (a null tag removes it), star, annotate, soft-delete or restore a run.
   * @throws OpsbookApiError (404, or 409 when it has ended and the update would end it again)
   */
  updateRun(runId: string, body: ApiRequestBody<'updateRun'>): Promise<ApiResponse<'updateRun'>> {
    return answer(this.api.PATCH('/runs/{run_id}', { params: { path: { run_id: runId } }, body }));
  }

  /** `logParams`. @throws OpsbookApiError (404; 409 on a changed value or an ended run) */
  logParams(runId: string, params: ApiRequestBody<'logParams'>['params']): Promise<ApiResponse<'logParams'>> {
    return answer(this.api.POST('/runs/{run_id}/params', { params: { path: { run_id: runId } }, body: { params } }));
  }

  /**
   * `logMetrics`. A batch sent again with the same `batchId` is stored once.
   * @throws OpsbookApiError (404; 409 when the run has ended)
   */
  logMetrics(
    runId: string,
    metrics: ApiRequestBody<'logMetrics'>['metrics'],
    batchId?: string,
  ): Promise<ApiResponse<'logMetrics'>> {
    const body = batchId === undefined ? { metrics } : { metrics, batch_id: batchId };
    return answer(this.api.POST('/runs/{run_id}/metrics', { params: { path: { run_id: runId } }, body }));
  }

  /** `getMetricHistory`: series for charts. @throws OpsbookApiError (404) when the run does not exist */
  metricHistory(runId: string, query: ApiQuery<'getMetricHistory'> = {}): Promise<ApiResponse<'getMetricHistory'>> {
    return answer(this.api.GET('/runs/{run_id}/metrics', { params: { path: { run_id: runId }, query: withoutEmpty(query) } }));
  }

  /**
   * `getMetricSeries`: one metric of several runs, each series downsampled, for overlay charts.
   * @throws OpsbookApiError (404 naming the first id that is no run; 400 on a bad id or over 1000 ids)
   */
  metricSeries(
    runIds: readonly string[],
    key: string,
    options: Omit<ApiQuery<'getMetricSeries'>, 'runs' | 'key'> = {},
  ): Promise<ApiResponse<'getMetricSeries'>> {
    return answer(this.api.GET('/metrics/series', { params: { query: withoutEmpty({ ...options, runs: [...runIds], key }) } }));
  }

  /**
   * `compareRuns`: runs side by side, with the params that differ.
   * @throws OpsbookApiError (404 naming the first id that is no run; 400 on a bad id or over 1000 ids)
   */
  compareRuns(runIds: readonly string[]): Promise<ApiResponse<'compareRuns'>> {
    return answer(this.api.POST('/runs/compare', { body: { run_ids: [...runIds] } }));
  }

  /**
   * `streamEvents`: opens the live event stream (Server-Sent Events) and hands back its body
   * unread; {@link followEvents} reads it, reconnecting when it ends.
   * @throws OpsbookApiError when the API refuses the stream (401, 403, 503 through a proxy)
   */
  async openEventStream(signal?: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const pending = this.api.GET('/events', { parseAs: 'stream', signal, headers: { Accept: 'text/event-stream' } });
    const stream = (await answer(pending)) as unknown as ReadableStream<Uint8Array> | undefined;
    if (!stream) throw new OpsbookApiError(502, { error: { code: 'internal', message: 'the event stream answered without a body' } });
    return stream;
  }

  /** `getWorkspaceSetting`. @throws OpsbookApiError (404) when the setting is not set */
  getWorkspaceSetting(key: string): Promise<ApiResponse<'getWorkspaceSetting'>> {
    return answer(this.api.GET('/settings/{key}', { params: { path: { key } } }));
  }

  /** `putWorkspaceSetting`: keep any JSON value (up to 64 KiB) under a key. @throws OpsbookApiError (400) */
  putWorkspaceSetting(key: string, value: ApiRequestBody<'putWorkspaceSetting'>['value']): Promise<ApiResponse<'putWorkspaceSetting'>> {
    return answer(this.api.PUT('/settings/{key}', { params: { path: { key } }, body: { value } }));
  }

  /** `heartbeat`: the runs this process holds open are alive. @throws OpsbookApiError */
  heartbeat(runIds: ApiRequestBody<'heartbeat'>['runs']): Promise<ApiResponse<'heartbeat'>> {
    return answer(this.api.POST('/heartbeat', { body: { runs: runIds } }));
  }

  /**
   * `uploadArtifact`: stores bytes with a run under `name` (replacing an artifact of that name).
   * @throws OpsbookApiError (400 naming `name` for a name outside the allow-list; 404; 413)
   */
  uploadArtifact(
    runId: string,
    name: string,
    content: Blob | Uint8Array | string,
    options: { kind?: 'file' | 'figure' | 'model'; media_type?: string } = {},
  ): Promise<ApiResponse<'uploadArtifact'>> {
    return answer(
      this.api.PUT('/runs/{run_id}/artifacts', {
        params: { path: { run_id: runId }, query: withoutEmpty({ name, ...options }) },
        body: content as never,
        bodySerializer: (body: unknown) => body as BodyInit,
        headers: { 'Content-Type': 'application/octet-stream' },
      }),
    );
  }

  /** `listArtifacts`, sorted by name. @throws OpsbookApiError (404) when the run does not exist */
  listArtifacts(runId: string): Promise<ApiResponse<'listArtifacts'>> {
    return answer(this.api.GET('/runs/{run_id}/artifacts', { params: { path: { run_id: runId } } }));
  }

  /**
   * `getArtifactContent`: the artifact's bytes, typed with its media type.
   * @throws OpsbookApiError (400 for a bad name; 404)
   */
  async artifactContent(runId: string, name: string): Promise<Blob> {
    const { data, error, response } = await this.api.GET('/runs/{run_id}/artifacts/content', {
      params: { path: { run_id: runId }, query: { name } },
      parseAs: 'blob',
    });
    // A 4xx/5xx rejects here with the API's error body, as every other call does.
    if (!response.ok) await answer(Promise.resolve({ data: undefined, error, response }));
    const blob = data as unknown as Blob;
    const type = response.headers.get('Content-Type') ?? blob.type;
    return blob.type === type ? blob : new Blob([blob], { type });
  }

  /**
   * `runQualityCheck`: runs a check suite on a file (or a frame a kernel handed off), recorded against
   * `run_id` when given. A suite that fails is a success answer with `status: 'fail'`.
   * @throws OpsbookApiError (400 naming the field of a bad suite or an unreadable file; 404 for an
   *   unknown run; 409 when cancelled through {@link cancelQualityJob}, or when its job_id is running)
   */
  runQualityCheck(body: ApiRequestBody<'runQualityCheck'>): Promise<ApiResponse<'runQualityCheck'>> {
    return answer(this.api.POST('/quality/check', { body }));
  }

  /** `profileData`: every column's profile. @throws OpsbookApiError (400 for an unreadable file; 409 when cancelled) */
  profileData(body: ApiRequestBody<'profileData'>): Promise<ApiResponse<'profileData'>> {
    return answer(this.api.POST('/quality/profile', { body }));
  }

  /** `compareDrift`: drift of every shared column, ranked. @throws OpsbookApiError (400 for an unreadable file; 409 when cancelled) */
  compareDrift(body: ApiRequestBody<'compareDrift'>): Promise<ApiResponse<'compareDrift'>> {
    return answer(this.api.POST('/quality/drift', { body }));
  }

  /** `suggestSuite`: a starting suite (and its YAML) from the table's profile. @throws OpsbookApiError (400; 409 when cancelled) */
  suggestSuite(body: ApiRequestBody<'suggestSuite'>): Promise<ApiResponse<'suggestSuite'>> {
    return answer(this.api.POST('/quality/suggest', { body }));
  }

  /**
   * `cancelQualityJob`: cancels the running quality job of that id (its request then answers 409);
   * `cancelled: false` when none runs. @throws OpsbookApiError (400 for a malformed id)
   */
  cancelQualityJob(jobId: string): Promise<ApiResponse<'cancelQualityJob'>> {
    return answer(this.api.DELETE('/quality/jobs/{job_id}', { params: { path: { job_id: jobId } } }));
  }

  /**
   * `explainModel`: explains a model's output for rows of a table (TreeSHAP, KernelSHAP or LIME),
   * recorded against the model's run unless `record` is false. Progress comes as `event: explain`.
   * @throws OpsbookApiError (400 bad input: not ONNX, not a tree ensemble for method tree, columns
   *   that do not fit; 404 unknown model; 409 when cancelled through {@link cancelExplainJob}, or when
   *   its job_id is running)
   */
  explainModel(body: ApiRequestBody<'explainModel'>): Promise<ApiResponse<'explainModel'>> {
    return answer(this.api.POST('/explain', { body }));
  }

  /** `cancelExplainJob`: cancels the running explanation job of that id (its request then answers 409). */
  cancelExplainJob(jobId: string): Promise<ApiResponse<'cancelExplainJob'>> {
    return answer(this.api.DELETE('/explain/jobs/{job_id}', { params: { path: { job_id: jobId } } }));
  }

  /**
   * `startEndpoint`: starts an inference server (Open Inference Protocol V2) supervised by the daemon;
   * answers once every model loaded or failed. A model that failed next to a good one is in the answer's
   * models with its error. Status changes and traffic come as `event: serve`.
   * @throws OpsbookApiError (400 bad input, or every model failed to load; 404 unknown registry model;
   *   409 an endpoint of that name is running, or the port is taken; 503 device cuda without CUDA)
   */
  startEndpoint(body: ApiRequestBody<'startEndpoint'>): Promise<ApiResponse<'startEndpoint'>> {
    return answer(this.api.POST('/serve', { body }));
  }

  /** `listEndpoints`: running and recently stopped endpoints, newest first. @throws OpsbookApiError */
  listEndpoints(): Promise<ApiResponse<'listEndpoints'>> {
    return answer(this.api.GET('/serve/endpoints'));
  }

  /** `getEndpoint`. @throws OpsbookApiError (404) when no endpoint has that name */
  getEndpoint(name: string): Promise<ApiResponse<'getEndpoint'>> {
    return answer(this.api.GET('/serve/endpoints/{name}', { params: { path: { name } } }));
  }

  /** `stopEndpoint`: the server drains and exits; answers the stopped endpoint. @throws OpsbookApiError (404) */
  stopEndpoint(name: string): Promise<ApiResponse<'stopEndpoint'>> {
    return answer(this.api.DELETE('/serve/endpoints/{name}', { params: { path: { name } } }));
  }

  /** `getEndpointLogs`: the server's last `tail` log lines (default 200), oldest first. @throws OpsbookApiError (404) */
  endpointLogs(name: string, tail?: number): Promise<ApiResponse<'getEndpointLogs'>> {
    return answer(this.api.GET('/serve/endpoints/{name}/logs', { params: { path: { name }, query: withoutEmpty({ tail }) } }));
  }

  /**
   * `testEndpoint`: sends one inference request to the endpoint through the daemon; the server's
   * status (a 4xx of the server too), latency and body come back as the answer.
   * @throws OpsbookApiError (404 unknown endpoint; 409 when it is not running)
   */
  testEndpoint(name: string, body: ApiRequestBody<'testEndpoint'>): Promise<ApiResponse<'testEndpoint'>> {
    return answer(this.api.POST('/serve/endpoints/{name}/infer', { params: { path: { name } }, body }));
  }

  /**
   * `planDeployment`: the manifests of a deployment, its gates and, when a cluster answers, what
   * applying would change there (server-side dry run). Works without a cluster.
   * @throws OpsbookApiError (400 bad input; 404 unknown registry model)
   */
  planDeployment(body: ApiRequestBody<'planDeployment'>): Promise<ApiResponse<'planDeployment'>> {
    return answer(this.api.POST('/deploy/plan', { body }));
  }

  /**
   * `applyDeployment`: gates, server-side apply (field manager opsbook), record, and the rollout watched
   * unless `wait` is false. Refusals and conflicts are answers (status), not errors. Progress comes as
   * `event: deploy` when `job_id` is given.
   * @throws OpsbookApiError (400 bad input or a manifest the cluster rejected; 404 unknown model; 503 no cluster)
   */
  applyDeployment(body: ApiRequestBody<'applyDeployment'>): Promise<ApiResponse<'applyDeployment'>> {
    return answer(this.api.POST('/deploy', { body }));
  }

  /** `listKubeContexts`: the contexts of the daemon's kubeconfig. @throws OpsbookApiError */
  listKubeContexts(): Promise<ApiResponse<'listKubeContexts'>> {
    return answer(this.api.GET('/deploy/contexts'));
  }

  /** `listDeployments`: recorded deployments, newest first; `live` asks each cluster for its status. @throws OpsbookApiError */
  listDeployments(query: { live?: boolean; run_id?: string } = {}): Promise<ApiResponse<'listDeployments'>> {
    return answer(this.api.GET('/deployments', { params: { query: withoutEmpty(query) } }));
  }

  /** `getDeployment`: one recorded deployment with its live status. @throws OpsbookApiError (404; 503 no cluster) */
  getDeployment(name: string, query: { namespace?: string; context?: string } = {}): Promise<ApiResponse<'getDeployment'>> {
    return answer(this.api.GET('/deployments/{name}', { params: { path: { name }, query: withoutEmpty(query) } }));
  }

  /** `deleteDeployment`: removes what Opsbook created for it (by label selector). @throws OpsbookApiError (404; 503) */
  deleteDeployment(name: string, query: { namespace?: string; context?: string } = {}): Promise<ApiResponse<'deleteDeployment'>> {
    return answer(this.api.DELETE('/deployments/{name}', { params: { path: { name }, query: withoutEmpty(query) } }));
  }

  /** `promoteDeployment`: the canary's model takes all traffic. @throws OpsbookApiError (404; 409 no canary; 503) */
  promoteDeployment(name: string, body: ApiRequestBody<'promoteDeployment'> = {}): Promise<ApiResponse<'promoteDeployment'>> {
    return answer(this.api.POST('/deployments/{name}/promote', { params: { path: { name } }, body }));
  }

  /** `rollbackDeployment`: removes the canary, else returns to the previous revision. @throws OpsbookApiError (404; 409 nothing to return to; 503) */
  rollbackDeployment(name: string, body: ApiRequestBody<'rollbackDeployment'> = {}): Promise<ApiResponse<'rollbackDeployment'>> {
    return answer(this.api.POST('/deployments/{name}/rollback', { params: { path: { name } }, body }));
  }

  /** `listModels`: registered models with versions and aliases. @throws OpsbookApiError */
  listModels(): Promise<ApiResponse<'listModels'>> {
    return answer(this.api.GET('/models'));
  }

  /** `getModel`. @throws OpsbookApiError (404) when no model has that name */
  getModel(name: string): Promise<ApiResponse<'getModel'>> {
    return answer(this.api.GET('/models/{name}', { params: { path: { name } } }));
  }

  /** `registerModelVersion`: the next version of `name`. @throws OpsbookApiError (404 for an unknown run or artifact) */
  registerModelVersion(name: string, body: ApiRequestBody<'registerModelVersion'>): Promise<ApiResponse<'registerModelVersion'>> {
    return answer(this.api.POST('/models/{name}/versions', { params: { path: { name } }, body }));
  }

  /** `getModelVersion`. @throws OpsbookApiError (404) */
  getModelVersion(name: string, version: number): Promise<ApiResponse<'getModelVersion'>> {
    return answer(this.api.GET('/models/{name}/versions/{version}', { params: { path: { name, version } } }));
  }

  /** `setModelAlias`: points `alias` at `version`. @throws OpsbookApiError (404 for an unknown model or version) */
  setModelAlias(name: string, alias: string, version: number): Promise<ApiResponse<'setModelAlias'>> {
    return answer(this.api.PUT('/models/{name}/aliases/{alias}', { params: { path: { name, alias } }, body: { version } }));
  }

  /** `deleteModelAlias`. @throws OpsbookApiError (404 for an unknown model or alias) */
  deleteModelAlias(name: string, alias: string): Promise<ApiResponse<'deleteModelAlias'>> {
    return answer(this.api.DELETE('/models/{name}/aliases/{alias}', { params: { path: { name, alias } } }));
  }

  /** `resolveModel`: NAME, NAME:VERSION, NAME@ALIAS or an .onnx path. @throws OpsbookApiError (400 bad ref, 404 unknown) */
  resolveModel(ref: string): Promise<ApiResponse<'resolveModel'>> {
    return answer(this.api.GET('/models/resolve', { params: { query: { ref } } }));
  }
}

/**
 * The success body, or an {@link OpsbookApiError} with the API's error body (or one made from the
 * status when something in between, such as a proxy, answered without it).
 */
async function answer<T>(pending: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await pending;
  if (!response.ok) {
    const body: ErrorBody = isErrorBody(error)
      ? error
      : { error: { code: 'internal', message: `HTTP ${response.status}: ${describe(error).slice(0, 200)}` } };
    throw new OpsbookApiError(response.status, body);
  }
  return data as T;
}

function isErrorBody(value: unknown): value is ErrorBody {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { error?: { message?: unknown } }).error?.message === 'string'
  );
}

function describe(error: unknown): string {
  if (error === undefined) return '';
  return typeof error === 'string' ? error : JSON.stringify(error);
}

/** An empty filter means no filter (as the CLI and the views pass one), not a value the API refuses. */
function withoutEmpty<Q extends object>(query: Q): Q {
  return Object.fromEntries(Object.entries(query).filter(([, value]) => value !== undefined && value !== '')) as Q;
}
