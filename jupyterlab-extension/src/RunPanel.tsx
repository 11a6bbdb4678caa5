import { MainAreaWidget } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { OpsbookApiError } from '@opsbook/core/client';
import { RunDetail } from '@opsbook/core/views';
import type { MetricHistory, RunDetail as RunDetailData } from '@opsbook/schema';
import { RepeatingTask } from './coalesce';
import { describeError } from './errors';
import { opsbookIcon } from './icon';
import { RunArtifacts } from './RunArtifacts';
import type { IOpsbookRuns, RunsEvent } from './tokens';

type RunPanelState =
  | { kind: 'loading' }
  | { kind: 'ready'; detail: RunDetailData; history?: MetricHistory }
  | { kind: 'error'; message: string; gone: boolean; last?: { detail: RunDetailData; history?: MetricHistory } };

/**
 * Least milliseconds between two reads of the run while its events stream in: the daemon already
 * folds a run's metrics into at most ten events a second; a chart needs fewer redraws than that.
 */
const READ_SPACING_MS = 300;

/**
 * One run in the main area, kept current by the page's live event stream rather than by polling.
 * While it is visible it holds a watch on the runs (so the stream is open), and each event about its
 * run (new metric points, a new status, a rename) has it read the run and its series again, at most
 * every {@link READ_SPACING_MS}; so a chart of a running run grows as points arrive, and nothing is
 * read while nothing changes. Hidden, it reads nothing; shown again, it reads once if the run may
 * have changed meanwhile. When the stream reopens (events may have been missed) it reads once more.
 */
export class RunPanel extends ReactWidget {
  private state: RunPanelState = { kind: 'loading' };
  private readonly reading = new RepeatingTask(() => this.readOnce(), () => this.isDisposed);
  private readTimer: ReturnType<typeof setTimeout> | undefined;
  private lastReadAt = 0;
  private releaseWatch: (() => void) | null = null;
  /** Something may have changed that this view has not read (it was hidden, or never read). */
  private stale = true;

  constructor(
    private readonly runs: IOpsbookRuns,
    readonly runId: string,
  ) {
    super();
    this.addClass('opsbook-RunPanel');
    runs.events.connect(this.onEvent, this);
  }

  /**
   * Reads the run again now (an ended run too: the user asked), or as soon as the view is shown.
   * Never rejects: failures show in the panel.
   */
  load(): Promise<void> {
    if (!this.isVisible) {
      this.stale = true;
      return Promise.resolve();
    }
    return this.read();
  }

  /** Called with each fresh read of the run (the title follows the run's name and status). */
  onRun: ((detail: RunDetailData) => void) | undefined;

  /** Opens another run (the parent link of a nested run). */
  openRun: ((runId: string) => void) | undefined;

  /** Opens the sweep of a run with children. */
  openSweep: ((runId: string) => void) | undefined;

  override dispose(): void {
    if (this.isDisposed) return;
    this.runs.events.disconnect(this.onEvent, this);
    clearTimeout(this.readTimer);
    this.stopWatching();
    super.dispose();
  }

  protected override onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.shown();
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.shown();
  }

  protected override onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.stopWatching();
    clearTimeout(this.readTimer);
    this.readTimer = undefined;
    // Events of a run that may still change go unread while hidden.
    if (this.live) this.stale = true;
  }

  /** Visible now (not merely attached behind another tab): follow the stream, read if stale. */
  private shown(): void {
    if (!this.isVisible) return;
    this.releaseWatch ??= this.runs.watch();
    if (this.stale) void this.read();
  }

  private stopWatching(): void {
    this.releaseWatch?.();
    this.releaseWatch = null;
  }

  private onEvent(_: IOpsbookRuns, event: RunsEvent): void {
    const mine =
      event.type === 'opened' ? this.live : event.type === 'run' ? event.data.id === this.runId : event.data.run_id === this.runId;
    if (!mine) return;
    if (!this.isVisible) {
      this.stale = true;
      return;
    }
    this.readSoon();
  }

  /** Reads once the spacing since the last read has passed; events meanwhile join that read. */
  private readSoon(): void {
    if (this.readTimer !== undefined) return;
    const wait = Math.max(0, this.lastReadAt + READ_SPACING_MS - Date.now());
    this.readTimer = setTimeout(() => {
      this.readTimer = undefined;
      if (this.isVisible) void this.read();
    }, wait);
  }

  /**
   * Whether the run may still change: nothing read yet, or it was `running` when last read. A run that
   * does not exist (404) never will.
   */
  private get live(): boolean {
    const known = this.lastRead;
    if (known) return known.detail.run.status === 'running';
    return !(this.state.kind === 'error' && this.state.gone);
  }

  /** The last successful read, shown on while later reads fail. */
  private get lastRead(): { detail: RunDetailData; history?: MetricHistory } | undefined {
    return this.state.kind === 'ready' ? this.state : this.state.kind === 'error' ? this.state.last : undefined;
  }

  /** Reads the run, then its series; a call while a read is under way reads once more after it. */
  private read(): Promise<void> {
    return this.reading.run();
  }

  /**
   * One read of the run, then of its series (in that order, so the series read after the run is
   * seen ended holds every point).
   */
  private async readOnce(): Promise<void> {
    this.stale = false;
    this.lastReadAt = Date.now();
    try {
      const detail = await this.runs.client.getRun(this.runId);
      const history = await this.runs.client.metricHistory(this.runId);
      this.state = { kind: 'ready', detail, history };
      if (!this.isDisposed) this.onRun?.(detail);
    } catch (reason) {
      const gone = reason instanceof OpsbookApiError && reason.status === 404;
      this.state = { kind: 'error', message: describeError(reason), gone, last: this.lastRead };
    }
    if (!this.isDisposed) this.update();
  }

  protected render(): JSX.Element {
    const state = this.state;
    if (state.kind === 'loading') return <p className="opsbook-RunPanel-message">Loading run…</p>;
    if (state.kind === 'error') {
      return (
        <div className="opsbook-RunPanel-error-wrap">
          <div className="opsbook-RunPanel-message opsbook-RunPanel-error" role="alert">
            <span>Could not load the run: {state.message}</span>{' '}
            <button type="button" className="jp-Button jp-mod-styled jp-mod-accept" onClick={() => void this.load()}>
              Retry
            </button>
          </div>
          {state.last && (
            <RunDetail detail={state.last.detail} history={state.last.history} onOpenRun={this.openRun} onOpenChildren={this.openSweep} />
          )}
        </div>
      );
    }
    return (
      <>
        <RunDetail detail={state.detail} history={state.history} onOpenRun={this.openRun} onOpenChildren={this.openSweep} />
        <RunArtifacts client={this.runs.client} runId={this.runId} readKey={state.detail} />
      </>
    );
  }
}

/** Wraps a {@link RunPanel} for the main area, titled "Run <name>". */
export function createRunWidget(runs: IOpsbookRuns, runId: string): MainAreaWidget<RunPanel> {
  const content = new RunPanel(runs, runId);
  const widget = new MainAreaWidget({ content });
  widget.id = runWidgetId(runId);
  widget.title.label = `Run ${runId.slice(0, 8)}`;
  widget.title.icon = opsbookIcon;
  widget.title.closable = true;
  content.onRun = (detail) => {
    widget.title.label = `Run ${detail.run.name}`;
    widget.title.caption = `${detail.run.experiment} / ${detail.run.name} (${detail.run.status})`;
  };
  return widget;
}

/** The shell id of a run's widget, so opening a run twice activates the open one. */
export function runWidgetId(runId: string): string {
  return `opsbook-run-${runId}`;
}
