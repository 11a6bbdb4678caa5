import type { HeartbeatReply } from '@opsbook/schema';
import type { RunStore } from './run-store';

/** Default milliseconds without a heartbeat after which a supervised run is marked killed. */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 60_000;
/** Longest interval a sender is asked to beat at, however long the timeout. */
const MAX_BEAT_INTERVAL_MS = 15_000;

export interface RunSupervisorOptions {
  /** A supervised run with no beat for this long is marked killed. */
  timeoutMs?: number;
  /** Where the supervisor reports the runs it ended and its own failures. */
  log?: (line: string) => void;
}

/**
 * Watches runs created with `heartbeat: true`: a kernel beats for the runs it holds open, and a run
 * whose beats stop for the timeout (its kernel died or was killed) ends as `killed`. The clock of a
 * run starts again when the daemon starts, so an outage of the daemon itself kills nothing.
 */
export class RunSupervisor {
  readonly timeoutMs: number;
  /** How often senders should beat: a quarter of the timeout, so one lost beat never kills a run. */
  readonly intervalMs: number;
  private readonly startedMs = Date.now();
  private readonly log: (line: string) => void;
  private timer: ReturnType<typeof setInterval> | undefined;
  private sweeping: Promise<void> | undefined;

  /** @throws RangeError when the timeout is not a positive integer. */
  constructor(
    private readonly runs: RunStore,
    options: RunSupervisorOptions = {},
  ) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new RangeError(`heartbeat timeout must be a positive integer of ms, not ${timeoutMs}`);
    this.timeoutMs = timeoutMs;
    this.intervalMs = Math.max(1, Math.min(MAX_BEAT_INTERVAL_MS, Math.floor(timeoutMs / 4)));
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  /** Starts sweeping for silent runs, a few times per timeout. */
  start(): void {
    if (this.timer) return;
    const every = Math.max(50, Math.min(5000, Math.floor(this.timeoutMs / 4)));
    this.timer = setInterval(() => void this.sweep(), every);
    this.timer.unref();
  }

  /** Stops sweeping and waits for a sweep in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping;
  }

  /**
   * One beat from a sender for the runs it holds open.
   * @returns the interval to beat at, and the status of each named run the store knows.
   */
  async beat(runIds: readonly string[]): Promise<HeartbeatReply> {
    const runs = await this.runs.heartbeat(runIds);
    return { timeout_ms: this.timeoutMs, interval_ms: this.intervalMs, runs };
  }

  /** Ends the runs whose beats stopped; never rejects (failures go to the log). */
  sweep(): Promise<void> {
    this.sweeping ??= this.runs
      .killSilentRuns(this.timeoutMs, this.startedMs)
      .then((ids) => {
        for (const id of ids) this.log(`opsbook daemon: run ${id} marked killed: no heartbeat for ${this.timeoutMs} ms`);
      })
      .catch((error: unknown) => {
        if (this.timer) this.log(`opsbook daemon: heartbeat sweep failed: ${error instanceof Error ? error.message : String(error)}`);
      })
      .finally(() => {
        this.sweeping = undefined;
      });
    return this.sweeping;
  }
}
