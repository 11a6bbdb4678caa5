import { useEffect, useId, useState } from 'react';
import { smoothEma } from './compareData';
import { KeyPicker } from './KeyPicker';
import { ensureCompareStyles, SERIES_COLOR_COUNT } from './compareStyles';
import { loadPlotly, type PlotlyLoader } from './plotly';
import { ensureViewStyles } from './styles';
import { baseLayout, escapeHtml, themedAxis, usePlotlyChart, type Figure, type FigureTheme } from './usePlotlyChart';

/** One run's points of the chosen metric. */
export interface OverlaySeries {
  runId: string;
  /** Legend label: the run's name. */
  name: string;
  steps: readonly number[];
  values: readonly (number | null)[];
  /** Wall-clock time of each point in ms since the epoch; absent when the source has none. */
  times?: readonly number[];
  /** Points recorded before downsampling. */
  count?: number;
  /**
   * Palette slot of this run (0-based); defaults to its position. Views that show the run elsewhere
   * (a column swatch) pass the same slot so the colours agree.
   */
  colorIndex?: number;
}

/** What the x axis measures. */
export type OverlayXAxis = 'step' | 'wall' | 'relative';

/** How the overlay is drawn; the chart's controls change it. */
export interface OverlayOptions {
  /** EMA weight in [0, 0.99]; 0 draws the raw values only. */
  smoothing: number;
  logY: boolean;
  xAxis: OverlayXAxis;
}

export const DEFAULT_OVERLAY_OPTIONS: OverlayOptions = { smoothing: 0, logY: false, xAxis: 'step' };

export interface OverlayChartProps {
  /** Metric keys the picker offers. */
  metricKeys: readonly string[];
  /** The metric drawn. */
  metricKey: string;
  /** Called when the user picks another metric; the host then supplies its series. */
  onMetricKeyChange?: (metricKey: string) => void;
  series: readonly OverlaySeries[];
  /** True while the series of `metricKey` are being fetched. */
  loading?: boolean;
  /** Initial smoothing, log scale and x axis. */
  initialOptions?: Partial<OverlayOptions>;
  /**
   * Called when the user picks another x axis. A host whose series carry no times yet fetches them
   * (with timestamps) on a time axis; without this callback the time axes need `times` in the series.
   */
  onXAxisChange?: (xAxis: OverlayXAxis) => void;
  /** Supplies plotly.js; defaults to the bundled basic dist. */
  plotly?: PlotlyLoader;
}

const X_LABEL: Record<OverlayXAxis, string> = { step: 'step', wall: 'wall time', relative: 'relative time (s)' };

/** The palette slot of the series at `position`. */
function slotOf(series: OverlaySeries, position: number): number {
  return (series.colorIndex ?? position) % SERIES_COLOR_COUNT;
}

/**
 * Plotly traces and layout for one metric over many runs. With smoothing, each run gets a faint raw
 * line (no legend entry, no hover) under its smoothed line in the same colour.
 */
export function overlayFigure(metricKey: string, series: readonly OverlaySeries[], options: OverlayOptions, theme: FigureTheme): Figure {
  const drawable = series.filter((s) => s.steps.length > 0);
  if (drawable.length === 0) return null;
  const smoothing = Math.max(0, Math.min(options.smoothing, 0.99));
  const data: object[] = [];
  series.forEach((s, position) => {
    if (s.steps.length === 0) return;
    const x = xValues(s, options.xAxis);
    if (!x) return;
    const color = theme.series[slotOf(s, position)];
    const name = escapeHtml(s.name);
    const mode = s.steps.length > 1 ? 'lines' : 'markers';
    const hovertemplate = `<b>${name}</b><br>${X_LABEL[options.xAxis]} %{x}<br>${escapeHtml(metricKey)} %{y}<extra></extra>`;
    if (smoothing > 0) {
      data.push({ type: 'scatter', mode, name, x, y: [...s.values], legendgroup: s.runId, showlegend: false, hoverinfo: 'skip', opacity: 0.25, line: { color, width: 1 }, marker: { color } });
      data.push({ type: 'scatter', mode, name, x, y: smoothEma(s.values, smoothing), legendgroup: s.runId, line: { color, width: 2 }, marker: { color }, hovertemplate });
    } else {
      data.push({ type: 'scatter', mode, name, x, y: [...s.values], legendgroup: s.runId, line: { color, width: 2 }, marker: { color }, hovertemplate });
    }
  });
  if (data.length === 0) return null;
  return {
    data,
    layout: {
      ...baseLayout(theme),
      margin: { l: 56, r: 12, t: 12, b: 40 },
      xaxis: themedAxis(theme, { title: { text: X_LABEL[options.xAxis] }, ...(options.xAxis === 'wall' ? { type: 'date' } : {}) }),
      yaxis: themedAxis(theme, { title: { text: escapeHtml(metricKey) }, type: options.logY ? 'log' : 'linear' }),
      showlegend: true,
      legend: { orientation: 'h', y: -0.2, font: { size: 11 } },
      hovermode: 'closest',
    },
  };
}

/** The x values of a series for the chosen axis, or null when it has no times to place them by. */
function xValues(series: OverlaySeries, axis: OverlayXAxis): number[] | null {
  if (axis === 'step') return [...series.steps];
  const times = series.times;
  if (!times || times.length !== series.steps.length) return null;
  if (axis === 'wall') return [...times];
  const start = times[0];
  return times.map((t) => (t - start) / 1000);
}

/**
 * One metric over steps (or wall / relative time) for many runs, overlaid, with a metric picker,
 * EMA smoothing, a log y scale and a legend of run names. Colours follow the host theme.
 */
export function OverlayChart({
  metricKeys,
  metricKey,
  onMetricKeyChange,
  series,
  loading = false,
  initialOptions,
  onXAxisChange,
  plotly = loadPlotly,
}: OverlayChartProps): JSX.Element {
  useEffect(() => {
    ensureViewStyles();
    ensureCompareStyles();
  }, []);
  const [options, setOptions] = useState<OverlayOptions>({ ...DEFAULT_OVERLAY_OPTIONS, ...initialOptions });
  const id = useId();
  const hasTimes = series.some((s) => s.times && s.times.length === s.steps.length && s.steps.length > 0);
  const timeAxes = hasTimes || onXAxisChange !== undefined;
  const effective: OverlayOptions = timeAxes ? options : { ...options, xAxis: 'step' };
  const waitingForTimes = effective.xAxis !== 'step' && !hasTimes;
  const { ref, error } = usePlotlyChart(plotly, (theme) => overlayFigure(metricKey, series, effective, theme), [
    metricKey,
    series,
    effective.smoothing,
    effective.logY,
    effective.xAxis,
  ]);
  const points = series.reduce((sum, s) => sum + s.steps.length, 0);
  const recorded = series.reduce((sum, s) => sum + (s.count ?? s.steps.length), 0);
  const empty = !loading && (points === 0 || waitingForTimes);

  return (
    <figure className="opsbook-OverlayChart" data-metric={metricKey} style={{ margin: 0 }}>
      <div className="opsbook-toolbar" role="group" aria-label="Chart options">
        <KeyPicker label="Metric" value={metricKey} options={metricKeys} onChange={(key) => onMetricKeyChange?.(key)} />
        <label htmlFor={`${id}-smoothing`}>
          Smoothing
          <input
            id={`${id}-smoothing`}
            type="range"
            min={0}
            max={0.99}
            step={0.01}
            value={options.smoothing}
            onChange={(event) => setOptions({ ...options, smoothing: Number(event.target.value) })}
          />
          <output htmlFor={`${id}-smoothing`} className="opsbook-metric-value">
            {options.smoothing.toFixed(2)}
          </output>
        </label>
        <label>
          <input type="checkbox" checked={options.logY} onChange={(event) => setOptions({ ...options, logY: event.target.checked })} />
          Log scale
        </label>
        <label htmlFor={`${id}-x`}>
          X axis
          <select
            id={`${id}-x`}
            value={effective.xAxis}
            onChange={(event) => {
              const xAxis = event.target.value as OverlayXAxis;
              setOptions({ ...options, xAxis });
              onXAxisChange?.(xAxis);
            }}
          >
            <option value="step">Step</option>
            <option value="wall" disabled={!timeAxes}>
              Wall time
            </option>
            <option value="relative" disabled={!timeAxes}>
              Relative time
            </option>
          </select>
        </label>
      </div>
      <div
        ref={ref}
        className="opsbook-OverlayChart-plot"
        role="img"
        aria-label={`${metricKey} for ${series.length} runs, ${points} points`}
        hidden={empty}
      />
      {loading && <div className="opsbook-chart-message">Loading {metricKey}…</div>}
      {empty && (
        <div className="opsbook-chart-message">
          {waitingForTimes && points > 0 ? 'These points carry no times.' : `No points of ${metricKey || 'this metric'} in these runs.`}
        </div>
      )}
      {error && <div className="opsbook-chart-message opsbook-error-text">{error}</div>}
      {recorded > points && (
        <figcaption className="opsbook-chart-message">
          {points} of {recorded} points shown
        </figcaption>
      )}
    </figure>
  );
}
