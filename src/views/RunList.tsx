import { useEffect } from 'react';
import type { Run } from '@opsbook/schema';
import { formatDuration, groupRunsByExperiment, relativeTime, runDuration } from './format';
import { MetricValues } from './MetricValues';
import { StatusBadge } from './StatusBadge';
import { ensureViewStyles } from './styles';

export interface RunListProps {
  runs: readonly Run[];
  /** Called when a run is chosen by click, Enter or Space. */
  onOpenRun: (run: Run) => void;
  /** The run whose view is open, marked with `aria-current`. */
  selectedRunId?: string;
  /** Clock for relative times, in ms since the epoch; the host re-renders on each poll. */
  now?: number;
  /** How many latest metrics each row shows. */
  metricsPerRun?: number;
}

/**
 * Runs grouped by experiment, newest first. Each run is a button, so Tab reaches it and Enter
 * (or Space) opens it with no extra key handling.
 */
export function RunList({ runs, onOpenRun, selectedRunId, now = Date.now(), metricsPerRun = 3 }: RunListProps): JSX.Element {
  useEffect(() => ensureViewStyles(), []);
  const groups = groupRunsByExperiment(runs);
  return (
    <div className="opsbook-view opsbook-RunList">
      {groups.map((group) => {
        const headingId = `opsbook-experiment-${cssSafe(group.experiment)}`;
        return (
          <section key={group.experiment} className="opsbook-RunList-group" aria-labelledby={headingId}>
            <h3 className="opsbook-RunList-groupTitle" id={headingId}>
              <span>{group.experiment}</span>
              <span>{group.runs.length === 1 ? '1 run' : `${group.runs.length} runs`}</span>
            </h3>
            <ul className="opsbook-RunList-runs">
              {group.runs.map((run) => (
                <li key={run.id}>
                  <button
                    type="button"
                    className="opsbook-RunList-run"
                    data-run-id={run.id}
                    aria-current={run.id === selectedRunId ? 'true' : undefined}
                    title={`Open run ${run.name}`}
                    onClick={() => onOpenRun(run)}
                  >
                    <span className="opsbook-RunList-line">
                      <span className="opsbook-RunList-name">{run.name}</span>
                      <StatusBadge status={run.status} />
                    </span>
                    <span className="opsbook-RunList-line opsbook-RunList-meta">
                      <time dateTime={run.start_time} title={new Date(run.start_time).toLocaleString()}>
                        {relativeTime(run.start_time, now)}
                      </time>
                      <span aria-hidden="true">·</span>
                      <span className="opsbook-RunList-duration">{formatDuration(runDuration(run, now))}</span>
                    </span>
                    <MetricValues
                      className="opsbook-RunList-metrics"
                      metrics={run.metrics_latest}
                      limit={metricsPerRun}
                    />
                  </button>
                </li>
              ))}
            </ul>
          </section>
        );
      })}
    </div>
  );
}

function cssSafe(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, '_');
}
