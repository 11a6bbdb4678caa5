import type { ServerResponse } from 'node:http';
import type { DeployProgress, ExplainProgress, MetricsEvent, QualityProgress, Run, ServeEvent } from '@opsbook/schema';
import type { RunChange, RunStore } from '../tracking/run-store';

/** How often a comment goes down an idle stream, so proxies and clients see it is alive. */
export const KEEP_ALIVE_MS = 15_000;
/** Metrics batches of one run are folded into at most one event per this many ms. */
export const METRICS_EVENT_MS = 100;
/** A client that lets this much go unread is cut off (it reconnects and reads the list afresh). */
const MAX_UNREAD_BYTES = 4 * 1024 * 1024;
/** How long a client waits before reconnecting after the stream ends (the SSE `retry:` field). */
const RETRY_MS = 2000;

export interface EventHubOptions {
  keepAliveMs?: number;
  metricsEventMs?: number;
  /** Where failures to read a changed run go; never given the token. */
  log?: (line: string) => void;
}

/** The answer of `streamEvents`: the server hands it the response once auth and routing passed. */
export class EventStreamAnswer {
  constructor(private readonly hub: EventHub) {}

  /** Starts the stream on `response`; it stays open until the client leaves or the hub closes. */
  open(response: ServerResponse): void {
    this.hub.attach(response);
  }
}

/**
 * The daemon's live push (`GET /events`, Server-Sent Events). It listens to the run store's committed
 * changes and sends every open stream `event: run` (the run as the list gives it) and `event: metrics`
 * ({run_id, keys, last_step, count}, batches of one run folded into one event per
 * {@link METRICS_EVENT_MS}), each with an increasing `id:`, and a `: keep-alive` comment every
 * {@link KEEP_ALIVE_MS}. Quality jobs that named a job_id report their progress through
 * {@link quality} (`event: quality`), explanation jobs through {@link explain} (`event: explain`), supervised inference servers through {@link serve} (`event: serve`). With no stream open it reads nothing and folds nothing.
 */
export class EventHub {
  private readonly clients = new Set<ServerResponse>();
  private readonly keepAliveMs: number;
  private readonly metricsEventMs: number;
  private readonly log: (line: string) => void;
  private readonly unsubscribe: () => void;
  private nextId = 1;
  private keepAlive: ReturnType<typeof setInterval> | undefined;
  /** Metrics changes not yet sent, by run. */
  private readonly metrics = new Map<string, { keys: Set<string>; lastStep: number; count: number }>();
  private metricsTimer: ReturnType<typeof setTimeout> | undefined;
  /** Runs changed and not yet read; one loop reads them, so a burst of changes costs one read per run. */
  private readonly changedRuns = new Set<string>();
  private reading: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly runs: RunStore,
    options: EventHubOptions = {},
  ) {
    this.keepAliveMs = options.keepAliveMs ?? KEEP_ALIVE_MS;
    this.metricsEventMs = options.metricsEventMs ?? METRICS_EVENT_MS;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.unsubscribe = runs.onChange((change) => this.changed(change));
  }

  /** Streams open now. */
  get clientCount(): number {
    return this.clients.size;
  }

  /** The answer for a `GET /events` that passed auth. */
  answer(): EventStreamAnswer {
    return new EventStreamAnswer(this);
  }

  /** Starts an event stream on `response` (called by {@link EventStreamAnswer.open}). */
  attach(response: ServerResponse): void {
    if (this.closed) {
      response.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '1' });
      response.end('the daemon is stopping');
      return;
    }
    response.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      // Proxies that buffer answers (nginx) must pass each event on as it comes.
      'X-Accel-Buffering': 'no',
    });
    response.socket?.setNoDelay(true);
    // Sent at once, so the client knows the stream is open before anything changes.
    response.write(`retry: ${RETRY_MS}\n: connected\n\n`);
    this.clients.add(response);
    response.once('close', () => this.detach(response));
    this.keepAlive ??= setInterval(() => this.broadcast(': keep-alive\n\n'), this.keepAliveMs);
    this.keepAlive.unref();
  }

  /**
   * Stops listening to the store, ends every stream, and waits for a read in progress. The daemon
   * calls it before closing its server, so open streams never hold the shutdown up.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    clearTimeout(this.metricsTimer);
    this.metrics.clear();
    this.changedRuns.clear();
    for (const client of [...this.clients]) client.end();
    this.clients.clear();
    this.stopKeepAlive();
    await this.reading;
  }

  private detach(response: ServerResponse): void {
    this.clients.delete(response);
    if (this.clients.size === 0) {
      this.stopKeepAlive();
      this.metrics.clear();
      this.changedRuns.clear();
    }
  }

  private stopKeepAlive(): void {
    clearInterval(this.keepAlive);
    this.keepAlive = undefined;
  }

  /** Sends `event: quality` (a quality job's progress) to every open stream. */
  quality(progress: QualityProgress): void {
    if (this.clients.size === 0 || this.closed) return;
    this.send('quality', progress);
  }

  /** Sends `event: explain` (an explanation job's progress) to every open stream. */
  explain(progress: ExplainProgress): void {
    if (this.clients.size === 0 || this.closed) return;
    this.send('explain', progress);
  }

  /** Sends `event: deploy` (a deploy job's progress: apply, rollout) to every open stream. */
  deploy(progress: DeployProgress): void {
    if (this.clients.size === 0 || this.closed) return;
    this.send('deploy', progress);
  }

  /** Sends `event: serve` (an endpoint's status change, or a second of its traffic) to every open stream. */
  serve(event: ServeEvent): void {
    if (this.clients.size === 0 || this.closed) return;
    this.send('serve', event);
  }

  private changed(change: RunChange): void {
    if (this.clients.size === 0) return;
    if (change.kind === 'run') {
      this.changedRuns.add(change.runId);
      this.reading ??= this.readChangedRuns().finally(() => (this.reading = undefined));
      return;
    }
    const pending = this.metrics.get(change.runId);
    if (pending) {
      for (const key of change.keys) pending.keys.add(key);
      pending.lastStep = Math.max(pending.lastStep, change.lastStep);
      pending.count += change.count;
    } else {
      this.metrics.set(change.runId, { keys: new Set(change.keys), lastStep: change.lastStep, count: change.count });
    }
    this.metricsTimer ??= setTimeout(() => this.sendMetrics(), this.metricsEventMs);
  }

  private sendMetrics(): void {
    this.metricsTimer = undefined;
    for (const [runId, pending] of this.metrics) {
      const keys = [...pending.keys].sort() as MetricsEvent['keys'];
      const data: MetricsEvent = { run_id: runId, keys, last_step: pending.lastStep, count: pending.count };
      this.send('metrics', data);
    }
    this.metrics.clear();
  }

  /** Reads each changed run as the run list gives it and sends it, until no change is left. */
  private async readChangedRuns(): Promise<void> {
    while (this.changedRuns.size > 0 && !this.closed) {
      const [runId] = this.changedRuns;
      this.changedRuns.delete(runId);
      let run: Run | null;
      try {
        run = await this.runs.listItem(runId);
      } catch (error) {
        if (!this.closed) this.log(`opsbook daemon: could not read run ${runId} for the event stream: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      if (run && !this.closed) this.send('run', run);
    }
  }

  private send(
    event: 'run' | 'metrics' | 'quality' | 'explain' | 'serve' | 'deploy',
    data: Run | MetricsEvent | QualityProgress | ExplainProgress | ServeEvent | DeployProgress,
  ): void {
    this.broadcast(`id: ${this.nextId++}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private broadcast(text: string): void {
    for (const client of this.clients) {
      if (client.writableLength > MAX_UNREAD_BYTES) {
        // A client that stopped reading would hold all that follows in memory: cut it off.
        client.destroy();
        continue;
      }
      client.write(text);
    }
  }
}
