import { useEffect, useState } from 'react';
import { KeyPicker } from './KeyPicker';
import { bestIndex, defaultDirection, differingParamKeys, paramAxis, type MetricDirection } from './compareData';
import { ensureCompareStyles } from './compareStyles';
import type { ParamRun } from './ParallelCoordinates';
import type { PlotlyLoader } from './plotly';
import { loadFullPlotly } from './plotlyFull';
import { ensureViewStyles } from './styles';
import { baseLayout, escapeHtml, themedAxis, usePlotlyChart, type Figure, type FigureTheme } from './usePlotlyChart';

export interface ParamScatterProps {
  runs: readonly ParamRun[];
  /** The metric on the y axis. */
  metricKey: string;
  /** Params the picker offers; defaults to those whose values differ between the runs. */
  paramKeys?: readonly string[];
  /** The param first shown on the x axis; defaults to the first offered. */
  initialParamKey?: string;
  /** Which way the metric improves; the best run's point is ringed. */
  direction?: MetricDirection;
  /** Supplies plotly.js; defaults to the full dist (shared with parallel coordinates on one page). */
  plotly?: PlotlyLoader;
}

/** One marker per run: the param on x (numeric, or categories in natural order), the metric on y. */
export function paramScatterFigure(
  runs: readonly ParamRun[],
  paramKey: string,
  metricKey: string,
  direction: MetricDirection,
  theme: FigureTheme,
): Figure {
  const drawn = runs.filter((run) => Number.isFinite(run.metrics[metricKey]));
  if (drawn.length === 0 || !paramKey) return null;
  const axis = paramAxis(paramKey, drawn);
  const x = axis.kind === 'numeric' ? axis.values : axis.values.map((i) => (i === null ? null : axis.categories[i]));
  const y = drawn.map((run) => run.metrics[metricKey] as number);
  const best = bestIndex(y, direction);
  const color = theme.series[0];
  const xTitle = escapeHtml(paramKey);
  return {
    data: [
      {
        type: 'scatter',
        mode: 'markers',
        x: axis.kind === 'numeric' ? x : (x as (string | null)[]).map((v) => (v === null ? null : escapeHtml(v))),
        y,
        text: drawn.map((run) => escapeHtml(run.name)),
        marker: {
          color,
          size: drawn.map((_, i) => (i === best ? 13 : 9)),
          line: { color: theme.font, width: drawn.map((_, i) => (i === best ? 2 : 0)) },
          opacity: 0.85,
        },
        hovertemplate: `<b>%{text}</b><br>${xTitle} %{x}<br>${escapeHtml(metricKey)} %{y}<extra></extra>`,
      },
    ],
    layout: {
      ...baseLayout(theme),
      margin: { l: 56, r: 12, t: 12, b: 44 },
      xaxis: themedAxis(theme, {
        title: { text: xTitle },
        ...(axis.kind === 'categorical' ? { type: 'category', categoryorder: 'array', categoryarray: axis.categories.map(escapeHtml) } : {}),
        ...(axis.kind === 'numeric' && axis.log ? { type: 'log' } : {}),
      }),
      yaxis: themedAxis(theme, { title: { text: escapeHtml(metricKey) } }),
      showlegend: false,
      hovermode: 'closest',
    },
  };
}

/** One param against one metric across runs, with a picker for the param. */
export function ParamScatter({ runs, metricKey, paramKeys, initialParamKey, direction, plotly = loadFullPlotly }: ParamScatterProps): JSX.Element {
  useEffect(() => {
    ensureViewStyles();
    ensureCompareStyles();
  }, []);
  const keys = paramKeys ?? differingParamKeys(runs);
  const [chosen, setChosen] = useState<string | undefined>(initialParamKey);
  const paramKey = chosen !== undefined && keys.includes(chosen) ? chosen : (keys[0] ?? '');
  const way = direction ?? defaultDirection(metricKey);
  const drawn = runs.filter((run) => Number.isFinite(run.metrics[metricKey])).length;
  const { ref, error } = usePlotlyChart(plotly, (theme) => paramScatterFigure(runs, paramKey, metricKey, way, theme), [runs, paramKey, metricKey, way]);
  const empty = drawn === 0 || !paramKey;
  return (
    <figure className="opsbook-ParamScatter" data-param={paramKey} data-metric={metricKey} style={{ margin: 0 }}>
      <div className="opsbook-toolbar">
        <KeyPicker label="Param" value={paramKey} options={keys} onChange={setChosen} />
        <span className="opsbook-muted">vs {metricKey || '—'}</span>
      </div>
      <div ref={ref} className="opsbook-ParamScatter-plot" role="img" aria-label={`${metricKey} by ${paramKey} over ${drawn} runs`} hidden={empty} />
      {empty && <div className="opsbook-chart-message">{keys.length === 0 ? 'No params differ between these runs.' : `No run has ${metricKey || 'a metric'} to draw.`}</div>}
      {error && <div className="opsbook-chart-message opsbook-error-text">{error}</div>}
    </figure>
  );
}
