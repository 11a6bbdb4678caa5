/**
 * The Open Inference Protocol (V2) REST server on node:http (schema/inference.schema.json,
 * docs/serving.md). It reads and checks requests, hands them to an Executor, and answers JSON.
 *
 * What each inference costs here: the body's bytes, its parse, the request's own tensors and the
 * answer's text. Nothing the requests share is mutable between them.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { ServingMetrics } from './metrics';
import { RequestError, checkInputs, checkOutputs, encodeResponse, parseRequest } from './tensors';
import { InferenceFailure, type Executor, type Log, type RequestRecord, type ResolvedServeConfig, type ServedModel } from './types';

/** The version /v2 reports: @opsbook/core's. */
export const SERVER_VERSION = '0.1.0';

/** Where answered inferences go for the request log; record() only queues. */
export interface RequestSink {
  record(record: RequestRecord): void;
}

export interface ServerOptions {
  config: ResolvedServeConfig;
  executor: Executor;
  metrics: ServingMetrics;
  log: Log;
  requestLog?: RequestSink | null;
  /** Test hook: the fast JSON path can be turned off to compare both paths' answers. */
  fastJson?: boolean;
}

export interface Listening {
  host: string;
  port: number;
  url: string;
}

const JSON_TYPE = 'application/json';
/** Versions in numeric order ('10' after '9'); made once: localeCompare with options builds a collator per call. */
const VERSION_ORDER = new Intl.Collator('en', { numeric: true });

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** The V2 REST server. listen(), then drain() to stop. */
export class InferenceServer {
  private readonly server: Server;
  private readonly config: ResolvedServeConfig;
  private readonly executor: Executor;
  private readonly metrics: ServingMetrics;
  private readonly log: Log;
  private readonly requestLog: RequestSink | null;
  private readonly fastJson: boolean;
  private readonly keyDigest: Buffer | null;
  private settled = false;
  private draining = false;
  private active = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly busySockets = new Set<Socket>();

  constructor(options: ServerOptions) {
    this.config = options.config;
    this.executor = options.executor;
    this.metrics = options.metrics;
    this.log = options.log;
    this.requestLog = options.requestLog ?? null;
    this.fastJson = options.fastJson ?? true;
    this.keyDigest = this.config.api_key === null ? null : digest(this.config.api_key);
    this.server = createServer({ keepAlive: true }, (req, res) => this.handle(req, res));
    // Keep-alive clients (autocannon, undici, requests.Session) reuse connections across requests.
    this.server.keepAliveTimeout = 65_000;
    this.server.headersTimeout = 66_000;
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('close', () => {
        this.sockets.delete(socket);
        this.busySockets.delete(socket);
      });
    });
    // The device is known once loading settled (auto may fall back to the CPU).
    this.executor.settled.then(
      () => {
        this.settled = true;
        this.metrics.setDevice(this.executor.device);
        this.refreshModelGauges();
      },
      () => undefined,
    );
    this.metrics.setDevice(this.executor.device);
  }

  /** True once every model settled, at least one is ready, and the server is not draining. */
  get ready(): boolean {
    return this.settled && !this.draining && this.executor.models().some((model) => model.ready);
  }

  /** Binds host:port (port 0: any free one). Rejects with the listen error (EADDRINUSE …). */
  listen(): Promise<Listening> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      this.server.once('error', onError);
      this.server.listen(this.config.port, this.config.host, () => {
        this.server.off('error', onError);
        const address = this.server.address() as AddressInfo;
        const host = this.config.host;
        resolve({ host, port: address.port, url: `http://${urlHost(host)}:${address.port}` });
      });
    });
  }

  /**
   * Graceful drain: stop accepting connections, answer not-ready, finish the requests in flight
   * (their connections close after the answer), then close idle connections. Requests still
   * unanswered after `timeoutMs` (a client sending its body very slowly) are cut. Does not close
   * the executor: the caller does, after this settles.
   */
  async drain(timeoutMs = DRAIN_MS): Promise<void> {
    this.draining = true;
    this.refreshModelGauges();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) if (!this.busySockets.has(socket)) socket.destroy();
    if (this.active > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ]);
      clearTimeout(timer);
    }
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private refreshModelGauges(): void {
    for (const model of this.executor.models()) this.metrics.setModelReady(model.name, model.version, model.ready && !this.draining);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const start = performance.now();
    this.active++;
    const socket = req.socket;
    this.busySockets.add(socket);
    res.on('close', () => {
      this.busySockets.delete(socket);
      if (--this.active === 0 && this.idleWaiters.length > 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const wake of waiters) wake();
      }
    });
    if (this.draining) res.shouldKeepAlive = false;
    try {
      this.route(req, res, start);
    } catch (error) {
      this.fail(res, error);
    }
  }

  private route(req: IncomingMessage, res: ServerResponse, start: number): void {
    const raw = req.url ?? '/';
    const query = raw.indexOf('?');
    const pathname = query < 0 ? raw : raw.slice(0, query);
    if (pathname === '/metrics') {
      if (!this.method(req, res, 'GET')) return;
      void this.metrics.text().then((text) => this.send(res, 200, text, this.metrics.contentType), (error: unknown) => this.fail(res, error));
      return;
    }
    const parts = pathname.split('/');
    // parts[0] is '' (the path starts with '/'); a trailing slash leaves one more ''.
    if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
    if (parts[1] !== 'v2') return this.error(res, 404, `no such path ${pathname}`);
    if (parts[2] === 'health' && parts.length === 4 && (parts[3] === 'live' || parts[3] === 'ready')) {
      if (!this.method(req, res, 'GET')) return;
      if (parts[3] === 'live') return this.json(res, 200, '{"live":true}');
      return this.ready ? this.json(res, 200, '{"ready":true}') : this.json(res, 400, '{"ready":false}');
    }
    if (!this.authorized(req)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      return this.error(res, 401, 'missing or wrong API key: send Authorization: Bearer <key> or x-api-key');
    }
    if (parts.length === 2) {
      if (!this.method(req, res, 'GET')) return;
      return this.json(res, 200, JSON.stringify({ name: 'opsbook', version: SERVER_VERSION, extensions: [] }));
    }
    if (parts[2] !== 'models' || parts.length < 4) return this.error(res, 404, `no such path ${pathname}`);
    let name: string;
    let version: string | null = null;
    let rest: string[];
    try {
      name = decodeURIComponent(parts[3]);
      if (parts[4] === 'versions') {
        if (parts.length < 6) return this.error(res, 404, `no such path ${pathname}`);
        version = decodeURIComponent(parts[5]);
        rest = parts.slice(6);
      } else {
        rest = parts.slice(4);
      }
    } catch {
      return this.error(res, 404, `no such path ${pathname}`);
    }
    if (rest.length > 1 || (rest.length === 1 && rest[0] !== 'ready' && rest[0] !== 'infer')) {
      return this.error(res, 404, `no such path ${pathname}`);
    }
    const action = rest[0] ?? 'metadata';
    if (!this.method(req, res, action === 'infer' ? 'POST' : 'GET')) return;
    const model = this.find(name, version);
    if (action === 'infer') {
      this.infer(req, res, model, name, version, start);
      return;
    }
    if (!model) return this.error(res, 404, unknownModel(name, version));
    if (action === 'ready') {
      const ready = model.ready && !this.draining;
      return this.json(res, ready ? 200 : 400, JSON.stringify({ name: model.name, version: model.version, ready }));
    }
    return this.json(res, 200, JSON.stringify(this.metadata(model)));
  }

  private metadata(model: ServedModel): object {
    const versions = this.executor.models().filter((m) => m.name === model.name).map((m) => m.version);
    return {
      name: model.name,
      versions,
      platform: 'onnxruntime_onnx',
      inputs: model.inputs,
      outputs: model.outputs,
      parameters: { device: model.device, max_batch: this.config.max_batch, ready: model.ready, error: model.error },
    };
  }

  /** The model of that name and version; without a version, the highest version of the name. */
  private find(name: string, version: string | null): ServedModel | undefined {
    let best: ServedModel | undefined;
    for (const model of this.executor.models()) {
      if (model.name !== name) continue;
      if (version !== null) {
        if (model.version === version) return model;
      } else if (!best || VERSION_ORDER.compare(model.version, best.version) > 0) {
        best = model;
      }
    }
    return best;
  }

  private infer(req: IncomingMessage, res: ServerResponse, model: ServedModel | undefined, name: string, version: string | null, start: number): void {
    this.metrics.started();
    // Unknown names stay out of the metric labels: a client must not be able to grow them.
    const labelModel = model ? model.name : '';
    const labelVersion = model ? model.version : '';
    let request: ReturnType<typeof parseRequest> | null = null;
    let body: Buffer | null = null;
    let answered = false;
    const answer = (status: number, text: string, result?: { queueMs: number; batchRows: number; rows: number }): void => {
      if (answered) return;
      answered = true;
      this.json(res, status, text);
      const latencyMs = performance.now() - start;
      this.metrics.answered({ model: labelModel, version: labelVersion, status, latencyMs, queueMs: result?.queueMs, batchRows: result?.batchRows, rows: result?.rows });
      if (this.requestLog && model) {
        this.requestLog.record({
          time_ms: Date.now(),
          model: model.name,
          version: model.version,
          id: request?.id ?? null,
          status,
          latency_ms: latencyMs,
          batch_rows: result?.batchRows ?? 0,
          // Made here, after the answer went out; a refused request is logged by its start (its
          // body may be megabytes of garbage).
          request: body === null ? '' : status === 200 ? body.toString('utf8') : clip(body),
          response: text,
        });
      }
    };
    const refuse = (error: unknown): void => {
      if (error instanceof RequestError) return answer(error.status, errorText(error.message));
      const failure = error instanceof InferenceFailure;
      this.log({ level: 'error', msg: failure ? 'inference failed' : 'unexpected error while answering an inference', model: labelModel, version: labelVersion, error: String((error as Error)?.message ?? error) });
      answer(500, errorText(failure ? (error as Error).message : 'internal error'));
    };
    if (!model) {
      answer(404, errorText(unknownModel(name, version)));
      return;
    }
    res.once('close', () => {
      // The client went away before its answer (mid-body, or while queued): counted as nginx's 499
      // so the in-flight gauge comes down; there is nothing to log.
      if (answered) return;
      answered = true;
      this.metrics.answered({ model: labelModel, version: labelVersion, status: 499, latencyMs: performance.now() - start });
    });
    this.readBody(req, res, (read) => {
      body = read;
      if (read === null) {
        // The body passed the limit: 413, and the connection closes so the rest is not read.
        answer(413, errorText(`the request body is larger than the limit of ${this.config.body_limit_bytes} bytes`));
        return;
      }
      try {
        if (!model.ready) {
          throw new RequestError(400, model.error !== null ? `model ${model.name} failed to load: ${model.error}` : `model ${model.name} is not ready yet`);
        }
        request = parseRequest(read, this.fastJson);
        const inputs = checkInputs(model, request, {
          nonfinite: this.config.nonfinite,
          // Each element takes at least one byte of the body, and all but the last a comma too.
          maxElements: Math.floor(read.length / 2) + 1,
        });
        const outputs = checkOutputs(model, request);
        const rows = inputs[0]?.shape.length ? inputs[0].shape[0] : 1;
        const parsed = request;
        this.executor.infer(model, inputs, outputs).then(
          (result) => {
            let text: string;
            try {
              text = encodeResponse(model, parsed, result.outputs);
            } catch (error) {
              refuse(error);
              return;
            }
            answer(200, text, { queueMs: result.queueMs, batchRows: result.batchRows, rows });
          },
          refuse,
        );
      } catch (error) {
        refuse(error);
      }
    });
  }

  /**
   * Reads the body up to the limit: a Content-Length past it is refused before reading; a chunked
   * body is cut as soon as it passes it. Calls `done(null)` when refused.
   */
  private readBody(req: IncomingMessage, res: ServerResponse, done: (body: Buffer | null) => void): void {
    const limit = this.config.body_limit_bytes;
    const declared = req.headers['content-length'];
    const refuse = (): void => {
      res.shouldKeepAlive = false;
      res.setHeader('Connection', 'close');
      req.removeAllListeners('data');
      // What still comes is read and dropped until the connection closes (lingerOnClose).
      req.resume();
      lingerOnClose(req.socket);
      done(null);
    };
    let length = -1;
    if (declared !== undefined) {
      length = Number(declared);
      if (length > limit) return refuse();
    }
    if (length >= 0) {
      // One allocation of the declared size; node's parser ends the body at Content-Length.
      const body = Buffer.allocUnsafe(length);
      let at = 0;
      req.on('data', (chunk: Buffer) => {
        chunk.copy(body, at);
        at += chunk.length;
      });
      req.on('end', () => done(at === length ? body : body.subarray(0, at)));
      return;
    }
    const chunks: Buffer[] = [];
    let total = 0;
    let cut = false;
    req.on('data', (chunk: Buffer) => {
      if (cut) return;
      total += chunk.length;
      if (total > limit) {
        cut = true;
        // Let what was read go now, not when the request object goes.
        chunks.length = 0;
        refuse();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!cut) done(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total));
    });
  }

  private authorized(req: IncomingMessage): boolean {
    if (this.keyDigest === null) return true;
    const header = req.headers.authorization;
    let given: string | undefined;
    if (typeof header === 'string' && /^bearer /i.test(header)) given = header.slice(7).trim();
    else if (typeof req.headers['x-api-key'] === 'string') given = req.headers['x-api-key'];
    if (given === undefined) return false;
    // Digests first: equal lengths for timingSafeEqual, and the key's length does not leak either.
    return timingSafeEqual(digest(given), this.keyDigest);
  }

  private method(req: IncomingMessage, res: ServerResponse, allowed: 'GET' | 'POST'): boolean {
    if (req.method === allowed || (allowed === 'GET' && req.method === 'HEAD')) return true;
    res.setHeader('Allow', allowed === 'GET' ? 'GET, HEAD' : 'POST');
    this.error(res, 405, `method ${req.method ?? ''} is not allowed here (use ${allowed})`);
    return false;
  }

  private fail(res: ServerResponse, error: unknown): void {
    this.log({ level: 'error', msg: 'unexpected error while answering', error: String((error as Error)?.message ?? error) });
    if (!res.headersSent) this.error(res, 500, 'internal error');
    else res.destroy();
  }

  private error(res: ServerResponse, status: number, message: string): void {
    this.json(res, status, errorText(message));
  }

  private json(res: ServerResponse, status: number, text: string): void {
    this.send(res, status, text, JSON_TYPE);
  }

  private send(res: ServerResponse, status: number, text: string, type: string): void {
    if (res.headersSent || res.destroyed) return;
    if (this.draining) res.shouldKeepAlive = false;
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text) });
    res.end(res.req.method === 'HEAD' ? undefined : text);
  }
}

/** Longest a drain waits for the requests in flight (the daemon's stop allows 10 s in all). */
const DRAIN_MS = 8000;

/** How long a refused connection is read (and its bytes dropped) after the 413, at most. */
const LINGER_MS = 2000;

/**
 * Closes a connection whose client may still be sending (a refused body) the way HTTP servers
 * must: our side ends first, and what the client still sends is read and dropped until it closes
 * or LINGER_MS pass. Destroying the socket at once with unread input makes the kernel answer
 * with a reset, which can discard the 413 in the client's receive buffer before it is read.
 */
function lingerOnClose(socket: Socket): void {
  socket.destroySoon = function (this: Socket): void {
    if (this.writable) this.end();
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
  };
}

/** Most bytes of a refused request's body the request log keeps. */
const LOGGED_REFUSED_CHARS = 4096;
const clip = (body: Buffer): string => (body.length <= LOGGED_REFUSED_CHARS ? body.toString('utf8') : `${body.toString('utf8', 0, LOGGED_REFUSED_CHARS)}…`);

const errorText = (message: string): string => JSON.stringify({ error: message });

function unknownModel(name: string, version: string | null): string {
  return version === null ? `no model named ${name}` : `no model named ${name} with version ${version}`;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
