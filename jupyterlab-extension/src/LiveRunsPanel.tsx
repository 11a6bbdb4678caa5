import { ReactWidget } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import type { Run } from '@opsbook/schema';
import { RepeatingTask } from './coalesce';
import { describeError } from './errors';
import type { IOpsbookRuns, RunsState } from './tokens';

/** What a live panel shows: loading, its data, or why it has none (with the last data, if any). */
export type LiveState<T> = { kind: 'loading' } | { kind: 'ready'; data: T } | { kind: 'error'; message: string; last?: T };

/**
 * A main-area panel that reads its data from the API when shown and again whenever
 * {@link IOpsbookRuns.runsChanged} reports a change to the runs it shows; it never polls by itself.
 * While visible it holds a watch on the runs, so the shared data layer keeps them fresh.
 */
export abstract class LiveRunsPanel<T> extends ReactWidget {
  protected state: LiveState<T> = { kind: 'loading' };
  /** Bumped on each successful read, so charts read their series again. */
  protected version = 0;
  private releaseWatch: (() => void) | null = null;
  private seen: string | undefined;
  private readonly reading = new RepeatingTask(
    () => this.readOnce(),
    () => this.isDisposed,
  );

  constructor(protected readonly runs: IOpsbookRuns) {
    super();
    runs.runsChanged.connect(this.onRunsChanged, this);
  }

  /** Reads the data (the panel shows the failure and keeps the last data). */
  protected abstract read(): Promise<T>;

  /** Whether `run` (from the shared list) is one this panel shows: its changes trigger a read. */
  protected abstract concerns(run: Run): boolean;

  /**
   * Reads now; a call while a read is under way reads once more after it. Never rejects.
   */
  load(): Promise<void> {
    return this.reading.run();
  }

  private async readOnce(): Promise<void> {
    try {
      const data = await this.read();
      this.state = { kind: 'ready', data };
      this.version += 1;
    } catch (reason) {
      const last = this.state.kind === 'ready' ? this.state.data : this.state.kind === 'error' ? this.state.last : undefined;
      this.state = { kind: 'error', message: describeError(reason), last };
    }
    if (!this.isDisposed) this.update();
  }

  override dispose(): void {
    if (this.isDisposed) return;
    this.runs.runsChanged.disconnect(this.onRunsChanged, this);
    this.stopWatching();
    super.dispose();
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.releaseWatch ??= this.runs.watch();
    // Changes that arrived while hidden were not read; read once on showing.
    this.seen = this.signature(this.runs.state);
    void this.load();
  }

  protected override onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.stopWatching();
  }

  private onRunsChanged(_: IOpsbookRuns, state: RunsState): void {
    if (!this.isVisible) return;
    const signature = this.signature(state);
    if (signature === undefined || signature === this.seen) return;
    this.seen = signature;
    void this.load();
  }

  /** The runs this panel shows, as listed now; `undefined` when the list is not at hand. */
  private signature(state: RunsState): string | undefined {
    if (state.kind !== 'ready') return undefined;
    return JSON.stringify(state.runs.filter((run) => this.concerns(run)));
  }

  private stopWatching(): void {
    this.releaseWatch?.();
    this.releaseWatch = null;
  }
}
