import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, extname, join, posix, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import {
  SchemaValidator,
  type Endpoint,
  type EndpointList,
  type EndpointLogs,
  type EndpointModel,
  type EndpointStats,
  type EndpointTestAnswer,
  type EndpointTestRequest,
  type InferenceRequest,
  type ServeConfig,
  type ServedModelSpec,
  type ServeEvent,
} from '@opsbook/schema';
import { BadInputError, ConflictError, NotFoundError } from '../store/errors';
import type { ArtifactStore } from '../tracking/artifacts';
import type { ModelRegistry } from '../tracking/registry';
import type * as Gpu from '../serving/gpu';
import { endpointName, servedNameOf } from '../serving/config';
import { HttpError } from './errors';

// The naming rules are the serving capability's own (a config file given to a server names models alike).
export { endpointName, servedNameOf };

/** Log lines of each server the daemon keeps (what `getEndpointLogs` can answer). */
export const KEPT_LOG_LINES = 1000;
/** Stopped and failed endpoints listed besides the running ones; older ones are forgotten. */
export const KEPT_STOPPED = 50;
/** How long a server may take from its start to `ready` before it is killed and marked failed. */
export const START_TIMEOUT_MS = 60_000;
/** How long a stopping server may drain before it is killed. */
export const STOP_GRACE_MS = 10_000;
/**
 * Set in the environment of the servers the daemon starts: such a server drains and exits when its
 * stdin ends, which it does when the daemon dies (even by SIGKILL), so no server outlives its daemon.
 */
export const SUPERVISED_ENV = 'OPSBOOK_SERVE_SUPERVISED';
/** How long the daemon waits for the server's answer to a test request. */
const TEST_TIMEOUT_MS = 60_000;

type Status = Endpoint['status'];
const RUNNING: ReadonlySet<Status> = new Set<Status>(['starting', 'ready', 'stopping']);
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export interface EndpointSupervisorOptions {
  /** The script that runs the `opsbook` CLI; servers are started as `node <cli> serve --foreground`. */
  cliEntry: () => string;
  /** Where unexpected failures (recording an endpoint against its run) are reported. */
  log?: (line: string) => void;
  /** Overrides for tests: start timeout and drain grace, in ms. */
  startTimeoutMs?: number;
  stopGraceMs?: number;
}

/** One endpoint and the process behind it. */
interface Supervised {
  endpoint: Endpoint;
  child: ChildProcess | null;
  apiKey: string | null;
  lines: Record<string, unknown>[];
  /** Settles once the process has exited (at once for one that never started). */
  exited: Promise<void>;
  /** The `fatal` line's code, when the server wrote one. */
  fatalCode: string | null;
  /** The last `error`-level line: why a server that exits on its own stopped. */
  lastError: string | null;
  stopping: Promise<Endpoint> | null;
}

/** The server process's machine-read lines (see docs/serving.md, "The server process protocol"). */
interface ProtocolLine {
  event?: string;
  level?: string;
  msg?: string;
  [field: string]: unknown;
}

/** A model as the server reports it in its `model` and `ready` lines. */
interface ReportedModel {
  name?: string;
  version?: string;
  ready?: boolean;
  error?: string | null;
  inputs?: EndpointModel['inputs'];
  outputs?: EndpointModel['outputs'];
}

/**
 * The daemon's inference servers: each endpoint is a child process running `opsbook serve
 * --foreground` (the daemon itself never loads onnxruntime for serving). The supervisor resolves the
 * models through the registry, starts the process with the resolved config, reads its JSON-line log
 * (keeping the last {@link KEPT_LOG_LINES}) to follow its status and traffic, reports both as
 * `event: serve`, forwards test requests, stops it with SIGTERM (SIGKILL after {@link STOP_GRACE_MS}),
 * and records each registry model's endpoint against its run as artifact `endpoints/<name>.json`.
 */
export class EndpointSupervisor {
  private readonly endpoints = new Map<string, Supervised>();
  private readonly validator = SchemaValidator.shared();
  private readonly log: (line: string) => void;
  private readonly startTimeoutMs: number;
  private readonly stopGraceMs: number;
  // One recording at a time: a stop's record never races the ready's for one artifact.
  private recording: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly workspace: string,
    private readonly registry: ModelRegistry,
    private readonly artifacts: ArtifactStore,
    private readonly notify: (event: ServeEvent) => void,
    private readonly options: EndpointSupervisorOptions,
  ) {
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.startTimeoutMs = options.startTimeoutMs ?? START_TIMEOUT_MS;
    this.stopGraceMs = options.stopGraceMs ?? STOP_GRACE_MS;
  }

  /**
   * Starts a server for `config` and answers once every model loaded or failed (status ready).
   * @throws BadInputError for a model that is not an .onnx file, two models served under one name and
   *   version, a non-loopback host without api_key, or a server that could load none of its models;
   *   NotFoundError for an unknown registry model; ConflictError when an endpoint of that name is
   *   running or the port is taken; HttpError 503 when the device asked for is unavailable or the
   *   server did not start.
   */
  async start(config: ServeConfig): Promise<Endpoint> {
    this.refuseClosed();
    const host = config.host ?? '127.0.0.1';
    if (!LOOPBACK.has(host) && !config.api_key && config.insecure !== true) {
      throw new BadInputError('host', host, `serving on ${host} (not loopback) needs api_key, or insecure: true`);
    }
    if (config.name !== undefined) this.refuseRunning(config.name);
    const models = await this.resolveModels(config.models);
    const name = config.name ?? endpointName(models[0].name!);
    // Checked (again) after resolving: two starts of one name must not both spawn, nor one after close().
    this.refuseClosed();
    this.refuseRunning(name);
    const folder = join(this.workspace, '.opsbook', 'serving', name);
    // The server runs in the workspace: a relative folder is the workspace's, and the Endpoint says which.
    const requestLogDir = config.request_log === false ? null : resolve(this.workspace, config.request_log_dir ?? join(folder, 'requests'));
    const { api_key: apiKey = null, ...rest } = config;
    const resolved: ServeConfig = {
      ...rest,
      name,
      models: models as ServeConfig['models'],
      ...(requestLogDir === null ? {} : { request_log_dir: requestLogDir }),
    };
    const endpoint: Endpoint = {
      name,
      status: 'starting',
      url: null,
      host,
      port: config.port ?? null,
      device: null,
      pid: null,
      models: models.map((m) => ({
        name: m.name!,
        version: m.version!,
        model: m.model,
        path: m.path!,
        run_id: m.run_id ?? null,
        ready: false,
        error: null,
        inputs: [],
        outputs: [],
        sample_request: m.sample_request ?? null,
      })),
      config: resolved,
      started_at: new Date().toISOString(),
      stopped_at: null,
      error: null,
      request_log_dir: requestLogDir,
      stats: null,
    };
    const supervised: Supervised = {
      endpoint,
      child: null,
      apiKey,
      lines: [],
      exited: Promise.resolve(),
      fatalCode: null,
      lastError: null,
      stopping: null,
    };
    mkdirSync(folder, { recursive: true });
    const configFile = join(folder, 'config.json');
    // The key never reaches the file or argv: the server reads it from its environment.
    writeFileSync(configFile, `${JSON.stringify(resolved, null, 2)}\n`, { mode: 0o600 });
    this.endpoints.delete(name);
    this.endpoints.set(name, supervised);
    this.forgetOldest();
    this.notifyStatus(supervised);
    return this.spawnServer(supervised, configFile);
  }

  /** Every endpoint, running and the last {@link KEPT_STOPPED} ended, newest first. */
  list(): EndpointList {
    return { endpoints: [...this.endpoints.values()].map((s) => copy(s.endpoint)).reverse() };
  }

  /** @throws NotFoundError when no endpoint has that name. */
  get(name: string): Endpoint {
    return copy(this.find(name).endpoint);
  }

  /** The last `tail` log lines of the endpoint's server, oldest first. @throws NotFoundError */
  logs(name: string, tail = 200): EndpointLogs {
    const { lines } = this.find(name);
    return { name, lines: lines.slice(-Math.max(1, Math.min(tail, KEPT_LOG_LINES))) };
  }

  /**
   * Stops the endpoint: SIGTERM (the server drains), SIGKILL after the grace; answers it stopped.
   * An endpoint that already ended is answered as it is.
   * @throws NotFoundError when no endpoint has that name.
   */
  stop(name: string): Promise<Endpoint> {
    const supervised = this.find(name);
    if (!RUNNING.has(supervised.endpoint.status) && !supervised.stopping) return Promise.resolve(copy(supervised.endpoint));
    supervised.stopping ??= this.terminate(supervised);
    return supervised.stopping;
  }

  /**
   * Sends one inference request to the endpoint's server, as a client would (with its API key).
   * @throws NotFoundError for an unknown endpoint; ConflictError when it is not ready.
   */
  async test(name: string, request: EndpointTestRequest): Promise<EndpointTestAnswer> {
    const { endpoint, apiKey } = this.find(name);
    if (endpoint.status !== 'ready' || !endpoint.url) {
      throw new ConflictError('name', name, `endpoint ${JSON.stringify(name)} is ${endpoint.status}, not ready`);
    }
    const path = `/v2/models/${encodeURIComponent(request.model)}${request.version === undefined ? '' : `/versions/${encodeURIComponent(request.version)}`}/infer`;
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
    const started = performance.now();
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${endpoint.url}${path}`, {
        method: 'POST',
        headers,
        body: JSON.stringify(request.request),
        signal: AbortSignal.timeout(TEST_TIMEOUT_MS),
      });
      text = await response.text();
    } catch (error) {
      throw new HttpError(503, 'unavailable', `endpoint ${JSON.stringify(name)} did not answer: ${describe(error)}`);
    }
    const latency = performance.now() - started;
    let body: unknown;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      body = undefined;
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) body = { error: text.slice(0, 1000) };
    return { status: response.status, latency_ms: latency, body: body as Record<string, unknown> };
  }

  /** Stops every running endpoint (the daemon is stopping), and waits for their records. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.endpoints.keys()].map((name) => this.stop(name).catch(() => undefined)));
    await this.recording;
  }

  private find(name: string): Supervised {
    const found = this.endpoints.get(name);
    if (!found) throw new NotFoundError('name', name, `no endpoint named ${JSON.stringify(name)}`);
    return found;
  }

  private refuseClosed(): void {
    if (this.closed) throw new HttpError(503, 'unavailable', 'the daemon is stopping');
  }

  private refuseRunning(name: string): void {
    const existing = this.endpoints.get(name);
    if (existing && RUNNING.has(existing.endpoint.status)) {
      throw new ConflictError('name', name, `endpoint ${JSON.stringify(name)} is ${existing.endpoint.status}; stop it first or choose another name`);
    }
  }

  private forgetOldest(): void {
    const ended = [...this.endpoints.entries()].filter(([, s]) => !RUNNING.has(s.endpoint.status));
    for (const [name] of ended.slice(0, Math.max(0, ended.length - KEPT_STOPPED))) this.endpoints.delete(name);
  }

  /**
   * Each model's file, served name and version, run and sample request.
   * @throws BadInputError / NotFoundError naming `models/<i>/model`.
   */
  private async resolveModels(specs: readonly ServedModelSpec[]): Promise<ServedModelSpec[]> {
    const resolved: ServedModelSpec[] = [];
    for (const [i, spec] of specs.entries()) {
      const field = `models/${i}/model`;
      let found: Awaited<ReturnType<ModelRegistry['resolve']>>;
      try {
        found = await this.registry.resolve(spec.model);
      } catch (error) {
        if (error instanceof NotFoundError) throw new NotFoundError(field, spec.model, error.message);
        if (error instanceof BadInputError) throw new BadInputError(field, spec.model, error.message);
        throw error;
      }
      if (extname(found.path).toLowerCase() !== '.onnx') {
        throw new BadInputError(field, spec.model, `model ${JSON.stringify(spec.model)} is not an .onnx file (${basename(found.path)})`);
      }
      const version = found.version;
      const served: ServedModelSpec = {
        ...spec,
        name: spec.name ?? version?.name ?? servedNameOf(found.path),
        version: spec.version ?? (version ? String(version.version) : '1'),
        path: found.path,
        run_id: version?.run_id ?? null,
      };
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(served.name!)) {
        throw new BadInputError(`models/${i}/name`, served.name, `${JSON.stringify(served.name)} cannot be a served model name; give one with name (SERVED=MODEL on the command line)`);
      }
      const sample = spec.sample_request ?? (version?.run_id ? await this.sampleOf(version.run_id, version.artifact) : null);
      if (sample) served.sample_request = sample;
      const twin = resolved.find((other) => other.name === served.name && other.version === served.version);
      if (twin) {
        throw new BadInputError(`models/${i}/name`, served.name, `two models are served as ${served.name} version ${served.version}; give one another name or version`);
      }
      resolved.push(served);
    }
    return resolved;
  }

  /** The run's `<stem>.sample.json` beside the model's artifact (log_model writes it), when valid. */
  private async sampleOf(runId: string, artifact: string): Promise<InferenceRequest | null> {
    const stem = posix.basename(artifact, posix.extname(artifact));
    const dir = posix.dirname(artifact);
    const name = dir === '.' ? `${stem}.sample.json` : `${dir}/${stem}.sample.json`;
    try {
      const value = JSON.parse(readFileSync(await this.artifacts.pathOf(runId, name), 'utf8')) as unknown;
      return this.validator.check('inference.schema.json#/$defs/InferenceRequest', value) === null ? (value as InferenceRequest) : null;
    } catch {
      // No sample logged (an older log_model, a model registered by hand): the form starts from zeros.
      return null;
    }
  }

  private spawnServer(supervised: Supervised, configFile: string): Promise<Endpoint> {
    const { endpoint } = supervised;
    const env: NodeJS.ProcessEnv = { ...process.env, [SUPERVISED_ENV]: '1' };
    delete env.OPSBOOK_SERVE_API_KEY;
    // The CUDA libraries `opsbook gpu setup` unpacked: the provider has no runpath, and a process reads
    // LD_LIBRARY_PATH only when it starts.
    // A plain require on use, as the explain capability is loaded: gpu.ts brings onnx-proto, which a
    // daemon that never serves on a GPU need not load.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const cudaLibraries = endpoint.config.device === 'cpu' ? null : (require('../serving/gpu') as typeof Gpu).cudaLibraryPath();
    if (cudaLibraries) env.LD_LIBRARY_PATH = [cudaLibraries, env.LD_LIBRARY_PATH].filter(Boolean).join(':');
    if (supervised.apiKey) env.OPSBOOK_SERVE_API_KEY = supervised.apiKey;
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [this.options.cliEntry(), 'serve', '--foreground', '--config', configFile], {
        cwd: this.workspace,
        env,
        // stdin stays open, unwritten, for as long as the daemon lives: its end tells the server the daemon is gone.
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    } catch (error) {
      this.fail(supervised, `the server could not be started: ${describe(error)}`);
      return Promise.reject(new HttpError(503, 'unavailable', endpoint.error!));
    }
    supervised.child = child;
    endpoint.pid = child.pid ?? null;
    return new Promise<Endpoint>((resolve, reject) => {
      let settled = false;
      const settle = (error?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(copy(endpoint));
      };
      const timer = setTimeout(() => {
        if (endpoint.status !== 'starting') return;
        this.fail(supervised, `the server was not ready within ${this.startTimeoutMs / 1000} s`);
        child.kill('SIGKILL');
        settle(new HttpError(503, 'unavailable', `endpoint ${JSON.stringify(endpoint.name)}: ${endpoint.error}`));
      }, this.startTimeoutMs);
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (text) => {
        const line = this.keep(supervised, text, 'info');
        this.follow(supervised, line);
        if (line.event === 'ready') settle();
      });
      const errors = createInterface({ input: child.stderr! });
      errors.on('line', (text) => {
        // stderr is not the protocol: the CLI's one-line refusal, a crash's stack trace, a native library's complaint.
        this.keep(supervised, text, 'error');
        if (/^opsbook: |^[A-Za-z]*(Error|Exception)\b[^:]*: /.test(text)) supervised.lastError = text;
      });
      supervised.exited = new Promise<void>((exited) => {
        child.once('error', (error) => {
          this.fail(supervised, `the server could not be started: ${describe(error)}`);
          settle(new HttpError(503, 'unavailable', endpoint.error!));
          exited();
        });
        child.once('close', (code, signal) => {
          this.exited(supervised, code, signal);
          if (endpoint.status === 'failed') settle(this.startFailure(supervised));
          else settle(new ConflictError('name', endpoint.name, `endpoint ${JSON.stringify(endpoint.name)} was stopped before it was ready`));
          exited();
        });
      });
    });
  }

  /** One line of the server's output, kept (as a log object) for `logs`. */
  private keep(supervised: Supervised, text: string, level: 'info' | 'error'): ProtocolLine {
    let line: ProtocolLine;
    try {
      const parsed = JSON.parse(text) as unknown;
      line = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as ProtocolLine) : { msg: text };
    } catch {
      line = { msg: text };
    }
    if (line.time === undefined) line = { time: new Date().toISOString(), level, ...line };
    supervised.lines.push(line);
    if (supervised.lines.length > KEPT_LOG_LINES) supervised.lines.splice(0, supervised.lines.length - KEPT_LOG_LINES);
    if (level === 'info' && line.level === 'error' && typeof line.msg === 'string' && line.event !== 'fatal') supervised.lastError = line.msg;
    return line;
  }

  /** Follows the server's machine-read lines. */
  private follow(supervised: Supervised, line: ProtocolLine): void {
    const { endpoint } = supervised;
    switch (line.event) {
      case 'listening':
        if (typeof line.url === 'string') endpoint.url = line.url;
        if (typeof line.port === 'number') endpoint.port = line.port;
        if (typeof line.host === 'string') endpoint.host = line.host;
        return;
      case 'device':
        if (line.device === 'cpu' || line.device === 'cuda') endpoint.device = line.device;
        return;
      case 'model':
        this.modelReported(endpoint, line as ReportedModel);
        return;
      case 'ready':
        if (typeof line.url === 'string') endpoint.url = line.url;
        if (line.device === 'cpu' || line.device === 'cuda') endpoint.device = line.device;
        if (Array.isArray(line.models)) for (const model of line.models as ReportedModel[]) this.modelReported(endpoint, model);
        if (endpoint.status === 'starting') {
          endpoint.status = 'ready';
          this.notifyStatus(supervised);
          void this.record(endpoint);
        }
        return;
      case 'stats': {
        const stats = statsOf(line);
        if (!stats) return;
        endpoint.stats = stats;
        this.notify({ endpoint: endpoint.name, status: endpoint.status, url: endpoint.url, error: endpoint.error, stats });
        return;
      }
      case 'draining':
        if (endpoint.status === 'ready' || endpoint.status === 'starting') {
          endpoint.status = 'stopping';
          this.notifyStatus(supervised);
        }
        return;
      case 'fatal':
        supervised.fatalCode = typeof line.code === 'string' ? line.code : null;
        if (typeof line.error === 'string') endpoint.error = line.error;
        return;
      default:
    }
  }

  private modelReported(endpoint: Endpoint, reported: ReportedModel): void {
    const model = endpoint.models.find((m) => m.name === reported.name && m.version === reported.version);
    if (!model) return;
    if (typeof reported.ready === 'boolean') model.ready = reported.ready;
    if (reported.error !== undefined) model.error = reported.error ?? null;
    if (Array.isArray(reported.inputs)) model.inputs = reported.inputs.map(({ name, datatype, shape }) => ({ name, datatype, shape }));
    if (Array.isArray(reported.outputs)) model.outputs = reported.outputs.map(({ name, datatype, shape }) => ({ name, datatype, shape }));
    if (model.sample_request === null && model.ready && model.inputs.length > 0) model.sample_request = zerosRequest(model.inputs);
  }

  /** The process exited: stopped when it was told to stop, failed otherwise. */
  private exited(supervised: Supervised, code: number | null, signal: NodeJS.Signals | null): void {
    const { endpoint } = supervised;
    supervised.child = null;
    if (endpoint.status === 'stopping') {
      endpoint.status = 'stopped';
      endpoint.stopped_at = new Date().toISOString();
      this.notifyStatus(supervised);
      return;
    }
    if (endpoint.status === 'failed') return;
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    this.fail(supervised, endpoint.error ?? (supervised.lastError ? `the server ${how}: ${supervised.lastError}` : `the server ${how}`));
  }

  private fail(supervised: Supervised, error: string): void {
    const { endpoint } = supervised;
    const wasReady = endpoint.status === 'ready';
    endpoint.status = 'failed';
    endpoint.error = error;
    endpoint.stopped_at = new Date().toISOString();
    this.notifyStatus(supervised);
    if (wasReady) void this.record(endpoint);
  }

  /** The error startEndpoint answers for a server that failed before it was ready. */
  private startFailure(supervised: Supervised): Error {
    const { endpoint, fatalCode } = supervised;
    const message = `endpoint ${JSON.stringify(endpoint.name)} failed to start: ${endpoint.error ?? 'the server exited'}`;
    switch (fatalCode) {
      case 'port_in_use':
        return new ConflictError('port', endpoint.config.port ?? endpoint.port, message);
      case 'cuda_unavailable':
        return new HttpError(503, 'unavailable', message, 'device', endpoint.config.device ?? 'cuda');
      case 'bad_input':
      case 'no_model_loaded':
        return new BadInputError('models', endpoint.models.map((m) => m.model).join(', '), message);
      default:
        return new HttpError(503, 'unavailable', message);
    }
  }

  private async terminate(supervised: Supervised): Promise<Endpoint> {
    const { endpoint, child } = supervised;
    if (endpoint.status !== 'stopping') {
      endpoint.status = 'stopping';
      this.notifyStatus(supervised);
    }
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), this.stopGraceMs);
      await supervised.exited;
      clearTimeout(killer);
    } else {
      await supervised.exited;
    }
    // A process that ended with no close event (it never started) still ends stopped.
    if (endpoint.status === 'stopping') {
      endpoint.status = 'stopped';
      endpoint.stopped_at = new Date().toISOString();
      this.notifyStatus(supervised);
    }
    supervised.stopping = null;
    await this.record(endpoint);
    return copy(endpoint);
  }

  private notifyStatus({ endpoint }: Supervised): void {
    this.notify({ endpoint: endpoint.name, status: endpoint.status, url: endpoint.url, error: endpoint.error, stats: endpoint.stats });
  }

  /** Writes the endpoint as `endpoints/<name>.json` on the run of each registry model it serves. */
  private record(endpoint: Endpoint): Promise<void> {
    const runs = [...new Set(endpoint.models.map((m) => m.run_id).filter((id): id is string => id !== null))];
    if (runs.length === 0) return this.recording.then(() => undefined);
    const snapshot = copy(endpoint);
    const recorded = this.recording.then(async () => {
      const bytes = Buffer.from(JSON.stringify(snapshot), 'utf8');
      const name = `endpoints/${snapshot.name}.json`;
      for (const runId of runs) {
        try {
          await this.artifacts.upload(runId, { name, kind: 'file', mediaType: 'application/json', declaredBytes: bytes.length }, Readable.from([bytes]));
        } catch (error) {
          // The run may have been deleted since: the endpoint serves on; the daemon log says why it is not recorded.
          this.log(`opsbook daemon: could not record endpoint ${snapshot.name} on run ${runId}: ${describe(error)}`);
        }
      }
    });
    this.recording = recorded.catch(() => undefined);
    return recorded;
  }
}

/** A request of zeros in the inputs' shapes (a dynamic dimension taken as 1), for the test form. */
export function zerosRequest(inputs: EndpointModel['inputs']): InferenceRequest | null {
  if (inputs.length === 0) return null;
  const request = inputs.map((input) => {
    const shape = input.shape.map((d) => (d < 0 ? 1 : d));
    const size = shape.reduce((a, b) => a * b, 1);
    const zero = input.datatype === 'BOOL' ? false : input.datatype === 'BYTES' ? '' : 0;
    return { name: input.name, datatype: input.datatype, shape, data: size > 4096 ? [] : new Array<unknown>(size).fill(zero) };
  });
  // A sample too large to be a useful form (an image) is left to the user.
  if (request.some((input) => input.data.length === 0 && input.shape.reduce((a, b) => a * b, 1) > 0)) return null;
  return { inputs: request as InferenceRequest['inputs'] };
}

function statsOf(line: ProtocolLine): EndpointStats | null {
  const stats: EndpointStats = {
    time: typeof line.time === 'string' ? line.time : new Date().toISOString(),
    requests: line.requests as number,
    errors: line.errors as number,
    rps: line.rps as number,
    p50_ms: (line.p50_ms ?? null) as number | null,
    p99_ms: (line.p99_ms ?? null) as number | null,
    in_flight: line.in_flight as number,
    mean_batch: (line.mean_batch ?? null) as number | null,
  };
  return SchemaValidator.shared().check('endpoint.schema.json#/$defs/EndpointStats', stats) === null ? stats : null;
}

function copy<T>(value: T): T {
  return structuredClone(value);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
