import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import {
  DEFAULT_RUNS_TABLE_QUERY,
  RunCard,
  RunDetail,
  RunsTable,
  filterRuns,
  sortRuns,
  type RunsTableQuery,
  type TableRun,
} from '@opsbook/core/views';
import type { RunDetail as RunDetailData, RunList, TrackOutput } from '@opsbook/schema';
import { useState } from 'react';
import { COMPARE_MIME_TYPE, CompareRenderer } from './CompareRenderer';
import { DEPLOY_MIME_TYPE, DeployRenderer } from './DeployRenderer';
import { ENDPOINT_MIME_TYPE, EndpointRenderer } from './EndpointRenderer';
import { EXPLAIN_MIME_TYPE, ExplainRenderer } from './ExplainRenderer';
import { OpsbookRenderer } from './OpsbookRenderer';
import { QUALITY_MIME_TYPE, QualityRenderer } from './QualityRenderer';

/** The mimetype of the card a `%%track` cell displays (`schema/track-output.schema.json`). */
export const RUN_MIME_TYPE = 'application/vnd.opsbook.run+json';

/** The mimetype of `%opsbook runs list` (`schema/run-list.schema.json`). */
export const RUN_LIST_MIME_TYPE = 'application/vnd.opsbook.run-list+json';
/** The mimetype of `%opsbook runs show` (`schema/run-detail.schema.json`). */
export const RUN_DETAIL_MIME_TYPE = 'application/vnd.opsbook.run-detail+json';

/** Tallest a runs table output grows before it scrolls, in px. */
const RUN_LIST_MAX_HEIGHT = 420;
/** The toolbar, the header and borders of the runs table above its 30 px rows. */
const RUN_LIST_CHROME_HEIGHT = 80;

/** Renders a tracked run as a compact card with a button that opens it in the Opsbook sidebar view. */
export class RunCardRenderer extends OpsbookRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super(options, 'opsbook-RunCardRenderer');
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const output = model.data[this.options.mimeType] as unknown as TrackOutput;
    return this.renderView(<RunCard output={output} onOpenRun={(runId) => this.requestOpen(runId)} />);
  }
}

/**
 * Renders a run list as the runs table, read-only: the rows are the output's, sorted and filtered
 * here with the daemon's meaning, since an output has no daemon query behind it.
 */
export class RunListRenderer extends OpsbookRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super(options, 'opsbook-RunListRenderer');
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const list = model.data[this.options.mimeType] as unknown as RunList;
    const runs = (list.runs ?? []) as TableRun[];
    // Sized to its rows up to a cap: the table scrolls inside a fixed height, as virtualization needs.
    this.node.style.height = `${Math.min(RUN_LIST_MAX_HEIGHT, RUN_LIST_CHROME_HEIGHT + 30 * Math.max(runs.length, 4))}px`;
    return this.renderView(<RunListOutput runs={runs} onOpen={(runId) => this.requestOpen(runId)} />);
  }
}

function RunListOutput({ runs, onOpen }: { runs: readonly TableRun[]; onOpen: (runId: string) => void }): JSX.Element {
  // The output's order is the query's; the table starts sorted the way `runs list` sorts.
  const [query, setQuery] = useState<RunsTableQuery>(DEFAULT_RUNS_TABLE_QUERY);
  const shown = sortRuns(filterRuns(runs, query.filter), query.sort, query.order);
  return <RunsTable runs={shown} total={runs.length} query={query} onQueryChange={setQuery} onOpen={onOpen} label="Runs in this output" />;
}

/** Renders `runs show` output with the run view of the main area (params, metrics, source). */
export class RunDetailRenderer extends OpsbookRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super(options, 'opsbook-RunDetailRenderer');
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const detail = model.data[this.options.mimeType] as unknown as RunDetailData;
    // An output holds no metric series: the view shows the metrics table without charts.
    return this.renderView(<RunDetail detail={detail} history={{ run_id: detail.run.id, series: [] }} />);
  }
}

const renderers: [string, new (options: IRenderMime.IRendererOptions) => IRenderMime.IRenderer, string][] = [
  [RUN_MIME_TYPE, RunCardRenderer, 'the card a %%track cell displays'],
  [RUN_LIST_MIME_TYPE, RunListRenderer, 'the runs table of %opsbook runs list'],
  [RUN_DETAIL_MIME_TYPE, RunDetailRenderer, 'the run view of %opsbook runs show'],
  [COMPARE_MIME_TYPE, CompareRenderer, 'runs side by side, from %opsbook runs compare'],
  [QUALITY_MIME_TYPE, QualityRenderer, 'data-quality results, profiles and drift reports of %check, %%check, %drift and %opsbook profile'],
  [EXPLAIN_MIME_TYPE, ExplainRenderer, 'model explanations (SHAP and LIME views) of %explain'],
  [ENDPOINT_MIME_TYPE, EndpointRenderer, 'endpoints of %serve and opsbook.serve() (status, latency, test form)'],
  [DEPLOY_MIME_TYPE, DeployRenderer, 'Kubernetes deployments of %deploy (plan and diff, rollout, live status, promote/rollback/delete)'],
];

const extensions: IRenderMime.IExtension[] = renderers.map(([mimeType, Renderer, what]) => ({
  id: `@opsbook/jupyterlab:${mimeType === RUN_MIME_TYPE ? 'run' : mimeType.slice('application/vnd.opsbook.'.length, -'+json'.length)}-renderer`,
  description: `Renders ${what}.`,
  rendererFactory: {
    safe: true,
    mimeTypes: [mimeType],
    defaultRank: 0,
    createRenderer: (options) => new Renderer(options),
  },
  rank: 0,
  dataType: 'json',
}));

export default extensions;
