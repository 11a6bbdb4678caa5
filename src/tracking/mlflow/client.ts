/**
 * A small client of an MLflow tracking server's REST API (`/api/2.0/mlflow/*`) and of its artifact
 * proxy (`/api/2.0/mlflow-artifacts/*`, on when the server runs with `--serve-artifacts`, MLflow's
 * default since 2.0). Only what import, export and the MLflow backend use.
 */

/** MLflow's own limits on one `runs/log-batch` call. */
export const LOG_BATCH_MAX_METRICS = 1000;
export const LOG_BATCH_MAX_PARAMS = 100;
export const LOG_BATCH_MAX_TAGS = 100;
/** Most runs one `runs/search` page returns. */
const SEARCH_PAGE = 1000;
/** Points one `metrics/get-history` page returns. */
const HISTORY_PAGE = 25_000;

export type MlflowRunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

export interface MlflowKeyValue {
  key: string;
  value: string;
}

export interface MlflowMetric {
  key: string;
  /** A number, or one of MLflow's spellings of a non-finite value ("NaN", "Infinity", "-Infinity"). */
  value: number | string;
  timestamp: number;
  step: number;
}

export interface MlflowExperiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage?: string;
  creation_time?: number;
}

export interface MlflowRunInfo {
  run_id: string;
  experiment_id: string;
  run_name?: string;
  status: MlflowRunStatus;
  start_time?: number;
  end_time?: number;
  artifact_uri?: string;
  lifecycle_stage?: string;
}

export interface MlflowRun {
  info: MlflowRunInfo;
  data: { params?: MlflowKeyValue[]; tags?: MlflowKeyValue[]; metrics?: MlflowMetric[] };
}

export interface MlflowFileInfo {
  path: string;
  is_dir?: boolean;
  file_size?: number;
}

/** An MLflow server answered an error (its `error_code` and message), or could not be reached (status 0). */
export class MlflowError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
    this.name = 'MlflowError';
  }
}

/**
 * One MLflow tracking server. Every method throws {@link MlflowError} when the server answers an error
 * (its `error_code`, e.g. `RESOURCE_DOES_NOT_EXIST`) or cannot be reached (status 0, code `UNREACHABLE`).
 */
export class MlflowClient {
  /** The server's base URL without a trailing slash, e.g. `http://127.0.0.1:5000`. */
  readonly baseUrl: string;

  /** @throws TypeError when `trackingUri` is not an http(s) URL. */
  constructor(trackingUri: string) {
    const url = new URL(trackingUri);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`an MLflow tracking URI must be http(s)://…, not ${JSON.stringify(trackingUri)}`);
    }
    this.baseUrl = trackingUri.replace(/\/+$/, '');
  }

  /** @throws MlflowError */
  async getExperimentByName(name: string): Promise<MlflowExperiment | null> {
    try {
      const answer = await this.call<{ experiment: MlflowExperiment }>('GET', 'experiments/get-by-name', { experiment_name: name });
      return answer.experiment;
    } catch (error) {
      if (error instanceof MlflowError && error.errorCode === 'RESOURCE_DOES_NOT_EXIST') return null;
      throw error;
    }
  }

  /** @throws MlflowError */
  async getExperiment(id: string): Promise<MlflowExperiment> {
    return (await this.call<{ experiment: MlflowExperiment }>('GET', 'experiments/get', { experiment_id: id })).experiment;
  }

  /** The experiment named `name`, created when missing. @throws MlflowError */
  async ensureExperiment(name: string): Promise<MlflowExperiment> {
    const found = await this.getExperimentByName(name);
    if (found) return found;
    try {
      const { experiment_id } = await this.call<{ experiment_id: string }>('POST', 'experiments/create', { name });
      return await this.getExperiment(experiment_id);
    } catch (error) {
      // Another writer created it between the look-up and the create.
      const raced = error instanceof MlflowError && error.errorCode === 'RESOURCE_ALREADY_EXISTS' ? await this.getExperimentByName(name) : null;
      if (raced) return raced;
      throw error;
    }
  }

  /** Active experiments, every page. @throws MlflowError */
  async listExperiments(): Promise<MlflowExperiment[]> {
    const all: MlflowExperiment[] = [];
    let pageToken: string | undefined;
    do {
      const answer = await this.call<{ experiments?: MlflowExperiment[]; next_page_token?: string }>('POST', 'experiments/search', {
        max_results: 1000,
        view_type: 'ACTIVE_ONLY',
        ...(pageToken ? { page_token: pageToken } : {}),
      });
      all.push(...(answer.experiments ?? []));
      pageToken = answer.next_page_token || undefined;
    } while (pageToken);
    return all;
  }

  /**
   * Runs of the experiments, every page, or at most `limit`.
   * @throws MlflowError
   */
  async searchRuns(
    experimentIds: readonly string[],
    options: { filter?: string; limit?: number; orderBy?: string[] } = {},
  ): Promise<MlflowRun[]> {
    if (experimentIds.length === 0) return [];
    const all: MlflowRun[] = [];
    let pageToken: string | undefined;
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    do {
      const answer = await this.call<{ runs?: MlflowRun[]; next_page_token?: string }>('POST', 'runs/search', {
        experiment_ids: experimentIds,
        run_view_type: 'ACTIVE_ONLY',
        max_results: Math.min(SEARCH_PAGE, limit - all.length),
        ...(options.filter ? { filter: options.filter } : {}),
        ...(options.orderBy ? { order_by: options.orderBy } : {}),
        ...(pageToken ? { page_token: pageToken } : {}),
      });
      all.push(...(answer.runs ?? []));
      pageToken = answer.next_page_token || undefined;
    } while (pageToken && all.length < limit);
    return all;
  }

  /** @throws MlflowError (`RESOURCE_DOES_NOT_EXIST` for an unknown run) */
  async getRun(runId: string): Promise<MlflowRun> {
    return (await this.call<{ run: MlflowRun }>('GET', 'runs/get', { run_id: runId })).run;
  }

  /** @throws MlflowError */
  async createRun(input: { experimentId: string; name?: string; startTime: number; tags: MlflowKeyValue[] }): Promise<MlflowRun> {
    const answer = await this.call<{ run: MlflowRun }>('POST', 'runs/create', {
      experiment_id: input.experimentId,
      start_time: input.startTime,
      tags: input.tags,
      ...(input.name !== undefined ? { run_name: input.name } : {}),
    });
    return answer.run;
  }

  /** @throws MlflowError */
  async updateRun(runId: string, update: { status?: MlflowRunStatus; endTime?: number; name?: string }): Promise<void> {
    await this.call('POST', 'runs/update', {
      run_id: runId,
      ...(update.status !== undefined ? { status: update.status } : {}),
      ...(update.endTime !== undefined ? { end_time: update.endTime } : {}),
      ...(update.name !== undefined ? { run_name: update.name } : {}),
    });
  }

  /** @throws MlflowError */
  async deleteTag(runId: string, key: string): Promise<void> {
    await this.call('POST', 'runs/delete-tag', { run_id: runId, key });
  }

  /**
   * Logs params, tags and metrics in as many `runs/log-batch` calls as MLflow's limits need
   * (params and tags first, so a run's metrics never land before its params).
   * @throws MlflowError
   */
  async logBatch(runId: string, batch: { params?: MlflowKeyValue[]; tags?: MlflowKeyValue[]; metrics?: MlflowMetric[] }): Promise<void> {
    const params = batch.params ?? [];
    const tags = batch.tags ?? [];
    const metrics = batch.metrics ?? [];
    for (let i = 0; i < Math.max(params.length, tags.length); i += LOG_BATCH_MAX_PARAMS) {
      await this.call('POST', 'runs/log-batch', {
        run_id: runId,
        params: params.slice(i, i + LOG_BATCH_MAX_PARAMS),
        tags: tags.slice(i, i + LOG_BATCH_MAX_TAGS),
      });
    }
    for (let i = 0; i < metrics.length; i += LOG_BATCH_MAX_METRICS) {
      await this.call('POST', 'runs/log-batch', { run_id: runId, metrics: metrics.slice(i, i + LOG_BATCH_MAX_METRICS) });
    }
  }

  /** Every point of one metric, in MLflow's order, every page. @throws MlflowError */
  async metricHistory(runId: string, key: string): Promise<MlflowMetric[]> {
    const all: MlflowMetric[] = [];
    let pageToken: string | undefined;
    do {
      const answer = await this.call<{ metrics?: MlflowMetric[]; next_page_token?: string }>('GET', 'metrics/get-history', {
        run_id: runId,
        metric_key: key,
        max_results: String(HISTORY_PAGE),
        ...(pageToken ? { page_token: pageToken } : {}),
      });
      all.push(...(answer.metrics ?? []));
      pageToken = answer.next_page_token || undefined;
    } while (pageToken);
    return all;
  }

  /**
   * Every file (not folder) under a run's artifact root, with paths relative to it.
   * @throws MlflowError
   */
  async listArtifactFiles(runId: string, path = ''): Promise<MlflowFileInfo[]> {
    const files: MlflowFileInfo[] = [];
    let pageToken: string | undefined;
    do {
      const answer = await this.call<{ files?: MlflowFileInfo[]; next_page_token?: string }>('GET', 'artifacts/list', {
        run_id: runId,
        ...(path ? { path } : {}),
        ...(pageToken ? { page_token: pageToken } : {}),
      });
      for (const file of answer.files ?? []) {
        if (file.is_dir) files.push(...(await this.listArtifactFiles(runId, file.path)));
        else files.push(file);
      }
      pageToken = answer.next_page_token || undefined;
    } while (pageToken);
    return files;
  }

  /** Whether this server proxies the run's artifacts (an artifact URI `mlflow-artifacts:/…`). */
  canReadArtifacts(run: MlflowRunInfo): boolean {
    return run.artifact_uri?.startsWith('mlflow-artifacts:') === true;
  }

  /**
   * The bytes of one artifact of a run whose artifact URI is served by this server
   * (`mlflow-artifacts:/…`).
   * @throws MlflowError (status 0, code `UNSUPPORTED_ARTIFACT_URI`, for another kind of artifact store)
   */
  async downloadArtifact(run: MlflowRunInfo, path: string): Promise<Uint8Array> {
    const response = await this.send('GET', this.artifactUrl(run, path));
    return new Uint8Array(await response.arrayBuffer());
  }

  /** Uploads one artifact of a run. @throws MlflowError as {@link downloadArtifact} */
  async uploadArtifact(run: MlflowRunInfo, path: string, bytes: Uint8Array): Promise<void> {
    await this.send('PUT', this.artifactUrl(run, path), bytes);
  }

  private artifactUrl(run: MlflowRunInfo, path: string): string {
    const uri = run.artifact_uri ?? '';
    const match = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.*)$/.exec(uri);
    if (!match) {
      throw new MlflowError(0, 'UNSUPPORTED_ARTIFACT_URI', `run ${run.run_id} keeps its artifacts at ${JSON.stringify(uri)}, which this server does not proxy (start it with --serve-artifacts)`);
    }
    const parts = [...match[1].split('/'), ...path.split('/')].filter((part) => part !== '');
    return `${this.baseUrl}/api/2.0/mlflow-artifacts/artifacts/${parts.map(encodeURIComponent).join('/')}`;
  }

  private async call<T = unknown>(method: 'GET' | 'POST', endpoint: string, input: Record<string, unknown>): Promise<T> {
    let url = `${this.baseUrl}/api/2.0/mlflow/${endpoint}`;
    let body: string | undefined;
    if (method === 'GET') {
      const query = new URLSearchParams(Object.entries(input).map(([k, v]) => [k, String(v)]));
      url += `?${query.toString()}`;
    } else {
      body = JSON.stringify(input);
    }
    const response = await this.send(method, url, body);
    const text = await response.text();
    return (text ? JSON.parse(text) : {}) as T;
  }

  private async send(method: string, url: string, body?: string | Uint8Array): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        body: body as BodyInit | undefined,
        headers: typeof body === 'string' ? { 'Content-Type': 'application/json' } : body ? { 'Content-Type': 'application/octet-stream' } : {},
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new MlflowError(0, 'UNREACHABLE', `the MLflow server at ${this.baseUrl} cannot be reached: ${cause?.code ?? cause?.message ?? String(error)}`);
    }
    if (response.ok) return response;
    const text = await response.text();
    let code = `HTTP_${response.status}`;
    let message = text.slice(0, 500);
    try {
      const parsed = JSON.parse(text) as { error_code?: string; message?: string };
      code = parsed.error_code ?? code;
      message = parsed.message ?? message;
    } catch {
      // Not MLflow's JSON error body (a proxy's page): keep the text.
    }
    throw new MlflowError(response.status, code, `MLflow ${method} ${new URL(url).pathname}: ${message}`);
  }
}
