import type { OpsbookClient } from '@opsbook/core/client';
import type { Run } from '@opsbook/schema';
import { Poll } from '@lumino/polling';
import { Signal, type ISignal } from '@lumino/signaling';
import { describeError } from './errors';
import type { IOpsbookRuns, RunsState } from './tokens';

/** Default milliseconds between list refreshes; the settings can change it. */
export const DEFAULT_REFRESH_INTERVAL = 1000;
const MAX_INTERVAL = 60_000;

/**
 * The workspace's run list, polled while anyone watches it and the page is visible, so runs of a
 * `%%track` cell appear and their metrics move while the cell is still running.
 */
export class RunsModel implements IOpsbookRuns {
  private currentState: RunsState = { kind: 'loading' };
  private readonly changed = new Signal<IOpsbookRuns, RunsState>(this);
  private readonly poll: Poll;
  private watchers = 0;
  private interval = DEFAULT_REFRESH_INTERVAL;

  constructor(readonly client: OpsbookClient) {
    this.poll = new Poll({
      auto: false,
      factory: () => this.refresh(),
      frequency: { interval: this.interval, backoff: false, max: MAX_INTERVAL },
      standby: () => this.watchers === 0 || 'when-hidden',
      name: '@opsbook/jupyterlab:runs',
    });
  }

  get state(): RunsState {
    return this.currentState;
  }

  get runsChanged(): ISignal<IOpsbookRuns, RunsState> {
    return this.changed;
  }

  get refreshInterval(): number {
    return this.interval;
  }

  set refreshInterval(ms: number) {
    this.interval = Math.max(200, ms);
    // Poll refuses an interval above its max, and the setting allows up to 10 minutes.
    this.poll.frequency = { ...this.poll.frequency, interval: this.interval, max: Math.max(this.interval, MAX_INTERVAL) };
  }

  async refresh(): Promise<void> {
    let next: RunsState;
    try {
      const list = await this.client.listRuns();
      next = { kind: 'ready', runs: list.runs };
    } catch (reason) {
      next = { kind: 'error', message: describeError(reason) };
    }
    if (!sameState(this.currentState, next)) {
      this.currentState = next;
      this.changed.emit(next);
    }
  }

  watch(): () => void {
    this.watchers += 1;
    if (this.poll.isDisposed) return () => undefined;
    void this.poll.start().then(() => this.poll.refresh());
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.watchers -= 1;
    };
  }

  /** Stops polling for good. */
  dispose(): void {
    this.poll.dispose();
    Signal.clearData(this);
  }
}

function sameState(a: RunsState, b: RunsState): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'error' && b.kind === 'error') return a.message === b.message;
  if (a.kind === 'ready' && b.kind === 'ready') return sameRuns(a.runs, b.runs);
  return true;
}

function sameRuns(a: readonly Run[], b: readonly Run[]): boolean {
  return a.length === b.length && a.every((run, i) => JSON.stringify(run) === JSON.stringify(b[i]));
}
