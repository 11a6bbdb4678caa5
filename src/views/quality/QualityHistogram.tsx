import type { Histogram } from '@opsbook/schema';
import { loadPlotly, type PlotlyLoader } from '../plotly';
import { baseLayout, escapeHtml, themedAxis, usePlotlyChart, type Figure, type FigureTheme } from '../usePlotlyChart';
import { formatCount } from './qualityFormat';

export interface QualityHistogramProps {
  histogram: Histogram;
  /** The column drawn, for the title and the accessible name. */
  column: string;
  /** Names of the two tables in the legend when the histogram holds reference counts. */
  dataLabel?: string;
  referenceLabel?: string;
  /** Supplies plotly.js; defaults to the bundled basic dist. */
  plotly?: PlotlyLoader;
}

/** True when the histogram's bins are numeric ranges (edges) rather than categories. */
function isNumeric(histogram: Histogram): histogram is Histogram & { edges: number[] } {
  return !!histogram.edges && histogram.edges.length === histogram.counts.length + 1;
}

function shares(counts: readonly number[]): number[] {
  const total = counts.reduce((sum, n) => sum + n, 0);
  return counts.map((n) => (total === 0 ? 0 : (100 * n) / total));
}

/**
 * Plotly bars of a column's counts. With reference counts both tables are drawn over each other
 * as shares of their rows (their sizes may differ); a check's bounds are dashed vertical lines.
 */
export function histogramFigure(
  histogram: Histogram,
  column: string,
  theme: FigureTheme,
  labels: { data?: string; reference?: string } = {},
): Figure {
  if (histogram.counts.length === 0) return null;
  const numeric = isNumeric(histogram);
  const x = numeric
    ? histogram.counts.map((_, i) => (histogram.edges[i] + histogram.edges[i + 1]) / 2)
    : (histogram.categories ?? histogram.counts.map((_, i) => String(i))).map(escapeHtml);
  const width = numeric ? histogram.counts.map((_, i) => histogram.edges[i + 1] - histogram.edges[i]) : undefined;
  const overlaid = !!histogram.reference_counts;
  // Over numeric bins the reference is an outline on top of the data's bars, so both stay readable.
  const bar = (counts: readonly number[], name: string, color: string, outline = false): object => ({
    type: 'bar',
    name: escapeHtml(name),
    x,
    width,
    y: overlaid ? shares(counts) : [...counts],
    customdata: [...counts],
    marker: outline ? { color: 'rgba(0,0,0,0)', line: { color, width: 2 } } : { color, line: { width: 0 } },
    opacity: overlaid && !outline ? 0.7 : 0.9,
    hovertemplate: `%{x}<br>%{customdata} rows${overlaid ? ' (%{y:.1f}%)' : ''}<extra>${escapeHtml(name)}</extra>`,
  });
  const data = [bar(histogram.counts, labels.data ?? 'data', theme.series[0])];
  if (histogram.reference_counts) data.push(bar(histogram.reference_counts, labels.reference ?? 'reference', theme.series[1], numeric));
  const bounds = numeric
    ? (['min', 'max'] as const).filter((side) => histogram.bounds?.[side] !== undefined).map((side) => ({ side, at: histogram.bounds![side]! }))
    : [];
  return {
    data,
    layout: {
      ...baseLayout(theme),
      barmode: overlaid ? (numeric ? 'overlay' : 'group') : 'overlay',
      bargap: numeric ? 0 : 0.15,
      margin: { l: 48, r: 12, t: 28, b: 40 },
      title: { text: escapeHtml(column), font: { size: 12 }, x: 0.02 },
      xaxis: themedAxis(theme, numeric ? {} : { type: 'category' }),
      yaxis: themedAxis(theme, { title: { text: overlaid ? '% of rows' : 'rows' }, rangemode: 'tozero' }),
      showlegend: overlaid,
      legend: { orientation: 'h', y: -0.2 },
      shapes: bounds.map(({ at }) => ({ type: 'line', xref: 'x', yref: 'paper', x0: at, x1: at, y0: 0, y1: 1, line: { color: theme.font, width: 1.5, dash: 'dash' } })),
      annotations: bounds.map(({ side, at }) => ({ x: at, y: 1, xref: 'x', yref: 'paper', text: side, showarrow: false, yanchor: 'bottom', font: { size: 10 } })),
    },
  };
}

/** A column's histogram drawn with plotly (loaded on first use), following the host theme. */
export function QualityHistogram({ histogram, column, dataLabel, referenceLabel, plotly = loadPlotly }: QualityHistogramProps): JSX.Element {
  const { ref, error } = usePlotlyChart(plotly, (theme) => histogramFigure(histogram, column, theme, { data: dataLabel, reference: referenceLabel }), [
    histogram,
    column,
    dataLabel,
    referenceLabel,
  ]);
  const against = histogram.reference_counts ? `, ${dataLabel ?? 'data'} over ${referenceLabel ?? 'reference'}` : '';
  return (
    <figure className="opsbook-QualityHistogram" data-column={column}>
      <div ref={ref} className="opsbook-QualityHistogram-plot" role="img" aria-label={`Histogram of ${column}${against}`} />
      {error && <div className="opsbook-error-text">{error}</div>}
      {!!histogram.nulls && <figcaption className="opsbook-muted">{formatCount(histogram.nulls)} nulls not drawn</figcaption>}
    </figure>
  );
}

/** A histogram small enough for a profile card: plain SVG bars, no plotly. */
export function MiniHistogram({ histogram, column }: { histogram: Histogram; column: string }): JSX.Element | null {
  const peak = Math.max(0, ...histogram.counts);
  if (histogram.counts.length === 0 || peak === 0) return null;
  const barWidth = 100 / histogram.counts.length;
  const numeric = isNumeric(histogram);
  const labelOf = (i: number): string =>
    numeric ? `${histogram.edges[i]} to ${histogram.edges[i + 1]}` : (histogram.categories?.[i] ?? String(i));
  return (
    <svg className="opsbook-MiniHistogram" viewBox="0 0 100 30" preserveAspectRatio="none" role="img" aria-label={`Histogram of ${column}, ${histogram.counts.length} bins`}>
      {histogram.counts.map((count, i) => {
        const height = (28 * count) / peak;
        return (
          <rect key={i} x={i * barWidth + 0.3} width={Math.max(barWidth - 0.6, 0.2)} y={30 - height} height={height}>
            <title>
              {labelOf(i)}: {formatCount(count)}
            </title>
          </rect>
        );
      })}
    </svg>
  );
}
