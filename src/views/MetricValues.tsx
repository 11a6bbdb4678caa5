import { formatMetric } from './format';

/** Inline `key value` pairs of metrics, at most `limit` of them (alphabetical). */
export function MetricValues({
  metrics,
  limit = Infinity,
  className,
}: {
  metrics: Record<string, number | null> | undefined;
  limit?: number;
  className?: string;
}): JSX.Element | null {
  const entries = Object.entries(metrics ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return null;
  const shown = entries.slice(0, limit);
  return (
    <span className={className}>
      {shown.map(([key, value]) => (
        <span key={key}>
          <span className="opsbook-metric-key">{key}</span>{' '}
          <span className="opsbook-metric-value">{formatMetric(value)}</span>
        </span>
      ))}
      {entries.length > shown.length && <span className="opsbook-muted">+{entries.length - shown.length} more</span>}
    </span>
  );
}
