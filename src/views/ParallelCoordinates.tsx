import { useEffect } from 'react';
import { defaultDirection, differingParamKeys, paramAxis, type MetricDirection } from './compareData';
import { ensureCompareStyles } from './compareStyles';
import type { PlotlyLoader } from './plotly';
import { loadFullPlotly } from './plotlyFull';
import { ensureViewStyles } from './styles';
import { baseLayout, escapeHtml, usePlotlyChart, type Figure, type FigureTheme } from './usePlotlyChart';

/** A run as the param charts see it: its params (as logged, strings) and one value per metric. */
export interface ParamRun {
  id: string;
  name: string;
  params: Readonly<Record<string, string>>;
  metrics: Readonly<Record<string, number | null | undefined>>;
}

export interface ParallelCoordinatesProps {
  runs: readonly ParamRun[];
  /** The metric on the last axis, which also colours the lines. */
  metricKey: string;
  /** Param axes, in order; defaults to the params whose values differ between the runs. */
  paramKeys?: readonly string[];
  /** Which way the metric improves: the colour scale puts the best runs at its bright end. */
  direction?: MetricDirection;
  /** Supplies plotly.js with parallel coordinates; defaults to the full dist, loaded on first use. */
  plotly?: PlotlyLoader;
}

/** More axes than this are unreadable; the rest are left off (and said so). */
export const MAX_PARAM_AXES = 20;

/** The parcoords trace: one axis per param (numeric or categorical ticks), the metric last. */
export function parallelCoordinatesFigure(
  runs: readonly ParamRun[],
  paramKeys: readonly string[],
  metricKey: string,
  direction: MetricDirection,
  theme: FigureTheme,
): Figure {
  const drawn = drawableRuns(runs, paramKeys, metricKey);
  if (drawn.length === 0) return null;
  const dimensions: object[] = paramKeys.map((key) => {
    const axis = paramAxis(key, drawn);
    const label = escapeHtml(key);
    if (axis.kind === 'numeric') return axis.log ? logDimension(label, axis.values as number[]) : { label, values: axis.values };
    const last = Math.max(1, axis.categories.length - 1);
    return { label, values: axis.values, range: [0, last], tickvals: axis.categories.map((_, i) => i), ticktext: axis.categories.map(escapeHtml) };
  });
  const metric = drawn.map((run) => run.metrics[metricKey] as number);
  dimensions.push({ label: escapeHtml(metricKey), values: metric });
  const font = { color: theme.font, family: theme.fontFamily };
  return {
    data: [
      {
        type: 'parcoords',
        line: {
          color: metric,
          colorscale: 'Viridis',
          reversescale: direction === 'lower',
          showscale: true,
          colorbar: { title: { text: escapeHtml(metricKey), side: 'right' }, thickness: 12, outlinewidth: 0 },
        },
        dimensions,
        labelfont: { ...font, size: 12 },
        tickfont: { ...font, size: 10 },
        rangefont: { ...font, size: 9 },
        labelangle: paramKeys.length > 8 ? -20 : 0,
      },
    ],
    layout: { ...baseLayout(theme), margin: { l: 60, r: 40, t: 48, b: 24 } },
  };
}

/**
 * A numeric axis on a log scale, which parcoords lacks: the values as log10, ticks at each power of
 * ten labelled with the value itself.
 */
function logDimension(label: string, values: readonly number[]): object {
  const logs = values.map(Math.log10);
  const low = Math.floor(Math.min(...logs));
  const high = Math.ceil(Math.max(...logs));
  const tickvals = Array.from({ length: high - low + 1 }, (_, i) => low + i);
  return { label: `${label} (log)`, values: logs, range: [low, high], tickvals, ticktext: tickvals.map((p) => String(Number((10 ** p).toPrecision(1)))) };
}

/** Runs that have the metric and a value (or a category) on every numeric axis. */
function drawableRuns(runs: readonly ParamRun[], paramKeys: readonly string[], metricKey: string): ParamRun[] {
  const withMetric = runs.filter((run) => Number.isFinite(run.metrics[metricKey]));
  const numericGaps = new Set<number>();
  for (const key of paramKeys) {
    const axis = paramAxis(key, withMetric);
    if (axis.kind === 'numeric') axis.values.forEach((value, i) => value === null && numericGaps.add(i));
  }
  return withMetric.filter((_, i) => !numericGaps.has(i));
}

/**
 * Parallel coordinates over runs: each param an axis (numeric params on a numeric scale, others as
 * categorical ticks), the chosen metric the last axis and the line colour. Axes can be dragged and
 * brushed (plotly's parcoords).
 */
export function ParallelCoordinates({ runs, metricKey, paramKeys, direction, plotly = loadFullPlotly }: ParallelCoordinatesProps): JSX.Element {
  useEffect(() => {
    ensureViewStyles();
    ensureCompareStyles();
  }, []);
  const allKeys = paramKeys ?? differingParamKeys(runs);
  const keys = allKeys.slice(0, MAX_PARAM_AXES);
  const way = direction ?? defaultDirection(metricKey);
  const drawn = drawableRuns(runs, keys, metricKey).length;
  const { ref, error } = usePlotlyChart(plotly, (theme) => parallelCoordinatesFigure(runs, keys, metricKey, way, theme), [
    runs,
    keys.join('\u0000'),
    metricKey,
    way,
  ]);
  const left = runs.length - drawn;
  return (
    <figure className="opsbook-ParallelCoordinates" data-metric={metricKey} data-axes={keys.length + 1} style={{ margin: 0 }}>
      <div
        ref={ref}
        className="opsbook-ParallelCoordinates-plot"
        role="img"
        aria-label={`Parallel coordinates of ${keys.length} params and ${metricKey} over ${drawn} runs`}
        hidden={drawn === 0}
      />
      {drawn === 0 && (
        <div className="opsbook-chart-message">
          {metricKey ? `No run has both ${metricKey} and the params to draw.` : 'Choose a metric to draw parallel coordinates.'}
        </div>
      )}
      {keys.length === 0 && drawn > 0 && <div className="opsbook-chart-message">No params differ between these runs.</div>}
      {error && <div className="opsbook-chart-message opsbook-error-text">{error}</div>}
      {(left > 0 || allKeys.length > keys.length) && drawn > 0 && (
        <figcaption className="opsbook-chart-message">
          {left > 0 && `${left} of ${runs.length} runs lack ${metricKey} or a numeric param and are not drawn. `}
          {allKeys.length > keys.length && `The first ${keys.length} of ${allKeys.length} differing params are shown.`}
        </figcaption>
      )}
    </figure>
  );
}
