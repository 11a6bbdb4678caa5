import { MainAreaWidget } from '@jupyterlab/apputils';
import type { OpsbookClient } from '@opsbook/core/client';
import { CompareView, type SeriesLoader } from '@opsbook/core/views';
import type { Run, RunComparison } from '@opsbook/schema';
import { opsbookIcon } from './icon';
import { LiveRunsPanel } from './LiveRunsPanel';
import type { IOpsbookRuns } from './tokens';

/** Reads one metric of several runs through the API, with timestamps when asked for time. */
export function seriesLoader(client: OpsbookClient): SeriesLoader {
  return (runIds, metricKey, x) => client.metricSeries(runIds, metricKey, { x });
}

/**
 * Runs side by side in the main area (command `opsbook:compare`): params, metric summaries with the
 * best highlighted, and an overlay chart. Reads again when the shared run list reports a change to
 * one of its runs.
 */
export class ComparePanel extends LiveRunsPanel<RunComparison> {
  private readonly ids: ReadonlySet<string>;
  private readonly loadSeries: SeriesLoader;

  constructor(
    runs: IOpsbookRuns,
    readonly runIds: readonly string[],
    private readonly openRun: (runId: string) => void,
  ) {
    super(runs);
    this.ids = new Set(runIds);
    this.loadSeries = seriesLoader(runs.client);
    this.addClass('opsbook-ComparePanel');
  }

  protected read(): Promise<RunComparison> {
    return this.runs.client.compareRuns(this.runIds);
  }

  protected concerns(run: Run): boolean {
    return this.ids.has(run.id);
  }

  protected render(): JSX.Element {
    const state = this.state;
    if (state.kind === 'loading') return <p className="opsbook-LivePanel-message">Loading {this.runIds.length} runs…</p>;
    const data = state.kind === 'ready' ? state.data : state.last;
    return (
      <>
        {state.kind === 'error' && (
          <div className="opsbook-LivePanel-message opsbook-LivePanel-error" role="alert">
            <span>Could not compare the runs: {state.message}</span>{' '}
            <button type="button" className="jp-Button jp-mod-styled jp-mod-accept" onClick={() => void this.load()}>
              Retry
            </button>
          </div>
        )}
        {data && <CompareView comparison={data} loadSeries={this.loadSeries} version={this.version} onOpenRun={this.openRun} />}
      </>
    );
  }
}

/** The shell id of a comparison: the same runs in the same order open the same tab. */
export function compareWidgetId(runIds: readonly string[]): string {
  return `opsbook-compare-${hash(runIds.join(','))}`;
}

/** Wraps a {@link ComparePanel} for the main area, titled "Compare N runs". */
export function createCompareWidget(runs: IOpsbookRuns, runIds: readonly string[], openRun: (runId: string) => void): MainAreaWidget<ComparePanel> {
  const content = new ComparePanel(runs, runIds, openRun);
  const widget = new MainAreaWidget({ content });
  widget.id = compareWidgetId(runIds);
  widget.title.label = `Compare ${runIds.length} runs`;
  widget.title.caption = `Opsbook: ${runIds.length} runs side by side`;
  widget.title.icon = opsbookIcon;
  widget.title.closable = true;
  return widget;
}

/** FNV-1a, as a short stable id for a list of run ids (DOM ids cannot hold 1000 uuids sensibly). */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16);
}
