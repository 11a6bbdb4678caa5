import type { OpsbookClient } from '@opsbook/core/client';
import {
  CompareView,
  DEFAULT_RUNS_TABLE_QUERY,
  DeployOutputView,
  EndpointCard,
  ExplanationView,
  filterRuns,
  QualityOutputView,
  RunCard,
  RunDetail,
  RunsTable,
  sortRuns,
  type RunsTableQuery,
  type SeriesLoader,
  type TableRun,
} from '@opsbook/core/views';
import type { Deployment, Endpoint, Explanation, QualityOutput, RunComparison, RunDetail as RunDetailData, RunList, TrackOutput, WebviewView } from '@opsbook/schema';
import { useState } from 'react';
import type { ValidatedSchema } from '../shared';

/** The Opsbook mimetypes the renderer draws, each with the schema its data must match. */
export const OUTPUT_SCHEMAS: Readonly<Record<string, ValidatedSchema>> = {
  'application/vnd.opsbook.run+json': 'TrackOutput',
  'application/vnd.opsbook.run-list+json': 'RunList',
  'application/vnd.opsbook.run-detail+json': 'RunDetail',
  'application/vnd.opsbook.compare+json': 'RunComparison',
  'application/vnd.opsbook.quality+json': 'QualityOutput',
  'application/vnd.opsbook.explanation+json': 'Explanation',
  'application/vnd.opsbook.endpoint+json': 'Endpoint',
  'application/vnd.opsbook.deploy+json': 'DeployOutput',
};

/** What an output may do beyond drawing itself: open views in the editor, read series (when the host answers). */
export interface OutputActions {
  open?(view: WebviewView): void;
  client?: OpsbookClient;
}

function RunListOutput({ list, open }: { list: RunList; open?: (runId: string) => void }): JSX.Element {
  const runs = (list.runs ?? []) as TableRun[];
  const [query, setQuery] = useState<RunsTableQuery>(DEFAULT_RUNS_TABLE_QUERY);
  const shown = sortRuns(filterRuns(runs, query.filter), query.sort, query.order);
  return (
    <div style={{ height: `${Math.min(420, 80 + 30 * Math.max(runs.length, 4))}px`, display: 'flex', flexDirection: 'column' }}>
      <RunsTable runs={shown} total={runs.length} query={query} onQueryChange={setQuery} onOpen={open} label="Runs in this output" />
    </div>
  );
}

/** How long an output's Promote or Rollback lets the rollout take: under the 300 s the host's fetch waits for an answer. */
const ACTION_TIMEOUT_S = 240;

/**
 * A `%deploy` output: its plan, result, deployments or action's result. With the extension's messaging
 * the deployments' Promote, Rollback and Delete go through it (the same forwarding rule as webviews);
 * without it they are not offered.
 */
function DeployOutput({ value, client }: { value: unknown; client?: OpsbookClient }): JSX.Element {
  if (!client) return <DeployOutputView value={value} />;
  const where = (d: Deployment) => ({ namespace: d.namespace, ...(d.context ? { context: d.context } : {}) });
  return (
    <DeployOutputView
      value={value}
      onPromote={(d) => client.promoteDeployment(d.name, { ...where(d), wait: true, timeout_s: ACTION_TIMEOUT_S })}
      onRollback={(d) => client.rollbackDeployment(d.name, { ...where(d), wait: true, timeout_s: ACTION_TIMEOUT_S })}
      onDelete={(d) => client.deleteDeployment(d.name, where(d))}
    />
  );
}

function ExplanationOutput({ explanation }: { explanation: Explanation }): JSX.Element {
  const [row, setRow] = useState(0);
  return <ExplanationView explanation={explanation} row={row} onRowChange={setRow} />;
}

/**
 * One Opsbook output, drawn with the same shared view the JupyterLab mime renderer uses for its
 * mimetype. `data` has been checked against the mimetype's schema.
 */
export function OutputView({
  mime,
  data,
  metadata,
  actions,
}: {
  mime: string;
  data: unknown;
  /** The output's metadata for this mimetype (`%opsbook runs compare --only-differences` sets only_differences). */
  metadata?: { only_differences?: unknown };
  actions: OutputActions;
}): JSX.Element {
  const openRun = actions.open ? (runId: string) => actions.open!({ kind: 'run', run_id: runId }) : undefined;
  switch (mime) {
    case 'application/vnd.opsbook.run+json':
      return <RunCard output={data as TrackOutput} onOpenRun={openRun} />;
    case 'application/vnd.opsbook.run-list+json':
      return <RunListOutput list={data as RunList} open={openRun} />;
    case 'application/vnd.opsbook.run-detail+json': {
      const detail = data as RunDetailData;
      // An output holds no metric series: the metrics table without charts, as in JupyterLab.
      return <RunDetail detail={detail} history={{ run_id: detail.run.id, series: [] }} onOpenRun={openRun} />;
    }
    case 'application/vnd.opsbook.compare+json': {
      const client = actions.client;
      const loadSeries: SeriesLoader | undefined = client ? (ids, key, x) => client.metricSeries(ids, key, { x }) : undefined;
      const comparison = data as RunComparison;
      const runIds = comparison.runs.map((run) => run.id);
      const open = actions.open;
      return (
        <>
          {open && runIds.length >= 2 && (
            <button type="button" className="opsbook-button" onClick={() => open({ kind: 'compare', run_ids: runIds as [string, string, ...string[]] })}>
              Open in the compare view
            </button>
          )}
          <CompareView comparison={comparison} loadSeries={loadSeries} onOpenRun={openRun} initialOnlyDifferences={metadata?.only_differences === true} />
        </>
      );
    }
    case 'application/vnd.opsbook.quality+json':
      return <QualityOutputView output={data as QualityOutput} onOpenRun={openRun} />;
    case 'application/vnd.opsbook.explanation+json':
      return <ExplanationOutput explanation={data as Explanation} />;
    case 'application/vnd.opsbook.endpoint+json':
      return <EndpointCard endpoint={data as Endpoint} />;
    case 'application/vnd.opsbook.deploy+json':
      return <DeployOutput value={data} client={actions.client} />;
    default:
      return <p>Opsbook cannot draw {mime}.</p>;
  }
}
