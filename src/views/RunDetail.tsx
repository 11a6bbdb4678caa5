import { useEffect } from 'react';
import type { MetricHistory, RunDetail as RunDetailData } from '@opsbook/schema';
import { formatDuration, formatMetric, relativeTime, runDuration } from './format';
import { MetricChart } from './MetricChart';
import type { PlotlyLoader } from './plotly';
import { StatusBadge } from './StatusBadge';
import { ensureViewStyles } from './styles';

export interface RunDetailProps {
  detail: RunDetailData;
  /** Metric series for the charts; `undefined` while loading. */
  history?: MetricHistory;
  /** Clock for relative times, in ms since the epoch. */
  now?: number;
  /** Supplies plotly.js to the charts. */
  plotly?: PlotlyLoader;
}

/** Everything recorded against one run: header, params, metrics (a chart per key) and source. */
export function RunDetail({ detail, history, now = Date.now(), plotly }: RunDetailProps): JSX.Element {
  useEffect(() => ensureViewStyles(), []);
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

function TagFact({ name, value }: { name: string; value: string }): JSX.Element {
  return (
    <>
      <dt>{name}</dt>
      <dd>{value}</dd>
    </>
  );
}
