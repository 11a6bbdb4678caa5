import { useEffect, useRef, useState } from 'react';
import { readChartTheme, watchThemeChanges, type ChartTheme } from './chartTheme';
import { loadPlotly, type PlotlyApi, type PlotlyLoader } from './plotly';
import { ensureViewStyles } from './styles';

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
  const plotRef = useRef<HTMLDivElement>(null);
  const plotlyRef = useRef<PlotlyApi | null>(null);
  const [themeVersion, setThemeVersion] = useState(0);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => ensureViewStyles(), []);

  useEffect(() => {
    const element = plotRef.current;
    if (!element) return undefined;
    const stopWatching = watchThemeChanges(element.ownerDocument, () => setThemeVersion((v) => v + 1));
    const Resize = element.ownerDocument.defaultView?.ResizeObserver;
    // The host's panels resize without a window resize event, which is all plotly listens to.
    const resizeObserver = Resize
      ? new Resize(() => {
          if (plotlyRef.current && element.isConnected) plotlyRef.current.Plots.resize(element);
        })
      : undefined;
    resizeObserver?.observe(element);
    return () => {
      stopWatching();
      resizeObserver?.disconnect();
      plotlyRef.current?.purge(element);
    };
  }, []);

  useEffect(() => {
    const element = plotRef.current;
    if (!element) return;
    let cancelled = false;
    const draw = async (): Promise<void> => {
      const api = await plotly();
      if (cancelled) return;
      plotlyRef.current = api;
      const { data, layout } = chartFigure(metricKey, steps, values, readChartTheme(element));
      await api.react(element, data, layout, { displaylogo: false, responsive: true, modeBarButtonsToRemove: ['select2d', 'lasso2d'] });
      if (!cancelled) setError(null);
    };
    draw().catch((reason: unknown) => {
      if (!cancelled) setError(`Chart unavailable: ${reason instanceof Error ? reason.message : String(reason)}`);
    });
    return () => {
      cancelled = true;
    };
  }, [metricKey, steps, values, themeVersion, plotly]);

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

/** Plotly titles accept HTML; metric keys are user text. */
function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
