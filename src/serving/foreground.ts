/**
 * `opsbook serve --foreground`, and the server process the daemon supervises: serves until
 * SIGTERM/SIGINT and speaks the server process protocol on stdout (JSON lines; those with an
 * `event` are read by the daemon, docs/serving.md):
 *   listening → device → model (one per model) → ready → stats (each second with traffic, every
 *   10 s idle) … → draining → stopped; or fatal just before a non-zero exit.
 */
import type { ServeConfig } from '@opsbook/schema';
import { resolveServeConfig } from './config';
import { createExecutor } from './executor';
import { createLogger } from './logger';
import { ServingMetrics } from './metrics';
import { RequestLog } from './request-log';
import { InferenceServer, type RequestSink } from './server';
import type { Executor, Log, ResolvedServeConfig, ServedModel } from './types';

/** Exit codes of the server process. */
export const EXIT_OK = 0;
export const EXIT_BAD_INPUT = 2;
export const EXIT_ENVIRONMENT = 3;

type FatalCode = 'port_in_use' | 'cuda_unavailable' | 'bad_input' | 'no_model_loaded';

export interface ForegroundOptions {
  stdout?: NodeJS.WritableStream;
  /** Stops the server like SIGTERM does (tests, embedders). */
  stop?: AbortSignal;
  /** Listen for SIGTERM and SIGINT (default true). */
  signals?: boolean;
  /** Test hook: another Executor for the config. */
  createExecutor?: (config: ResolvedServeConfig, log: Log) => Executor;
}

/** A model as the model and ready events carry it. */
function modelEvent(model: ServedModel): Record<string, unknown> {
  const { name, version, model: asked, path, ready, error, device, inputs, outputs } = model;
  return { name, version, model: asked, path, ready, error, device, inputs, outputs };
}

/**
 * Serves `config` until stopped.
 * @returns the process's exit code: 0 after a clean drain; 2 for a bad config or no model loaded;
 *   3 when the port is taken or CUDA was required and is unavailable.
 */
export async function runForeground(config: ServeConfig | ResolvedServeConfig, options: ForegroundOptions = {}): Promise<number> {
  const log = createLogger(options.stdout ?? process.stdout);
  const fatal = (code: FatalCode, error: string): number => {
    log({ level: 'error', msg: error, event: 'fatal', error, code });
    return code === 'port_in_use' || code === 'cuda_unavailable' ? EXIT_ENVIRONMENT : EXIT_BAD_INPUT;
  };
  let resolved: ResolvedServeConfig;
  try {
    resolved = resolveServeConfig(config);
  } catch (error) {
    return fatal('bad_input', (error as Error).message);
  }

  // Stop requests may come at any point, loading included; the first one starts the drain.
  let stopRequested: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stopRequested = resolve));
  const onSignal = (): void => stopRequested();
  if (options.signals ?? true) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
  if (options.stop) {
    if (options.stop.aborted) stopRequested();
    else options.stop.addEventListener('abort', onSignal, { once: true });
  }
  let timer: NodeJS.Timeout | undefined;
  const executor = (options.createExecutor ?? createExecutor)(resolved, log);
  const metrics = new ServingMetrics();
  let requestLog: RequestLog | null = null;
  const finish = async (): Promise<void> => {
    if (timer) clearInterval(timer);
    await executor.close().catch((error: unknown) => log({ level: 'warn', msg: `closing the workers: ${String(error)}` }));
    await requestLog?.close().catch((error: unknown) => log({ level: 'warn', msg: `closing the request log: ${String(error)}` }));
    if (options.signals ?? true) {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
  };

  try {
    if (resolved.request_log && resolved.request_log_dir !== null) requestLog = new RequestLog(resolved.request_log_dir, log);
  } catch (error) {
    await finish();
    return fatal('bad_input', `cannot write the request log under ${resolved.request_log_dir}: ${(error as Error).message}`);
  }
  const server = new InferenceServer({ config: resolved, executor, metrics, log, requestLog: requestLog as RequestSink | null });

  let url: string;
  try {
    const listening = await server.listen();
    url = listening.url;
    log({ level: 'info', msg: `listening on ${url} (not ready until the models load)`, event: 'listening', url, host: listening.host, port: listening.port });
  } catch (error) {
    await finish();
    const err = error as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE') return fatal('port_in_use', `port ${resolved.port} on ${resolved.host} is in use`);
    return fatal('bad_input', `cannot listen on ${resolved.host}:${resolved.port}: ${err.message}`);
  }

  const settled = await Promise.race([
    executor.settled.then(() => 'settled' as const, (error: unknown) => error),
    stopped.then(() => 'stopped' as const),
  ]);
  if (settled !== 'settled' && settled !== 'stopped') {
    await server.drain();
    await finish();
    const error = settled as Error & { code?: string };
    if (error.code === 'cuda_unavailable') return fatal('cuda_unavailable', error.message);
    return fatal('bad_input', error.message ?? String(error));
  }
  if (settled === 'settled') {
    const models = executor.models();
    if (!models.some((model) => model.ready)) {
      await server.drain();
      await finish();
      return fatal('no_model_loaded', `no model loaded: ${models.map((m) => `${m.name} (${m.error ?? 'unknown error'})`).join('; ')}`);
    }
    const ready = models.filter((m) => m.ready).length;
    log({ level: 'info', msg: `ready: ${ready} of ${models.length} models on ${executor.device}`, event: 'ready', url, device: executor.device, models: models.map(modelEvent) });
    let lastPrinted = 0;
    let lastTaken = Date.now();
    timer = setInterval(() => {
      const now = Date.now();
      const stats = metrics.takeStats((now - lastTaken) / 1000, new Date(now));
      lastTaken = now;
      // Every second while there is traffic, every 10 s when idle.
      if (stats.rps > 0 || stats.in_flight > 0 || now - lastPrinted >= 10_000) {
        lastPrinted = now;
        log({ level: 'debug', msg: 'stats', event: 'stats', ...stats });
      }
    }, 1000);
    timer.unref();
  }

  await stopped;
  log({ level: 'info', msg: 'draining: answering the requests in flight, accepting no more', event: 'draining' });
  await server.drain();
  await finish();
  log({ level: 'info', msg: 'stopped', event: 'stopped' });
  return EXIT_OK;
}
