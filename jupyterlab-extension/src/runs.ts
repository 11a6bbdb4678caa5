import { EventStreamEnded, followEvents, OpsbookApiError, type FollowedEvents, type OpsbookClient } from '@opsbook/core/client';
import type { QualityProgress, Run } from '@opsbook/schema';
import { Signal, type ISignal } from '@lumino/signaling';
import { RepeatingTask } from './coalesce';
import { describeError } from './errors';
import type { IOpsbookRuns, RunsEvent, RunsState } from './tokens';

/** Default least milliseconds between list reads while metrics stream in; the settings can change it. */
export const DEFAULT_REFRESH_INTERVAL = 1000;

/**
 * The workspace's run list, kept current from the daemon's live event stream (`GET /events`, through
 * the Jupyter proxy) while anyone watches it and the page is visible: one stream for the page,
 * however many views watch. The list is read when the stream opens (and again after each reconnect,
 * since events sent while it was closed are lost); a `run` event replaces or adds that run in place
 * without a request; a `metrics` event has the list read again, at most once per
 * {@link refreshInterval}, for the runs' latest values. While nothing changes nothing is requested:
 * the stream's keep-alive is all that moves. Each event is passed on through {@link events}.
 */
export class RunsModel implements IOpsbookRuns {
  private currentState: RunsState = { kind: 'loading' };
  private readonly changed = new Signal<IOpsbookRuns, RunsState>(this);
  private readonly received = new Signal<IOpsbookRuns, RunsEvent>(this);
  private readonly progressed = new Signal<IOpsbookRuns, QualityProgress>(this);
  private watchers = 0;
  private interval = DEFAULT_REFRESH_INTERVAL;
  private stream: FollowedEvents | null = null;
  private rereadTimer: ReturnType<typeof setTimeout> | undefined;
  private lastReadAt = 0;
  private readonly reading = new RepeatingTask(() => this.read(), () => this.disposed);
  private disposed = false;
  private readonly onVisibility = (): void => this.follow();

  constructor(readonly client: OpsbookClient) {
    document.addEventListener('visibilitychange', this.onVisibility);
  }

  get state(): RunsState {
    return this.currentState;
  }

  get runsChanged(): ISignal<IOpsbookRuns, RunsState> {
    return this.changed;
  }

  get events(): ISignal<IOpsbookRuns, RunsEvent> {
    return this.received;
  }

  get qualityProgress(): ISignal<IOpsbookRuns, QualityProgress> {
    return this.progressed;
  }

  get refreshInterval(): number {
    return this.interval;
  }

  set refreshInterval(ms: number) {
    this.interval = Math.max(200, ms);
  }

  /** Reads the list now; a call while a read is under way reads once more after it. Never rejects. */
  refresh(): Promise<void> {
    return this.reading.run();
  }

  private async read(): Promise<void> {
    this.lastReadAt = Date.now();
    try {
      const list = await this.client.listRuns();
      this.setState({ kind: 'ready', runs: list.runs });
    } catch (reason) {
      this.setState({ kind: 'error', message: describeError(reason) });
    }
  }

  watch(): () => void {
    this.watchers += 1;
    this.follow();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.watchers -= 1;
      this.follow();
    };
  }

  /** Closes the stream for good. */
  dispose(): void {
    this.disposed = true;
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.stopFollowing();
    Signal.clearData(this);
  }

  /** Opens the stream when someone watches on a visible page, closes it otherwise. */
  private follow(): void {
    const wanted = !this.disposed && this.watchers > 0 && document.visibilityState !== 'hidden';
    if (!wanted) {
      this.stopFollowing();
      return;
    }
    this.stream ??= followEvents(this.client, {
      onOpen: () => {
        void this.refresh();
        this.received.emit({ type: 'opened' });
      },
      onEvent: (event) => {
        if (event.type === 'run') this.replaceRun(event.data);
        else this.rereadSoon();
        this.received.emit(event);
      },
      onQuality: (event) => this.progressed.emit(event.data),
      onError: (error) => {
        // An open stream that ended (the daemon restarted) is simply opened again.
        if (error instanceof EventStreamEnded) return;
        if (error instanceof OpsbookApiError && error.status === 400) {
          // The workspace's backend serves no stream (tracking to MLflow): the list is read at each
          // retry instead (every 30 s once the backoff is at its cap).
          void this.refresh();
          return;
        }
        // The stream cannot be opened: the views cannot follow the runs; say so until it opens.
        this.setState({ kind: 'error', message: describeError(error) });
      },
    });
  }

  private stopFollowing(): void {
    this.stream?.close();
    this.stream = null;
    clearTimeout(this.rereadTimer);
    this.rereadTimer = undefined;
  }

  /** Puts a run from a `run` event into the list: in place, or first when new; out when deleted. */
  private replaceRun(run: Run): void {
    if (this.currentState.kind !== 'ready') return;
    const runs = [...this.currentState.runs];
    const index = runs.findIndex((listed) => listed.id === run.id);
    if (index >= 0 && run.deleted) runs.splice(index, 1);
    else if (index >= 0) runs[index] = run;
    else if (!run.deleted) runs.unshift(run);
    this.setState({ kind: 'ready', runs });
  }

  /** Reads the list again for new latest values, at most once per refresh interval. */
  private rereadSoon(): void {
    if (this.rereadTimer !== undefined) return;
    const wait = Math.max(0, this.lastReadAt + this.interval - Date.now());
    this.rereadTimer = setTimeout(() => {
      this.rereadTimer = undefined;
      if (this.stream) void this.refresh();
    }, wait);
  }

  private setState(next: RunsState): void {
    if (sameState(this.currentState, next)) return;
    this.currentState = next;
    this.changed.emit(next);
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
