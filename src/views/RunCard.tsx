import { useEffect } from 'react';
import type { TrackOutput } from '@opsbook/schema';
import { formatDuration } from './format';
import { MetricValues } from './MetricValues';
import { StatusBadge } from './StatusBadge';
import { ensureViewStyles } from './styles';

export interface RunCardProps {
  output: TrackOutput;
  /** When given, the card shows an "Open run" button that calls it. */
  onOpenRun?: (runId: string) => void;
}

/** The compact card shown under a `%%track` cell (mimetype `application/vnd.opsbook.run+json`). */
export function RunCard({ output, onOpenRun }: RunCardProps): JSX.Element {
  useEffect(() => ensureViewStyles(), []);
  const paramCount = Object.keys(output.params ?? {}).length;
  return (
    <div className="opsbook-view opsbook-RunCard" data-run-id={output.run_id}>
      <div className="opsbook-RunCard-title">
        <span className="opsbook-muted">{output.experiment} /</span>
        <span className="opsbook-RunCard-name">{output.name}</span>
        <StatusBadge status={output.status} />
        <span className="opsbook-muted">{formatDuration(output.duration_ms)}</span>
      </div>
      <MetricValues className="opsbook-RunCard-metrics" metrics={output.metrics} limit={8} />
      <div className="opsbook-RunCard-title">
        <span className="opsbook-muted">
          {paramCount === 1 ? '1 param' : `${paramCount} params`} · run {output.run_id.slice(0, 8)}
        </span>
        {onOpenRun && (
          <button type="button" className="opsbook-button" onClick={() => onOpenRun(output.run_id)}>
            Open run
          </button>
        )}
      </div>
    </div>
  );
}
