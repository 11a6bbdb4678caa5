import { useEffect } from 'react';
import type { MetricHistory, Provenance, RunDetail as RunDetailData } from '@opsbook/schema';
import { formatDuration, formatMetric, relativeTime, runDuration } from './format';
import { MetricChart } from './MetricChart';
import type { PlotlyLoader } from './plotly';
import { StatusBadge } from './StatusBadge';
import { ensureStyleSheet, ensureViewStyles } from './styles';

const RUN_DETAIL_CSS = `
.opsbook-RunDetail-link {
  font: inherit; color: var(--jp-content-link-color, var(--vscode-textLink-foreground, #1976d2));
  background: none; border: 0; padding: 0; cursor: pointer; text-decoration: underline; text-align: left;
}
.opsbook-RunDetail-link:focus-visible { outline: 2px solid var(--opsbook-focus); outline-offset: 2px; }
.opsbook-RunDetail-dirty { color: var(--jp-warn-color1, var(--vscode-charts-orange, #b85c00)); margin-left: 6px; }
.opsbook-RunDetail-packages { display: flex; flex-wrap: wrap; gap: 2px 12px; }
.opsbook-RunDetail-provenance summary { cursor: pointer; color: var(--opsbook-fg-muted); margin: 6px 0; }
`;

export interface RunDetailProps {
  detail: RunDetailData;
  /** Metric series for the charts; `undefined` while loading. */
  history?: MetricHistory;
  /** Clock for relative times, in ms since the epoch. */
  now?: number;
  /** Supplies plotly.js to the charts. */
  plotly?: PlotlyLoader;
  /** Opens another run (the parent link); without it the parent's id is shown as text. */
  onOpenRun?: (runId: string) => void;
  /** Opens the runs nested under this one (the 'N child runs' link; a sweep view in JupyterLab). */
  onOpenChildren?: (runId: string) => void;
}

/**
 * Everything recorded against one run: header (with its parent and children), params, metrics (a
 * chart per key), where it was made (provenance) and source.
 */
export function RunDetail({ detail, history, now = Date.now(), plotly, onOpenRun, onOpenChildren }: RunDetailProps): JSX.Element {
  useEffect(() => {
    ensureViewStyles();
    ensureStyleSheet('opsbook-run-detail-styles', RUN_DETAIL_CSS);
  }, []);
  const { run, params, metrics, source, tags } = detail;
  const sortedParams = [...params].sort((a, b) => a.key.localeCompare(b.key));
  const sortedMetrics = [...metrics].sort((a, b) => a.key.localeCompare(b.key));
  const series = [...(history?.series ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  const tagEntries = Object.entries(tags).sort(([a], [b]) => a.localeCompare(b));

  return (
    <div className="opsbook-view opsbook-RunDetail" data-run-id={run.id}>
      <header>
        <h2>
          <span className="opsbook-RunDetail-name">{run.name}</span>
          <StatusBadge status={run.status} />
        </h2>
        <dl className="opsbook-RunDetail-facts">
          <dt>Experiment</dt>
          <dd>{run.experiment}</dd>
          <dt>Started</dt>
          <dd>
            <time dateTime={run.start_time}>{new Date(run.start_time).toLocaleString()}</time>{' '}
            <span className="opsbook-muted">({relativeTime(run.start_time, now)})</span>
          </dd>
          <dt>Ended</dt>
          <dd>{run.end_time ? <time dateTime={run.end_time}>{new Date(run.end_time).toLocaleString()}</time> : '—'}</dd>
          <dt>Duration</dt>
          <dd>{formatDuration(runDuration(run, now))}</dd>
          <dt>Run id</dt>
          <dd className="opsbook-metric-value">{run.id}</dd>
          {detail.parent_run_id && (
            <>
              <dt>Parent</dt>
              <dd>
                <RunLink runId={detail.parent_run_id} label={detail.parent_run_id} onOpen={onOpenRun} className="opsbook-RunDetail-parent" />
              </dd>
            </>
          )}
          {detail.child_count > 0 && (
            <>
              <dt>Children</dt>
              <dd>
                <RunLink
                  runId={run.id}
                  label={`${detail.child_count} child run${detail.child_count === 1 ? '' : 's'}`}
                  onOpen={onOpenChildren}
                  className="opsbook-RunDetail-children"
                />
              </dd>
            </>
          )}
          {tagEntries.map(([key, value]) => (
            <TagFact key={key} name={key} value={value} />
          ))}
        </dl>
      </header>

      <section aria-labelledby={`opsbook-params-${run.id}`}>
        <h3 id={`opsbook-params-${run.id}`}>Params</h3>
        {sortedParams.length === 0 ? (
          <p className="opsbook-muted">No params logged.</p>
        ) : (
          <table className="opsbook-table opsbook-RunDetail-params">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Value</th>
              </tr>
            </thead>
            <tbody>
              {sortedParams.map((param) => (
                <tr key={param.key}>
                  <td>{param.key}</td>
                  <td className="opsbook-num">{param.value}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section aria-labelledby={`opsbook-metrics-${run.id}`}>
        <h3 id={`opsbook-metrics-${run.id}`}>Metrics</h3>
        {sortedMetrics.length === 0 ? (
          <p className="opsbook-muted">No metrics logged{run.status === 'running' ? ' yet' : ''}.</p>
        ) : (
          <>
            <table className="opsbook-table opsbook-RunDetail-metrics">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Last</th>
                  <th scope="col">Min</th>
                  <th scope="col">Max</th>
                  <th scope="col">Points</th>
                </tr>
              </thead>
              <tbody>
                {sortedMetrics.map((metric) => (
                  <tr key={metric.key}>
                    <td>{metric.key}</td>
                    <td className="opsbook-num">{formatMetric(metric.last)}</td>
                    <td className="opsbook-num">{formatMetric(metric.min)}</td>
                    <td className="opsbook-num">{formatMetric(metric.max)}</td>
                    <td className="opsbook-num">{metric.count}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {history === undefined ? (
              <p className="opsbook-muted">Loading charts…</p>
            ) : (
              <div className="opsbook-RunDetail-charts">
                {series.map((s) => (
                  <MetricChart key={s.key} metricKey={s.key} steps={s.steps} values={s.values} count={s.count} plotly={plotly} />
                ))}
              </div>
            )}
          </>
        )}
      </section>

      {source.error && (
        <section aria-labelledby={`opsbook-error-${run.id}`}>
          <h3 id={`opsbook-error-${run.id}`}>Error</h3>
          <pre className="opsbook-code opsbook-error-text">{source.error}</pre>
        </section>
      )}

      {detail.provenance && <ProvenanceSection runId={run.id} provenance={detail.provenance} sourceCode={source.code} />}

      <section aria-labelledby={`opsbook-source-${run.id}`}>
        <h3 id={`opsbook-source-${run.id}`}>Source ({source.type})</h3>
        {source.code ? (
          <pre className="opsbook-code">
            <code>{source.code}</code>
          </pre>
        ) : (
          <p className="opsbook-muted">No source recorded.</p>
        )}
      </section>
    </div>
  );
}

function RunLink(props: { runId: string; label: string; onOpen?: (runId: string) => void; className: string }): JSX.Element {
  const { runId, label, onOpen, className } = props;
  if (!onOpen) return <span className={className}>{label}</span>;
  return (
    <button type="button" className={`opsbook-RunDetail-link ${className}`} onClick={() => onOpen(runId)}>
      {label}
    </button>
  );
}

/**
 * Where the run was made: notebook, cell, git checkout, Python and packages, host. The cell's
 * source is offered only when the Source section does not already hold it (a `%%track` cell).
 */
function ProvenanceSection(props: { runId: string; provenance: Provenance; sourceCode?: string }): JSX.Element {
  const { runId, provenance, sourceCode } = props;
  const { notebook, cell_id: cellId, cell_source: cellSource, git, python_version: python, packages, host } = provenance;
  const packageEntries = Object.entries(packages ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return (
    <section aria-labelledby={`opsbook-provenance-${runId}`} className="opsbook-RunDetail-provenance">
      <h3 id={`opsbook-provenance-${runId}`}>Provenance</h3>
      <dl className="opsbook-RunDetail-facts">
        {notebook && (
          <>
            <dt>Notebook</dt>
            <dd className="opsbook-RunDetail-notebook">{notebook}</dd>
          </>
        )}
        {cellId && (
          <>
            <dt>Cell</dt>
            <dd className="opsbook-metric-value">{cellId}</dd>
          </>
        )}
        {git && (
          <>
            <dt>Git</dt>
            <dd className="opsbook-RunDetail-git">
              <span className="opsbook-metric-value" title={git.commit}>
                {git.commit.slice(0, 12)}
              </span>
              {git.branch && <span className="opsbook-muted"> on {git.branch}</span>}
              {git.dirty && (
                <span className="opsbook-RunDetail-dirty" title="tracked files differed from the commit when the run started">
                  uncommitted changes
                </span>
              )}
            </dd>
          </>
        )}
        {python && (
          <>
            <dt>Python</dt>
            <dd>{python}</dd>
          </>
        )}
        {packageEntries.length > 0 && (
          <>
            <dt>Packages</dt>
            <dd className="opsbook-RunDetail-packages">
              {packageEntries.map(([name, version]) => (
                <span key={name}>
                  {name} <span className="opsbook-metric-value">{version}</span>
                </span>
              ))}
            </dd>
          </>
        )}
        {host && (
          <>
            <dt>Host</dt>
            <dd>{host}</dd>
          </>
        )}
      </dl>
      {cellSource && !(sourceCode && cellSource.includes(sourceCode.trim())) && (
        <details>
          <summary>Cell source</summary>
          <pre className="opsbook-code">
            <code>{cellSource}</code>
          </pre>
        </details>
      )}
    </section>
  );
}

function TagFact({ name, value }: { name: string; value: string }): JSX.Element {
  return (
    <>
      <dt>{name}</dt>
      <dd>{value}</dd>
    </>
  );
}
