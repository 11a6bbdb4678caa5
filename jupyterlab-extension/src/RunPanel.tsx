import { MainAreaWidget } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import type { OpsbookClient } from '@opsbook/core/client';
import { RunDetail } from '@opsbook/core/views';
import type { MetricHistory, RunDetail as RunDetailData } from '@opsbook/schema';
import { describeError } from './errors';
import { opsbookIcon } from './icon';

type RunPanelState =
  | { kind: 'loading' }
  | { kind: 'ready'; detail: RunDetailData; history?: MetricHistory }
  | { kind: 'error'; message: string; last?: { detail: RunDetailData; history?: MetricHistory } };

/**
 * One run in the main area. While the run is `running` it re-reads the run and its metric series
 * every `refreshInterval` ms, then reads once more after it ends and stops.
 */
export class RunPanel extends ReactWidget {
  private state: RunPanelState = { kind: 'loading' };
  private timer: ReturnType<typeof setTimeout> | undefined;
  private fetching = false;

  constructor(
    private readonly client: OpsbookClient,
    readonly runId: string,
    public refreshInterval: number,
  ) {
    super();
    this.addClass('opsbook-RunPanel');
    void this.load();
  }

  /** Reads the run again now. Never rejects: failures show in the panel. */
  async load(): Promise<void> {
    if (this.fetching || this.isDisposed) return;
    this.fetching = true;
    clearTimeout(this.timer);
    try {
      const [detail, history] = await Promise.all([this.client.getRun(this.runId), this.client.metricHistory(this.runId)]);
      this.state = { kind: 'ready', detail, history };
      this.onRun?.(detail);
    } catch (reason) {
      const last = this.state.kind === 'ready' ? this.state : this.state.kind === 'error' ? this.state.last : undefined;
      this.state = { kind: 'error', message: describeError(reason), last };
    } finally {
      this.fetching = false;
    }
    if (this.isDisposed) return;
    this.update();
    const running = this.state.kind === 'ready' ? this.state.detail.run.status === 'running' : true;
    if (running) this.timer = setTimeout(() => void this.load(), this.refreshInterval);
  }

  /** Called with each fresh read of the run (the title follows the run's name and status). */
  onRun: ((detail: RunDetailData) => void) | undefined;

  override dispose(): void {
    clearTimeout(this.timer);
    super.dispose();
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
