import { MainAreaWidget } from '@jupyterlab/apputils';
import { SweepView, type SeriesLoader, type SweepRun } from '@opsbook/core/views';
import type { Run } from '@opsbook/schema';
import { seriesLoader } from './ComparePanel';
import { opsbookIcon } from './icon';
import { LiveRunsPanel } from './LiveRunsPanel';
import type { IOpsbookRuns } from './tokens';

/** A sweep as read: its parent run and the children listed under it. */
interface Sweep {
  parent: SweepRun;
  children: Run[];
}

/** Most children read for one sweep (the API's page limit). */
const MAX_CHILDREN = 1000;

/**
 * A sweep in the main area (command `opsbook:open-sweep`): the parent run's children as a sortable
 * table, parallel coordinates and a param-vs-metric scatter. Reads again when the shared run list
 * reports a change to the parent or one of its children.
 */
export class SweepPanel extends LiveRunsPanel<Sweep> {
  /** Called with each fresh read (the title follows the parent's name). */
  onSweep: ((sweep: Sweep) => void) | undefined;
  private readonly loadSeries: SeriesLoader;

  constructor(
    runs: IOpsbookRuns,
    readonly runId: string,
    private readonly openRun: (runId: string) => void,
  ) {
    super(runs);
    this.loadSeries = seriesLoader(runs.client);
    this.addClass('opsbook-SweepPanel');
  }

  protected async read(): Promise<Sweep> {
    const [detail, list] = await Promise.all([
      this.runs.client.getRun(this.runId),
      this.runs.client.listRuns({ parent: this.runId, limit: MAX_CHILDREN, sort: 'start_time', order: 'asc' }),
    ]);
    const sweep = { parent: detail.run, children: list.runs };
    if (!this.isDisposed) this.onSweep?.(sweep);
    return sweep;
  }

  protected concerns(run: Run): boolean {
    return run.id === this.runId || run.parent_run_id === this.runId;
  }

  protected render(): JSX.Element {
    const state = this.state;
    if (state.kind === 'loading') return <p className="opsbook-LivePanel-message">Loading sweep…</p>;
    const data = state.kind === 'ready' ? state.data : state.last;
    return (
      <>
        {state.kind === 'error' && (
          <div className="opsbook-LivePanel-message opsbook-LivePanel-error" role="alert">
            <span>Could not load the sweep: {state.message}</span>{' '}
            <button type="button" className="jp-Button jp-mod-styled jp-mod-accept" onClick={() => void this.load()}>
              Retry
            </button>
          </div>
        )}
        {data && (
          <SweepView
            parent={data.parent}
            children={data.children}
            loadSeries={this.loadSeries}
            version={this.version}
            onOpenRun={this.openRun}
          />
        )}
      </>
    );
  }
}

/** The shell id of a sweep's widget, so opening it twice activates the open one. */
export function sweepWidgetId(runId: string): string {
  return `opsbook-sweep-${runId}`;
}

/** Wraps a {@link SweepPanel} for the main area, titled "Sweep <name>". */
export function createSweepWidget(runs: IOpsbookRuns, runId: string, openRun: (runId: string) => void): MainAreaWidget<SweepPanel> {
  const content = new SweepPanel(runs, runId, openRun);
  const widget = new MainAreaWidget({ content });
  widget.id = sweepWidgetId(runId);
  widget.title.label = `Sweep ${runId.slice(0, 8)}`;
  widget.title.icon = opsbookIcon;
  widget.title.closable = true;
  content.onSweep = ({ parent, children }) => {
    widget.title.label = `Sweep ${parent.name}`;
    widget.title.caption = `${parent.experiment ?? ''} / ${parent.name}: ${children.length} trials`;
  };
  return widget;
}
