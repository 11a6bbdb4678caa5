import { useEffect } from 'react';
import type { ChartTheme } from './chartTheme';
import { loadPlotly, type PlotlyLoader } from './plotly';
import { ensureViewStyles } from './styles';
import { escapeHtml, usePlotlyChart } from './usePlotlyChart';

export interface MetricChartProps {
  /** Metric name, used as the chart title. */
  metricKey: string;
  steps: readonly number[];
  values: readonly (number | null)[];
  /** Points recorded before downsampling; shown when more than were drawn. */
  count?: number;
  /** Supplies plotly.js; defaults to the bundled basic dist. */
  plotly?: PlotlyLoader;
}

/** Plotly trace and layout for one metric series, coloured from `theme`. */
export function chartFigure(
  metricKey: string,
  steps: readonly number[],
  values: readonly (number | null)[],
  theme: ChartTheme,
): { data: object[]; layout: object } {
  const axis = { gridcolor: theme.grid, zerolinecolor: theme.grid, linecolor: theme.grid, automargin: true };
  return {
    data: [
      {
        type: 'scatter',
        mode: steps.length > 1 ? 'lines' : 'markers',
        name: metricKey,
        x: [...steps],
        y: [...values],
        line: { color: theme.line, width: 2 },
        marker: { color: theme.line },
        hovertemplate: 'step %{x}<br>%{y}<extra></extra>',
      },
    ],
    layout: {
      title: { text: escapeHtml(metricKey), font: { size: 13 }, x: 0.02 },
      font: { color: theme.font, family: theme.fontFamily, size: 11 },
      paper_bgcolor: 'rgba(0,0,0,0)',
      plot_bgcolor: 'rgba(0,0,0,0)',
      margin: { l: 48, r: 12, t: 32, b: 36 },
      xaxis: { ...axis, title: { text: 'step' } },
      yaxis: axis,
      showlegend: false,
      autosize: true,
    },
  };
}

/** One metric as a line over steps, redrawn when its data or the host theme changes. */
export function MetricChart({ metricKey, steps, values, count, plotly = loadPlotly }: MetricChartProps): JSX.Element {
  useEffect(() => ensureViewStyles(), []);
  const { ref: plotRef, error } = usePlotlyChart(plotly, (theme) => chartFigure(metricKey, steps, values, theme), [metricKey, steps, values]);

  const drawn = steps.length;
  return (
    <figure className="opsbook-MetricChart" data-metric={metricKey} style={{ margin: 0 }}>
      <div ref={plotRef} className="opsbook-MetricChart-plot" role="img" aria-label={`${metricKey} by step, ${drawn} points`} />
      {error && <div className="opsbook-MetricChart-message opsbook-error-text">{error}</div>}
      {count !== undefined && count > drawn && (
        <figcaption className="opsbook-MetricChart-message">
          {drawn} of {count} points shown
        </figcaption>
      )}
    </figure>
  );
}
