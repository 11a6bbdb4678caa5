import { MainAreaWidget } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Poll } from '@lumino/polling';
import type { Message } from '@lumino/messaging';
import { OpsbookApiError, type OpsbookClient } from '@opsbook/core/client';
import { RunDetail } from '@opsbook/core/views';
import type { MetricHistory, RunDetail as RunDetailData } from '@opsbook/schema';
import { describeError } from './errors';
import { opsbookIcon } from './icon';

type RunPanelState =
  | { kind: 'loading' }
  | { kind: 'ready'; detail: RunDetailData; history?: MetricHistory }
  | { kind: 'error'; message: string; gone: boolean; last?: { detail: RunDetailData; history?: MetricHistory } };

/** Longest wait between reads while the API keeps failing. */
const MAX_BACKOFF_MS = 60_000;

/**
 * One run in the main area. While it is visible and the run is `running`, it re-reads the run and its
 * metric series every `refreshInterval` ms (backing off while reads fail); the read that finds the run
 * ended is its last. Hidden, it reads nothing; shown again, it reads at once if the run may still move.
 */
export class RunPanel extends ReactWidget {
  private state: RunPanelState = { kind: 'loading' };
  private readonly poll: Poll;
  private reading: Promise<void> | null = null;

  constructor(
    private readonly client: OpsbookClient,
    readonly runId: string,
    refreshInterval: number,
  ) {
    super();
    this.addClass('opsbook-RunPanel');
    this.poll = new Poll({
      auto: false,
      // A refresh asked for while a read is under way joins it rather than racing it.
      factory: () => (this.reading ??= this.read().finally(() => (this.reading = null))),
      frequency: pollFrequency(refreshInterval),
      // Not attached or not shown yet (a tab restored behind another): no reads until it is shown.
      standby: () => !this.isVisible || 'when-hidden',
      name: `@opsbook/jupyterlab:run-${runId}`,
    });
  }

  /** Milliseconds between reads while the run is running and the view is visible. */
  get refreshInterval(): number {
    return this.poll.frequency.interval;
  }

  set refreshInterval(ms: number) {
    this.poll.frequency = pollFrequency(ms);
  }

  /**
   * Reads the run again now, or as soon as the view is shown (an ended run too: the user asked).
   * Never rejects: failures show in the panel.
   */
  async load(): Promise<void> {
    await this.poll.refresh();
  }

  /** Called with each fresh read of the run (the title follows the run's name and status). */
  onRun: ((detail: RunDetailData) => void) | undefined;

  override dispose(): void {
    this.poll.dispose();
    super.dispose();
  }

  protected override onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.follow();
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.follow();
  }

  protected override onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    void this.poll.stop();
  }

  /** Starts reading (at once) when the view is visible and the run may still change. */
  private follow(): void {
    if (this.isVisible && this.live) void this.poll.start();
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

  /**
   * One read of the run, then of its series (in that order, so the series read after the run is
   * seen ended holds every point). Stops the poll when the run cannot change any more.
   * @throws the API or network failure, after showing it, so that the poll backs off
   */
  private async read(): Promise<void> {
    try {
      const detail = await this.client.getRun(this.runId);
      const history = await this.client.metricHistory(this.runId);
      this.state = { kind: 'ready', detail, history };
      if (!this.isDisposed) this.onRun?.(detail);
    } catch (reason) {
      const gone = reason instanceof OpsbookApiError && reason.status === 404;
      this.state = { kind: 'error', message: describeError(reason), gone, last: this.lastRead };
      throw reason;
    } finally {
      if (!this.isDisposed) {
        this.update();
        if (!this.live) void this.poll.stop();
      }
    }
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
          {state.last && <RunDetail detail={state.last.detail} history={state.last.history} />}
        </div>
      );
    }
    return <RunDetail detail={state.detail} history={state.history} />;
  }
}

/** Longest wait between reads: the refresh interval when it is longer than the backoff cap. */
function pollFrequency(interval: number): { interval: number; backoff: boolean; max: number } {
  return { interval, backoff: true, max: Math.max(interval, MAX_BACKOFF_MS) };
}

/** Wraps a {@link RunPanel} for the main area, titled "Run <name>". */
export function createRunWidget(client: OpsbookClient, runId: string, refreshInterval: number): MainAreaWidget<RunPanel> {
  const content = new RunPanel(client, runId, refreshInterval);
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
