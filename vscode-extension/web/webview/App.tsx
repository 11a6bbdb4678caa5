import type { OpsbookClient } from '@opsbook/core/client';
import {
  ArtifactsList,
  CompareView,
  DEFAULT_RUNS_TABLE_QUERY,
  EndpointsView,
  ExplanationView,
  ModelsList,
  QualityOutputView,
  RunDetail,
  RunsOverlay,
  RunsTable,
  type RunsTableQuery,
  type PlotlyLoader,
  type SeriesLoader,
  type TableRun,
} from '@opsbook/core/views';
import type { Endpoint, EndpointStats, HostToWebview, ServeEvent, WebviewView } from '@opsbook/schema';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { DeployPanelView } from './DeployView';

/** How many of the listed runs the experiments view charts (the newest, or the ones selected). */
const CHARTED_RUNS = 5;
/** Most traffic seconds kept per endpoint for its sparkline. */
const HISTORY_SECONDS = 120;

/** What every view of the webview gets: the client over the host, events, and how to open another view. */
export interface ViewContext {
  client: OpsbookClient;
  open(view: WebviewView): void;
  /** Subscribes to the host's forwarded live events; returns the unsubscribe. */
  onEvent(handler: (event: Extract<HostToWebview, { type: 'event' }>) => void): () => void;
  /** The charts' plotly; the shared views load the basic bundle when absent (tests pass a recorder). */
  plotly?: PlotlyLoader;
}

/** A read of the daemon: loading, its value, or why it failed (with Retry). */
type Read<T> = { kind: 'loading' } | { kind: 'ready'; value: T } | { kind: 'error'; message: string };

/** Reads `load` now and whenever `key` changes; a failure keeps the message for the view to show. */
function useRead<T>(load: () => Promise<T>, key: number | string): [Read<T>, () => void] {
  const [state, setState] = useState<Read<T>>({ kind: 'loading' });
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    let current = true;
    load().then(
      (value) => current && setState({ kind: 'ready', value }),
      (error: unknown) => current && setState({ kind: 'error', message: error instanceof Error ? error.message : String(error) }),
    );
    return () => {
      current = false;
    };
  }, [key, attempt]);
  return [state, () => setAttempt((n) => n + 1)];
}

/** Counts live events that concern the view, at most one re-read per `intervalMs`. */
function useEventVersion(ctx: ViewContext, concerns: (event: Extract<HostToWebview, { type: 'event' }>) => boolean, intervalMs = 1000): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = ctx.onEvent((event) => {
      if (!concerns(event) || timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        setVersion((n) => n + 1);
      }, intervalMs);
    });
    return () => {
      stop();
      clearTimeout(timer);
    };
  }, [ctx]);
  return version;
}

function Failure({ message, retry }: { message: string; retry: () => void }): JSX.Element {
  return (
    <div role="alert" className="opsbook-webview-error">
      <p>{message}</p>
      <button type="button" onClick={retry}>
        Retry
      </button>
    </div>
  );
}

function Loading({ what }: { what: string }): JSX.Element {
  return <p className="opsbook-webview-loading">Reading {what}…</p>;
}

/** The experiments: the runs table (filter, sort, columns) and the charted runs' metrics overlaid. */
export function ExperimentsView({ ctx, experiment }: { ctx: ViewContext; experiment?: string }): JSX.Element {
  const [query, setQuery] = useState<RunsTableQuery>(
    experiment ? { ...DEFAULT_RUNS_TABLE_QUERY, filter: `experiment = '${experiment.replace(/'/g, "''")}'` } : DEFAULT_RUNS_TABLE_QUERY,
  );
  const version = useEventVersion(ctx, (event) => event.name === 'run' || event.name === 'metrics');
  const [runs, retry] = useRead(
    () => ctx.client.listRuns({ filter: query.filter || undefined, sort: query.sort, order: query.order, deleted: query.deleted, limit: 500 }),
    `${version}:${JSON.stringify(query)}`,
  );
  const loadSeries: SeriesLoader = useCallback((runIds, key, x) => ctx.client.metricSeries(runIds, key, { x }), [ctx]);
  const list = runs.kind === 'ready' ? (runs.value.runs as TableRun[]) : [];
  const charted = list.slice(0, CHARTED_RUNS);
  const metricKeys = useMemo(
    () => [...new Set(charted.flatMap((run) => Object.keys(run.metrics_latest ?? {})))].filter((key) => !key.startsWith('quality.')).sort(),
    [charted],
  );
  return (
    <div className="opsbook-webview-experiments">
      {runs.kind === 'error' && <Failure message={`Could not list the runs: ${runs.message}`} retry={retry} />}
      <section aria-label="Runs" className="opsbook-webview-table">
        <RunsTable
          runs={list}
          total={runs.kind === 'ready' ? runs.value.total : undefined}
          query={query}
          onQueryChange={setQuery}
          onOpen={(runId) => ctx.open({ kind: 'run', run_id: runId })}
          onCompare={(runIds) => ctx.open({ kind: 'compare', run_ids: runIds } as WebviewView)}
          onOpenSweep={(runId) => ctx.open({ kind: 'run', run_id: runId })}
          onUpdate={async (runId, change) => {
            // The table shows a refusal itself; a saved annotation shows once the list is read again.
            await ctx.client.updateRun(runId, change);
            retry();
          }}
          label="Runs of this workspace"
        />
      </section>
      {charted.length > 0 && metricKeys.length > 0 && (
        <section aria-label="Metrics of the newest runs" className="opsbook-webview-chart">
          <h2>Metrics of the {charted.length === 1 ? 'newest run' : `${charted.length} newest runs`}</h2>
          <RunsOverlay
            runs={charted.map((run, index) => ({ id: run.id, name: run.name || run.id.slice(0, 8), colorIndex: index }))}
            metricKeys={metricKeys}
            loadSeries={loadSeries}
            version={version}
            plotly={ctx.plotly}
          />
        </section>
      )}
    </div>
  );
}

/** One run: params, metrics with charts, source. Re-read while it runs. */
export function RunView({ ctx, runId }: { ctx: ViewContext; runId: string }): JSX.Element {
  const version = useEventVersion(
    ctx,
    (event) => (event.name === 'run' && (event.data as { id?: string }).id === runId) || (event.name === 'metrics' && (event.data as { run_id?: string }).run_id === runId),
    300,
  );
  const [read, retry] = useRead(async () => {
    const detail = await ctx.client.getRun(runId);
    const [history, artifacts] = await Promise.all([ctx.client.metricHistory(runId), ctx.client.listArtifacts(runId)]);
    return { detail, history, artifacts: artifacts.artifacts };
  }, version);
  if (read.kind === 'loading') return <Loading what="the run" />;
  if (read.kind === 'error') return <Failure message={`Could not read the run: ${read.message}`} retry={retry} />;
  return (
    <>
      <RunDetail detail={read.value.detail} history={read.value.history} onOpenRun={(id) => ctx.open({ kind: 'run', run_id: id })} plotly={ctx.plotly} />
      <section className="opsbook-view" aria-labelledby="opsbook-webview-artifacts">
        <h3 id="opsbook-webview-artifacts">Artifacts</h3>
        <ArtifactsList artifacts={read.value.artifacts} loadContent={(artifact) => ctx.client.artifactContent(artifact.run_id, artifact.name)} plotly={ctx.plotly} />
      </section>
    </>
  );
}

/** Two or more runs side by side, with their metrics overlaid. */
export function CompareRunsView({ ctx, runIds }: { ctx: ViewContext; runIds: readonly string[] }): JSX.Element {
  const version = useEventVersion(ctx, (event) => event.name === 'metrics' && runIds.includes((event.data as { run_id: string }).run_id));
  const [read, retry] = useRead(() => ctx.client.compareRuns(runIds), version);
  const loadSeries: SeriesLoader = useCallback((ids, key, x) => ctx.client.metricSeries(ids, key, { x }), [ctx]);
  if (read.kind === 'loading') return <Loading what="the runs" />;
  if (read.kind === 'error') return <Failure message={`Could not compare the runs: ${read.message}`} retry={retry} />;
  return <CompareView comparison={read.value} loadSeries={loadSeries} version={version} onOpenRun={(id) => ctx.open({ kind: 'run', run_id: id })} plotly={ctx.plotly} />;
}

/** The served endpoints, live: status, traffic sparklines, a test form, Stop. */
export function EndpointsPanelView({ ctx, name }: { ctx: ViewContext; name?: string }): JSX.Element {
  const [history, setHistory] = useState<Record<string, EndpointStats[]>>({});
  const version = useEventVersion(ctx, (event) => event.name === 'serve' && (event.data as ServeEvent).stats === null, 300);
  useEffect(
    () =>
      ctx.onEvent((event) => {
        if (event.name !== 'serve') return;
        const serve = event.data as ServeEvent;
        if (!serve.stats) return;
        setHistory((known) => ({ ...known, [serve.endpoint]: [...(known[serve.endpoint] ?? []), serve.stats!].slice(-HISTORY_SECONDS) }));
      }),
    [ctx],
  );
  const [read, retry] = useRead(() => ctx.client.listEndpoints(), version);
  // The API's answer type is openapi-typescript's rendering of endpoint.schema.json.
  const endpoints = read.kind === 'ready' ? (read.value.endpoints as unknown as Endpoint[]) : undefined;
  const shown = name && endpoints ? [...endpoints.filter((e) => e.name === name), ...endpoints.filter((e) => e.name !== name)] : endpoints;
  return (
    <>
      {read.kind === 'error' && <Failure message={`Could not list the endpoints: ${read.message}`} retry={retry} />}
      <EndpointsView
        endpoints={shown}
        history={history}
        empty="No endpoint yet: run Opsbook: Serve Model… or %serve in a notebook."
        onStop={async (endpoint) => {
          await ctx.client.stopEndpoint(endpoint);
          retry();
        }}
        onTest={(endpoint, request) => ctx.client.testEndpoint(endpoint, request)}
      />
    </>
  );
}

/** A registered model's versions, with their parity figures. */
export function ModelView({ ctx, name }: { ctx: ViewContext; name: string }): JSX.Element {
  const [read, retry] = useRead(() => ctx.client.getModel(name), '');
  if (read.kind === 'error') return <Failure message={`Could not read model ${name}: ${read.message}`} retry={retry} />;
  return (
    <ModelsList
      models={read.kind === 'ready' ? [read.value] : undefined}
      loadFigure={(version) => ctx.client.artifactContent(version.run_id ?? '', version.parity_figure ?? '')}
      onOpenRun={(runId) => ctx.open({ kind: 'run', run_id: runId })}
    />
  );
}

/** An explanation given inline, with its row picker. */
function InlineExplanation({ explanation, plotly }: { explanation: Extract<WebviewView, { kind: 'explanation' }>['explanation']; plotly?: PlotlyLoader }): JSX.Element {
  const [row, setRow] = useState(0);
  return <ExplanationView explanation={explanation} row={row} onRowChange={setRow} plotly={plotly} />;
}

/** The view a panel shows, by kind. */
export function OpsbookView({ ctx, view }: { ctx: ViewContext; view: WebviewView }): JSX.Element {
  switch (view.kind) {
    case 'runs':
      return <ExperimentsView ctx={ctx} experiment={view.experiment} />;
    case 'run':
      return <RunView key={view.run_id} ctx={ctx} runId={view.run_id} />;
    case 'compare':
      return <CompareRunsView key={view.run_ids.join()} ctx={ctx} runIds={view.run_ids} />;
    case 'quality':
      return <QualityOutputView output={view.output} onOpenRun={(runId) => ctx.open({ kind: 'run', run_id: runId })} plotly={ctx.plotly} />;
    case 'explanation':
      return <InlineExplanation explanation={view.explanation} plotly={ctx.plotly} />;
    case 'endpoints':
      return <EndpointsPanelView ctx={ctx} name={view.name} />;
    case 'model':
      return <ModelView key={view.name} ctx={ctx} name={view.name} />;
    case 'deploy':
      // Keyed by what the panel was opened for: a new model or deployment starts the form afresh.
      return <DeployPanelView key={`${view.model ?? ''}\n${view.name ?? ''}`} ctx={ctx} model={view.model} name={view.name} />;
  }
}
