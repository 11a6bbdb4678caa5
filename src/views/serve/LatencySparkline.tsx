import type { EndpointStats } from '@opsbook/schema';
import { formatLatency, niceMax, sparklinePoints } from './serveData';

export interface LatencySparklineProps {
  /** Seconds of stats, oldest first (`event: serve`). */
  points: readonly EndpointStats[];
  width?: number;
  height?: number;
}

/**
 * p50 and p99 latency of the last minute as two lines in a small SVG, scaled to a 1-2-5 top. Its
 * text (latest p50/p99 and req/s) is the accessible name and also shown beside it, so the figure
 * reads without the lines; it takes focus so a keyboard user reaches the same text as a tooltip.
 */
export function LatencySparkline({ points, width = 120, height = 28 }: LatencySparklineProps): JSX.Element {
  const last = points[points.length - 1];
  const max = niceMax(points);
  const summary = last
    ? `p50 ${formatLatency(last.p50_ms)}, p99 ${formatLatency(last.p99_ms)}, ${last.rps.toFixed(last.rps < 10 ? 1 : 0)} req/s`
    : 'no traffic yet';
  const label = `Latency over the last ${points.length} s: ${summary} (scale 0 to ${formatLatency(max)})`;
  return (
    <div className="opsbook-Sparkline">
      <svg
        className="opsbook-Sparkline-chart"
        role="img"
        tabIndex={0}
        aria-label={label}
        width={width}
        height={height}
        viewBox={`0 0 ${width} ${height}`}
        preserveAspectRatio="none"
      >
        <title>{label}</title>
        <line className="opsbook-Sparkline-axis" x1={0} x2={width} y1={height - 1} y2={height - 1} />
        <polyline className="opsbook-Sparkline-p99" points={sparklinePoints(points.map((p) => p.p99_ms), width, height, max)} />
        <polyline className="opsbook-Sparkline-p50" points={sparklinePoints(points.map((p) => p.p50_ms), width, height, max)} />
      </svg>
      <span className="opsbook-Sparkline-text">
        <span className="opsbook-Sparkline-key opsbook-Sparkline-key50">p50</span> {formatLatency(last?.p50_ms)}{' '}
        <span className="opsbook-Sparkline-key opsbook-Sparkline-key99">p99</span> {formatLatency(last?.p99_ms)}
      </span>
    </div>
  );
}
