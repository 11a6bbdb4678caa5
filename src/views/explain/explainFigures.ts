import type { Explanation } from '@opsbook/schema';
import { formatNumber } from '../quality/qualityFormat';
import { baseLayout, escapeHtml, themedAxis, type Figure, type FigureTheme } from '../usePlotlyChart';
import {
  beeswarmOffsets,
  featureColumn,
  featureOrder,
  foldFeatures,
  forceSides,
  meanAbs,
  normalizeColumn,
  shapColumn,
  signedText,
  valueText,
  waterfall,
} from './explainData';

/**
 * The plotly figures of the explanation views, one builder per chart, each with the one-line text
 * summary drawn beside it (for screen readers and for reading without hovering). Colours follow
 * shap: pushes up red, pushes down blue; the feature-value scale runs blue (low) to red (high).
 */

/** shap's red for positive contributions and high feature values. */
export const SHAP_RED = '#ff0051';
/** shap's blue for negative contributions and low feature values. */
export const SHAP_BLUE = '#008bfb';
/** Nulls of a feature in a beeswarm or dependence plot. */
const NULL_GREY = '#9e9e9e';
const VALUE_SCALE = [
  [0, SHAP_BLUE],
  [1, SHAP_RED],
];

/** Most bars a waterfall, mean |SHAP| bar or beeswarm draws before folding the rest into one. */
export const MAX_SHOWN = 10;
export const MAX_BEESWARM = 20;
/**
 * Points above which scatter charts draw with WebGL (scattergl): SVG keeps smaller charts crisp,
 * exportable and drawn where WebGL is off; beyond this many SVG markers panning and hovering lag.
 */
export const WEBGL_POINTS = 2000;

function scatterType(points: number): 'scatter' | 'scattergl' {
  return points > WEBGL_POINTS ? 'scattergl' : 'scatter';
}

/** The name of what the values explain, for axis titles: the output (and class) when known. */
export function outputText(explanation: Explanation): string {
  const { output } = explanation;
  const label = output.label !== undefined ? ` (class ${String(output.label)})` : '';
  return `${output.name}${output.index > 0 || label ? `[${output.index}]` : ''}${label}`;
}

function axisTitle(explanation: Explanation): string {
  return explanation.method === 'lime' ? 'LIME weight' : `SHAP value (impact on ${escapeHtml(outputText(explanation))})`;
}

/** A chart: what plotly draws, and the same facts in one sentence. */
export interface Chart {
  figure: Figure;
  summary: string;
}

/** Pixel height for `bars` horizontal bars: roomy enough for their labels. */
export function barsHeight(bars: number): number {
  return Math.max(180, 60 + 26 * bars);
}

/**
 * One row's waterfall, horizontal as shap draws it: the base value at the bottom, each feature's
 * step above it (largest |value| at the top), the rest folded into "N other features", and the
 * prediction as the final total.
 */
export function waterfallChart(explanation: Explanation, row: number, theme: FigureTheme, maxShown = MAX_SHOWN): Chart {
  const fall = waterfall(explanation, row, maxShown);
  const lime = explanation.method === 'lime';
  const baseName = lime ? 'intercept' : 'base value';
  const endName = lime ? 'local prediction' : 'prediction';
  // Bottom to top: base, the smallest shown step … the largest, then the prediction on top.
  const steps = [...fall.steps].reverse();
  const labels = [baseName, ...steps.map((s) => s.label), endName].map(escapeHtml);
  // Zoomed on where the running total goes, as shap's waterfall is: from 0 the steps of a large
  // base value would be slivers. The base and prediction bars then start off the left edge.
  const reached = [fall.base, fall.prediction, ...fall.steps.map((s) => s.end)];
  const low = Math.min(...reached);
  const high = Math.max(...reached);
  // Room either side for the step values written beyond their bars.
  const pad = (high - low || Math.abs(high) || 1) * 0.3;
  const figure: Figure = {
    data: [
      {
        type: 'waterfall',
        orientation: 'h',
        y: labels,
        x: [fall.base, ...steps.map((s) => s.value), 0],
        measure: ['absolute', ...steps.map(() => 'relative'), 'total'],
        base: 0,
        text: [formatNumber(fall.base), ...steps.map((s) => signedText(s.value)), formatNumber(fall.prediction)],
        textposition: 'auto',
        cliponaxis: false,
        increasing: { marker: { color: SHAP_RED } },
        decreasing: { marker: { color: SHAP_BLUE } },
        totals: { marker: { color: theme.grid, line: { color: theme.font, width: 1 } } },
        connector: { line: { color: theme.grid, width: 1 } },
        hovertemplate: '%{y}<br>%{text}<extra></extra>',
      },
    ],
    layout: {
      ...baseLayout(theme),
      height: barsHeight(labels.length),
      margin: { l: 8, r: 48, t: 8, b: 40 },
      xaxis: themedAxis(theme, { title: { text: axisTitle(explanation) }, range: [low - pad, high + pad] }),
      yaxis: themedAxis(theme, { type: 'category', automargin: true }),
      showlegend: false,
    },
  };
  const top = fall.steps
    .filter((s) => s.feature >= 0)
    .slice(0, 3)
    .map((s) => `${s.label} (${signedText(s.value)})`);
  const folded = fall.folded > 0 ? `; ${fall.folded} other features ${signedText(fall.steps[fall.steps.length - 1].value)}` : '';
  return {
    figure,
    summary: `From the ${baseName} ${formatNumber(fall.base)} to the ${endName} ${formatNumber(fall.prediction)}. Largest contributions: ${top.join(', ') || 'none'}${folded}.`,
  };
}

/**
 * shap's force plot as plotly bars on one line: the features pushing the output higher are red
 * segments that end at the prediction from the left, those pushing it lower are blue segments
 * that start there and run right, each side largest next to the prediction; the base value sits
 * where the red side begins minus the blue side's length.
 */
export function forceChart(explanation: Explanation, row: number, theme: FigureTheme, maxPerSide = 8): Chart {
  const { higher, lower, base, prediction } = forceSides(explanation, row, maxPerSide);
  const segments: { label: string; value: number; start: number; colour: string }[] = [];
  // Red: from the prediction leftwards, largest first.
  let at = prediction;
  const red = [...higher.features.map((f) => ({ label: f.label, value: f.value }))];
  if (higher.folded > 0) red.push({ label: `${higher.folded} other features`, value: higher.foldedValue });
  for (const s of red) {
    at -= s.value;
    segments.push({ ...s, start: at, colour: SHAP_RED });
  }
  // Blue: from the prediction rightwards, largest first.
  at = prediction;
  const blue = [...lower.features.map((f) => ({ label: f.label, value: f.value }))];
  if (lower.folded > 0) blue.push({ label: `${lower.folded} other features`, value: lower.foldedValue });
  for (const s of blue) {
    segments.push({ ...s, start: at, colour: SHAP_BLUE });
    at -= s.value;
  }
  const span = Math.max(1e-12, higher.total - lower.total);
  const figure: Figure = {
    data: segments.map((s) => ({
      type: 'bar',
      orientation: 'h',
      y: ['row'],
      x: [Math.abs(s.value)],
      base: [s.start],
      name: escapeHtml(s.label),
      marker: { color: s.colour, line: { color: 'rgba(255,255,255,0.75)', width: 1 } },
      // A segment wide enough for its label names it; the rest say it on hover.
      text: [Math.abs(s.value) / span > 0.12 ? escapeHtml(s.label) : ''],
      textposition: 'inside',
      insidetextanchor: 'middle',
      textfont: { color: '#fff', size: 10 },
      hovertemplate: `${escapeHtml(s.label)}<br>${signedText(s.value)}<extra></extra>`,
    })),
    layout: {
      ...baseLayout(theme),
      height: 150,
      barmode: 'overlay',
      bargap: 0.35,
      margin: { l: 8, r: 8, t: 34, b: 40 },
      xaxis: themedAxis(theme, { title: { text: axisTitle(explanation) } }),
      yaxis: { visible: false, fixedrange: true },
      showlegend: false,
      shapes: [base, prediction].map((x, i) => ({
        type: 'line',
        xref: 'x',
        yref: 'paper',
        x0: x,
        x1: x,
        y0: 0,
        y1: 1,
        line: { color: theme.font, width: i === 1 ? 2 : 1, dash: i === 1 ? 'solid' : 'dot' },
      })),
      annotations: [
        { x: base, y: 1, xref: 'x', yref: 'paper', yanchor: 'bottom', showarrow: false, text: `base value ${formatNumber(base)}`, font: { size: 10 } },
        { x: prediction, y: 1.12, xref: 'x', yref: 'paper', yanchor: 'bottom', showarrow: false, text: `<b>f(x) = ${formatNumber(prediction)}</b>`, font: { size: 11 } },
      ],
    },
  };
  const names = (side: typeof higher): string => side.features.slice(0, 3).map((f) => `${f.label} (${signedText(f.value)})`).join(', ') || 'nothing';
  return {
    figure,
    summary: `Prediction ${formatNumber(prediction)} against a base value of ${formatNumber(base)}: pushed higher by ${names(higher)}; pushed lower by ${names(lower)}.`,
  };
}

/**
 * The beeswarm of many rows: one line of dots per feature (strongest by mean |SHAP| at the top,
 * the rest folded), x its SHAP value, jittered within the line by density, coloured by the
 * feature's value (per-feature 5–95% range; nulls grey). One trace for every point, drawn with
 * WebGL beyond {@link WEBGL_POINTS} points, so 1,000 rows × 50 features stay interactive.
 */
export function beeswarmChart(explanation: Explanation, theme: FigureTheme, maxShown = MAX_BEESWARM): Chart {
  const order = featureOrder(explanation);
  const { shown, rest } = foldFeatures(order, maxShown);
  const rows = explanation.values.length;
  const lines = shown.length + (rest.length > 0 ? 1 : 0);
  const x: number[] = [];
  const y: number[] = [];
  const colour: number[] = [];
  const value: string[] = [];
  const nullX: number[] = [];
  const nullY: number[] = [];
  // Top line = strongest feature: line index counts down from the top.
  shown.forEach((feature, k) => {
    const line = lines - 1 - k;
    const shap = shapColumn(explanation, feature);
    const norm = normalizeColumn(explanation, feature);
    const offsets = beeswarmOffsets(shap, norm);
    const raw = featureColumn(explanation, feature);
    for (let r = 0; r < rows; r++) {
      if (Number.isNaN(norm[r])) {
        nullX.push(shap[r]);
        nullY.push(line + offsets[r]);
      } else {
        x.push(shap[r]);
        y.push(line + offsets[r]);
        colour.push(norm[r]);
        value.push(valueText(raw[r]));
      }
    }
  });
  if (rest.length > 0) {
    // The folded features: each row's summed SHAP value over them, uncoloured (no one value).
    const sums = Float64Array.from(explanation.values, (row) => rest.reduce((sum, f) => sum + (row[f] ?? 0), 0));
    const offsets = beeswarmOffsets(sums, null);
    for (let r = 0; r < rows; r++) {
      nullX.push(sums[r]);
      nullY.push(offsets[r]);
    }
  }
  const names = [...shown.map((f) => explanation.feature_names[f]), ...(rest.length > 0 ? [`sum of ${rest.length} other features`] : [])];
  const tickvals = names.map((_, k) => lines - 1 - k);
  const type = scatterType(x.length + nullX.length);
  const figure: Figure = {
    data: [
      {
        type,
        mode: 'markers',
        name: 'rows',
        x,
        y,
        customdata: value,
        marker: {
          color: colour,
          colorscale: VALUE_SCALE,
          cmin: 0,
          cmax: 1,
          size: rows > 500 ? 4 : 6,
          opacity: 0.8,
          colorbar: {
            title: { text: 'Feature value', side: 'right' },
            tickvals: [0, 1],
            ticktext: ['Low', 'High'],
            thickness: 10,
            len: 0.6,
            outlinewidth: 0,
          },
        },
        hovertemplate: 'SHAP %{x:.4g}<br>value %{customdata}<extra></extra>',
      },
      {
        type,
        mode: 'markers',
        name: 'no value',
        x: nullX,
        y: nullY,
        marker: { color: NULL_GREY, size: rows > 500 ? 4 : 6, opacity: 0.7 },
        hovertemplate: 'SHAP %{x:.4g}<extra></extra>',
      },
    ],
    layout: {
      ...baseLayout(theme),
      height: barsHeight(lines) + 20,
      margin: { l: 8, r: 8, t: 8, b: 44 },
      xaxis: themedAxis(theme, { title: { text: axisTitle(explanation) }, zeroline: true }),
      yaxis: themedAxis(theme, { tickvals, ticktext: names.map(escapeHtml), range: [-0.6, lines - 0.4], showgrid: true, zeroline: false, fixedrange: true }),
      showlegend: false,
    },
  };
  const importance = meanAbs(explanation.values, explanation.feature_names.length);
  const top = shown.slice(0, 3).map((f) => `${explanation.feature_names[f]} (mean |SHAP| ${formatNumber(importance[f])})`);
  return {
    figure,
    summary: `${rows.toLocaleString('en-US')} rows × ${explanation.feature_names.length} features. Strongest: ${top.join(', ')}.`,
  };
}

/** Mean |SHAP| (or |LIME weight|) per feature as horizontal bars, strongest at the top, the rest summed into one. */
export function meanAbsChart(explanation: Explanation, theme: FigureTheme, maxShown = MAX_SHOWN): Chart {
  const importance = meanAbs(explanation.values, explanation.feature_names.length);
  const { shown, rest } = foldFeatures(featureOrder(explanation), maxShown);
  const bars = shown.map((f) => ({ label: explanation.feature_names[f], value: importance[f] }));
  if (rest.length > 0) bars.push({ label: `sum of ${rest.length} other features`, value: rest.reduce((sum, f) => sum + importance[f], 0) });
  bars.reverse();
  const measure = explanation.method === 'lime' ? 'mean |LIME weight|' : 'mean |SHAP value|';
  const figure: Figure = {
    data: [
      {
        type: 'bar',
        orientation: 'h',
        y: bars.map((b) => escapeHtml(b.label)),
        x: bars.map((b) => b.value),
        text: bars.map((b) => formatNumber(b.value)),
        textposition: 'outside',
        cliponaxis: false,
        marker: { color: SHAP_RED },
        hovertemplate: `%{y}<br>${measure} %{x:.4g}<extra></extra>`,
      },
    ],
    layout: {
      ...baseLayout(theme),
      height: barsHeight(bars.length),
      margin: { l: 8, r: 48, t: 8, b: 40 },
      xaxis: themedAxis(theme, { title: { text: measure }, rangemode: 'tozero' }),
      yaxis: themedAxis(theme, { type: 'category' }),
      showlegend: false,
    },
  };
  const top = [...bars].reverse().slice(0, 3).map((b) => `${b.label} ${formatNumber(b.value)}`);
  return { figure, summary: `${measure} over ${explanation.values.length.toLocaleString('en-US')} rows: ${top.join(', ')}.` };
}

/**
 * A dependence plot: one dot per row, x the feature's value, y its SHAP value, coloured by another
 * feature's value (per-feature 5–95% range; nulls grey). Rows whose own value is null are left out.
 */
export function dependenceChart(explanation: Explanation, feature: number, colourBy: number | null, theme: FigureTheme): Chart {
  const raw = featureColumn(explanation, feature);
  const shap = shapColumn(explanation, feature);
  const norm = colourBy === null ? null : normalizeColumn(explanation, colourBy);
  const colourRaw = colourBy === null ? null : featureColumn(explanation, colourBy);
  const coloured = { x: [] as number[], y: [] as number[], c: [] as number[], v: [] as string[] };
  const grey = { x: [] as number[], y: [] as number[] };
  let skipped = 0;
  for (let r = 0; r < raw.length; r++) {
    if (Number.isNaN(raw[r])) {
      skipped++;
      continue;
    }
    if (norm && colourRaw && !Number.isNaN(norm[r])) {
      coloured.x.push(raw[r]);
      coloured.y.push(shap[r]);
      coloured.c.push(norm[r]);
      coloured.v.push(valueText(colourRaw[r]));
    } else {
      grey.x.push(raw[r]);
      grey.y.push(shap[r]);
    }
  }
  const name = explanation.feature_names[feature];
  const colourName = colourBy === null ? null : explanation.feature_names[colourBy];
  const type = scatterType(raw.length);
  const figure: Figure = {
    data: [
      {
        type,
        mode: 'markers',
        name: 'rows',
        x: coloured.x,
        y: coloured.y,
        customdata: coloured.v,
        marker: {
          color: coloured.c,
          colorscale: VALUE_SCALE,
          cmin: 0,
          cmax: 1,
          size: 6,
          opacity: 0.85,
          colorbar: colourName
            ? { title: { text: escapeHtml(colourName), side: 'right' }, tickvals: [0, 1], ticktext: ['Low', 'High'], thickness: 10, len: 0.6, outlinewidth: 0 }
            : undefined,
        },
        hovertemplate: `${escapeHtml(name)} %{x:.4g}<br>SHAP %{y:.4g}${colourName ? `<br>${escapeHtml(colourName)} %{customdata}` : ''}<extra></extra>`,
      },
      {
        type,
        mode: 'markers',
        name: 'no colour value',
        x: grey.x,
        y: grey.y,
        marker: { color: colourName ? NULL_GREY : theme.series[0], size: 6, opacity: 0.85 },
        hovertemplate: `${escapeHtml(name)} %{x:.4g}<br>SHAP %{y:.4g}<extra></extra>`,
      },
    ],
    layout: {
      ...baseLayout(theme),
      height: 340,
      margin: { l: 56, r: 8, t: 8, b: 44 },
      xaxis: themedAxis(theme, { title: { text: escapeHtml(name) } }),
      yaxis: themedAxis(theme, { title: { text: `SHAP value for ${escapeHtml(name)}` } }),
      showlegend: false,
    },
  };
  const r = correlationText(raw, shap);
  return {
    figure,
    summary: `SHAP value of ${name} against its value over ${(raw.length - skipped).toLocaleString('en-US')} rows${r}${colourName ? `, coloured by ${colourName}` : ''}${skipped ? `; ${skipped} rows with no value left out` : ''}.`,
  };
}

function correlationText(x: Float64Array, y: Float64Array): string {
  let n = 0;
  let sx = 0;
  let sy = 0;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(x[i])) continue;
    n++;
    sx += x[i];
    sy += y[i];
    sxy += x[i] * y[i];
    sxx += x[i] * x[i];
    syy += y[i] * y[i];
  }
  const denominator = Math.sqrt((n * sxx - sx * sx) * (n * syy - sy * sy));
  if (n < 2 || !(denominator > 0)) return '';
  const r = (n * sxy - sx * sy) / denominator;
  return ` (correlation ${r.toFixed(2)})`;
}

/**
 * LIME's weights for one row as lime's `as_pyplot_figure` draws them: one bar per condition,
 * largest |weight| at the top, green for weights towards the explained output and red against it.
 */
export function limeChart(explanation: Explanation, row: number, theme: FigureTheme): Chart {
  const lime = explanation.lime?.[row];
  if (!lime) return { figure: null, summary: 'No LIME weights for this row.' };
  const weights = [...lime.weights].sort((a, b) => Math.abs(a.weight) - Math.abs(b.weight));
  const green = theme.series[2] ?? '#2ca02c';
  const red = theme.series[3] ?? '#d62728';
  const figure: Figure = {
    data: [
      {
        type: 'bar',
        orientation: 'h',
        y: weights.map((w) => escapeHtml(w.condition)),
        x: weights.map((w) => w.weight),
        text: weights.map((w) => signedText(w.weight)),
        textposition: 'outside',
        cliponaxis: false,
        marker: { color: weights.map((w) => (w.weight >= 0 ? green : red)) },
        hovertemplate: '%{y}<br>weight %{x:.4g}<extra></extra>',
      },
    ],
    layout: {
      ...baseLayout(theme),
      height: barsHeight(weights.length),
      margin: { l: 8, r: 48, t: 8, b: 40 },
      xaxis: themedAxis(theme, { title: { text: 'LIME weight' }, zeroline: true, zerolinecolor: theme.font }),
      yaxis: themedAxis(theme, { type: 'category' }),
      showlegend: false,
    },
  };
  const top = [...weights].reverse().slice(0, 3).map((w) => `${w.condition} (${signedText(w.weight)})`);
  return {
    figure,
    summary: `Local model: intercept ${formatNumber(lime.intercept)}, local prediction ${formatNumber(lime.local_prediction)}, fit R² ${formatNumber(lime.score)}. Strongest: ${top.join(', ') || 'none'}.`,
  };
}
