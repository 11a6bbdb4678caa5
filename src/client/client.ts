import type {
  DaemonInfo,
  ErrorBody,
  ExperimentList,
  MetricHistory,
  MetricPoint,
  MetricsAccepted,
  Run,
  RunCreate,
  RunDetail,
  RunList,
  RunUpdate,
} from '@opsbook/schema';

/** The request and response of each operation of `schema/openapi.json`, keyed by operationId. */
export interface ApiMap {
  getHealth: [Record<string, never>, DaemonInfo];
  listExperiments: [Record<string, never>, ExperimentList];
  listRuns: [{ experiment?: string; status?: Run['status']; limit?: number }, RunList];
  createRun: [RunCreate, Run];
  getRun: [{ run_id: string }, RunDetail];
  updateRun: [{ run_id: string } & RunUpdate, Run];
  logParams: [{ run_id: string; params: Record<string, string> }, RunDetail];
  logMetrics: [{ run_id: string; metrics: MetricPoint[] }, MetricsAccepted];
  getMetricHistory: [{ run_id: string; key?: string; max_points?: number }, MetricHistory];
}

export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body?: string }) => Promise<{
  ok: boolean;
  status: number;
  text(): Promise<string>;
}>;

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

const enc = encodeURIComponent;

/**
 * Typed client of the core HTTP API. Browser-safe: it only needs a fetch function.
 * Every method throws {@link OpsbookApiError} on a 4xx/5xx answer.
 */
export class OpsbookClient {
  private readonly fetchImpl: FetchLike;

  constructor(private readonly options: ClientOptions) {
    this.fetchImpl = options.fetch ?? ((url, init) => fetch(url, init));
  }

  /** @throws OpsbookApiError */
  health(): Promise<DaemonInfo> {
    return this.call('GET', '/health');
  }

  /** @throws OpsbookApiError */
  listExperiments(): Promise<ExperimentList> {
    return this.call('GET', '/experiments');
  }

  /** @throws OpsbookApiError */
  listRuns(query: ApiMap['listRuns'][0] = {}): Promise<RunList> {
    return this.call('GET', `/runs${queryString(query)}`);
  }

  /** @throws OpsbookApiError */
  createRun(body: RunCreate): Promise<Run> {
    return this.call('POST', '/runs', body);
  }

  /** @throws OpsbookApiError when the run does not exist (404) */
  getRun(runId: string): Promise<RunDetail> {
    return this.call('GET', `/runs/${enc(runId)}`);
  }

  /** @throws OpsbookApiError */
  updateRun(runId: string, body: RunUpdate): Promise<Run> {
    return this.call('PATCH', `/runs/${enc(runId)}`, body);
  }

  /** @throws OpsbookApiError */
  logParams(runId: string, params: Record<string, string>): Promise<RunDetail> {
    return this.call('POST', `/runs/${enc(runId)}/params`, { params });
  }

  /** @throws OpsbookApiError */
  logMetrics(runId: string, metrics: MetricPoint[]): Promise<MetricsAccepted> {
    return this.call('POST', `/runs/${enc(runId)}/metrics`, { metrics });
  }

  /** @throws OpsbookApiError */
  metricHistory(runId: string, query: { key?: string; max_points?: number } = {}): Promise<MetricHistory> {
    return this.call('GET', `/runs/${enc(runId)}/metrics${queryString(query)}`);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.options.token) headers.Authorization = `Bearer ${this.options.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await this.fetchImpl(`${this.options.baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (!response.ok) {
      const errorBody = isErrorBody(parsed)
        ? parsed
        : { error: { code: 'internal' as const, message: `HTTP ${response.status}: ${text.slice(0, 200)}` } };
      throw new OpsbookApiError(response.status, errorBody);
    }
    return parsed as T;
  }
}

function isErrorBody(value: unknown): value is ErrorBody {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { error?: { message?: unknown } }).error?.message === 'string'
  );
}

function queryString(query: Record<string, string | number | undefined>): string {
  const parts = Object.entries(query)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${enc(k)}=${enc(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}
