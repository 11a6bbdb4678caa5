import { SchemaValidator, type Explanation } from '@opsbook/schema';
import {
  beeswarmOffsets,
  correlation,
  featureLabel,
  featureOrder,
  foldFeatures,
  forceSides,
  meanAbs,
  normalizeColumn,
  orderByMagnitude,
  quantileSorted,
  topInteraction,
  waterfall,
} from './explainData';
import { beeswarmChart, dependenceChart, forceChart, limeChart, meanAbsChart, waterfallChart } from './explainFigures';
import type { FigureTheme } from '../usePlotlyChart';

const validator = new SchemaValidator();
const theme: FigureTheme = { font: '#222', fontFamily: 'sans-serif', line: '#1976d2', grid: '#ddd', series: ['#1f77b4', '#e8710a', '#2ca02c', '#d62728'] };

/** A seeded generator (mulberry32), so the made-up data is the same on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * An explanation of y = 3·a + b·c + 0.1·d (+ features e.. that do nothing) as exact SHAP values of an
 * additive-with-interaction model over independent features: φ_a = 3(a − E a), φ_b and φ_c split
 * b·c's effect, φ_d = 0.1(d − E d); valid against explanation.schema.json.
 */
function explanation(rows: number, extra = 0, seed = 1): Explanation {
  const next = random(seed);
  const names = ['a', 'b', 'c', 'd', ...Array.from({ length: extra }, (_, i) => `e${i}`)];
  const features = Array.from({ length: rows }, () => names.map(() => next() * 2 - 1));
  const mean = names.map((_, f) => features.reduce((s, r) => s + r[f], 0) / rows);
  const values = features.map((x) => {
    const bc = x[1] * x[2] - mean[1] * mean[2];
    return names.map((_, f) => (f === 0 ? 3 * (x[0] - mean[0]) : f === 1 || f === 2 ? bc / 2 : f === 3 ? 0.1 * (x[3] - mean[3]) : 0));
  });
  const base = 3 * mean[0] + mean[1] * mean[2] + 0.1 * mean[3];
  return validator.assert<Explanation>('explanation.schema.json', {
    method: 'kernel',
    model: { ref: 'toy:1', path: '/tmp/toy.onnx', name: 'toy', version: 1 },
    output: { name: 'variable', index: 0 },
    feature_names: names,
    rows: features.map((_, i) => i),
    features,
    values,
    base_values: features.map(() => base),
    predictions: values.map((v) => base + v.reduce((s, x) => s + x, 0)),
    seconds: 0.5,
  });
}

describe('orderings and folding', () => {
  it('orders by |value|, largest first, ties in index order', () => {
    expect(orderByMagnitude([0.1, -3, 2, 3, 0])).toEqual([1, 3, 2, 0, 4]);
  });

  it('orders features by mean |SHAP| over the rows and folds the tail', () => {
    const e = explanation(200, 3);
    const order = featureOrder(e);
    // a's spread (3·U(−1,1)) dominates; b and c share b·c; d is small; e* are zero.
    expect(order.slice(0, 4)).toEqual([0, 1, 2, 3]);
    const importance = meanAbs(e.values, e.feature_names.length);
    for (let k = 1; k < order.length; k++) expect(importance[order[k - 1]]).toBeGreaterThanOrEqual(importance[order[k]]);
    expect(foldFeatures(order, 5)).toEqual({ shown: order.slice(0, 4), rest: order.slice(4) });
    expect(foldFeatures(order, 10)).toEqual({ shown: order, rest: [] });
  });

  it("builds one row's waterfall from the base value to the prediction, the rest folded into one step", () => {
    const e = explanation(5, 12);
    const fall = waterfall(e, 2, 5);
    expect(fall.base).toBe(e.base_values[2]);
    expect(fall.steps).toHaveLength(5);
    expect(fall.folded).toBe(16 - 4);
    expect(fall.steps[4]).toMatchObject({ feature: -1, label: '12 other features' });
    // The steps chain, and end where the model's output is.
    for (let k = 1; k < fall.steps.length; k++) expect(fall.steps[k].start).toBeCloseTo(fall.steps[k - 1].end, 12);
    expect(fall.prediction).toBeCloseTo(e.predictions![2], 12);
    expect(fall.steps[0].label).toBe(featureLabel('a', e.features[2][0]));
    expect(Math.abs(fall.steps[0].value)).toBeGreaterThanOrEqual(Math.abs(fall.steps[1].value));
    // Few enough features: every one shown, nothing folded.
    expect(waterfall(e, 2, 16).folded).toBe(0);
  });

  it('labels a feature "name = value" to four significant digits, NaN for a null', () => {
    expect(featureLabel('age', 31)).toBe('age = 31');
    expect(featureLabel('ratio', 0.123456)).toBe('ratio = 0.1235');
    expect(featureLabel('x', null)).toBe('x = NaN');
  });

  it('splits a row into what pushes it higher and lower, the totals closing the gap from base to prediction', () => {
    const e = explanation(3, 20);
    const { higher, lower, base, prediction } = forceSides(e, 1, 2);
    expect(higher.features.every((f) => f.value > 0)).toBe(true);
    expect(lower.features.every((f) => f.value < 0)).toBe(true);
    expect(higher.features.length + higher.folded + lower.features.length + lower.folded).toBe(e.values[1].filter((v) => v !== 0).length);
    expect(prediction - base).toBeCloseTo(e.values[1].reduce((s, v) => s + v, 0), 12);
    expect(higher.total).toBeCloseTo(higher.features.reduce((s, f) => s + f.value, 0) + higher.foldedValue, 12);
  });
});

describe('colour normalization', () => {
  it('scales between the 5th and 95th percentiles, clipped, as shap colours its beeswarm', () => {
    const column = Array.from({ length: 101 }, (_, i) => i);
    column[100] = 10_000; // one outlier does not wash the rest out
    const e = { ...explanation(101), features: column.map((v) => [v, 0, 0, 0]) };
    const norm = normalizeColumn(e, 0);
    const sorted = [...column].sort((a, b) => a - b);
    const low = quantileSorted(sorted, 0.05);
    const high = quantileSorted(sorted, 0.95);
    expect(low).toBe(5);
    expect(high).toBe(95);
    expect(norm[0]).toBe(0);
    expect(norm[50]).toBeCloseTo(0.5, 12);
    expect(norm[100]).toBe(1);
    expect(quantileSorted([1, 2], 0.5)).toBe(1.5);
  });

  it('gives a constant feature the middle colour and a null none', () => {
    const e = { ...explanation(3), features: [[1, 5, null, 0], [1, 5, 2, 0], [1, 7, 4, 0]] };
    expect(Array.from(normalizeColumn(e, 0))).toEqual([0.5, 0.5, 0.5]);
    const withNull = normalizeColumn(e, 2);
    expect(Number.isNaN(withNull[0])).toBe(true);
    expect(withNull[1]).toBe(0);
    expect(withNull[2]).toBe(1);
    // A binary column whose 5–95% range is one value still spreads over its two values.
    const binary = { ...explanation(40), features: Array.from({ length: 40 }, (_, i) => [i === 0 ? 1 : 0, 0, 0, 0]) };
    const b = normalizeColumn(binary, 0);
    expect(b[0]).toBe(1);
    expect(b[1]).toBe(0);
  });
});

describe('beeswarm jitter', () => {
  it('stacks points of a dense x bin outward inside the band, leaves lone points on the line, and is deterministic', () => {
    const x = [0, 0, 0, 0, 0, 10];
    const offsets = beeswarmOffsets(x, null, 0.4, 10);
    expect(offsets[5]).toBe(0);
    const stack = Array.from(offsets.slice(0, 5)).sort((a, b) => a - b);
    // Five points: centre, ±1 step, ±2 steps, with the fullest bin filling the band.
    expect(stack[2]).toBeCloseTo(0, 12);
    expect(stack[0]).toBeCloseTo(-stack[4], 12);
    expect(stack[1]).toBeCloseTo(-stack[3], 12);
    expect(new Set(stack.map((v) => v.toFixed(9))).size).toBe(5);
    for (const v of offsets) expect(Math.abs(v)).toBeLessThanOrEqual(0.4 + 1e-12);
    expect(Array.from(beeswarmOffsets(x, null, 0.4, 10))).toEqual(Array.from(offsets));
  });

  it('orders a stack by colour, so like values sit together', () => {
    const offsets = beeswarmOffsets([1, 1, 1], [0.9, 0.1, 0.5], 0.4, 5);
    // The lowest colour takes the centre, the next the first step out.
    expect(offsets[1]).toBe(0);
    expect(offsets[2]).not.toBe(0);
  });
});

describe('interaction', () => {
  it('correlates over finite pairs', () => {
    expect(correlation([1, 2, 3, NaN], [2, 4, 6, 100])).toBeCloseTo(1, 12);
    expect(correlation([1, 1, 1], [1, 2, 3])).toBe(0);
  });

  it("finds the feature that spreads another's SHAP values: b's with c, not with a or d", () => {
    const e = explanation(300, 2);
    expect(topInteraction(e, 1)).toBe(2);
    expect(topInteraction(e, 2)).toBe(1);
    expect(topInteraction({ ...e, feature_names: ['only'], features: e.features.map((r) => [r[0]]), values: e.values.map((r) => [r[0]]) }, 0)).toBeNull();
  });
});

describe('figures', () => {
  it('draws the waterfall as plotly waterfall steps: base, features smallest to largest upwards, the prediction as total', () => {
    const e = explanation(4, 12);
    const { figure, summary } = waterfallChart(e, 1, theme, 5);
    const trace = figure!.data[0] as { type: string; measure: string[]; x: number[]; y: string[] };
    expect(trace.type).toBe('waterfall');
    expect(trace.measure).toEqual(['absolute', 'relative', 'relative', 'relative', 'relative', 'relative', 'total']);
    expect(trace.y[0]).toBe('base value');
    expect(trace.y[1]).toBe('12 other features');
    expect(trace.y[6]).toBe('prediction');
    expect(trace.x[0] + trace.x.slice(1, 6).reduce((s, v) => s + v, 0)).toBeCloseTo(e.predictions![1], 12);
    expect(summary).toMatch(/^From the base value .* to the prediction .*\. Largest contributions: a = /);
  });

  it('lays the force plot out from the prediction: red segments end there, blue ones start there', () => {
    const e = explanation(2, 0);
    const { figure } = forceChart(e, 0, theme);
    const { higher, lower, prediction } = forceSides(e, 0);
    const bars = figure!.data as { x: number[]; base: number[]; marker: { color: string } }[];
    const red = bars.filter((b) => b.marker.color === '#ff0051');
    const blue = bars.filter((b) => b.marker.color === '#008bfb');
    expect(red).toHaveLength(higher.features.length);
    expect(blue).toHaveLength(lower.features.length);
    if (red.length) expect(red[0].base[0] + red[0].x[0]).toBeCloseTo(prediction, 12);
    if (blue.length) expect(blue[0].base[0]).toBeCloseTo(prediction, 12);
  });

  it('puts every (row, feature) of a big beeswarm in one WebGL trace, quickly; a small one in SVG', () => {
    const e = explanation(1000, 46, 7);
    const started = performance.now();
    const { figure, summary } = beeswarmChart(e, theme);
    const took = performance.now() - started;
    const [points, folded] = figure!.data as { type: string; x: number[]; y: number[]; marker: { color: number[] } }[];
    expect(points.type).toBe('scattergl');
    // 19 features drawn one by one, the other 31 summed into the bottom line (grey, no one value).
    expect(points.x).toHaveLength(19 * 1000);
    expect(folded.x).toHaveLength(1000);
    expect(points.marker.color.every((c) => c >= 0 && c <= 1)).toBe(true);
    const layout = figure!.layout as { yaxis: { ticktext: string[] } };
    expect(layout.yaxis.ticktext[0]).toBe('a');
    expect(layout.yaxis.ticktext[19]).toBe('sum of 31 other features');
    expect(summary).toContain('1,000 rows × 50 features');
    // Generous for two loaded cores; a quadratic layout would take seconds.
    expect(took).toBeLessThan(3000);
    const small = beeswarmChart(explanation(20), theme).figure!.data as { type: string; x: number[] }[];
    expect(small.map((trace) => trace.type)).toEqual(['scatter', 'scatter']);
    expect(small[0].x).toHaveLength(80);
  });

  it('draws mean |SHAP| bars strongest on top and a dependence plot coloured by the picked feature', () => {
    const e = explanation(50, 1);
    const bars = meanAbsChart(e, theme).figure!.data[0] as { y: string[]; x: number[] };
    expect(bars.y[bars.y.length - 1]).toBe('a');
    const dependence = dependenceChart(e, 1, 2, theme);
    const [coloured] = dependence.figure!.data as { x: number[]; y: number[]; marker: { color: number[] } }[];
    expect(coloured.x).toEqual(e.features.map((r) => r[1]));
    expect(coloured.y).toEqual(e.values.map((r) => r[1]));
    expect(dependence.summary).toContain('coloured by c');
  });

  it("draws LIME's weights green for and red against, the strongest on top", () => {
    const e = validator.assert<Explanation>('explanation.schema.json', {
      ...explanation(1),
      method: 'lime',
      lime: [
        {
          intercept: 0.2,
          local_prediction: 0.9,
          score: 0.81,
          weights: [
            { feature: 'a', condition: 'a > 0.50', weight: 0.6 },
            { feature: 'b', condition: '-0.20 < b <= 0.10', weight: -0.3 },
          ],
        },
      ],
    });
    const { figure, summary } = limeChart(e, 0, theme);
    const trace = figure!.data[0] as { y: string[]; marker: { color: string[] } };
    expect(trace.y).toEqual(['-0.20 &lt; b &lt;= 0.10', 'a &gt; 0.50']);
    expect(trace.marker.color).toEqual([theme.series[3], theme.series[2]]);
    expect(summary).toBe('Local model: intercept 0.2, local prediction 0.9, fit R² 0.81. Strongest: a > 0.50 (+0.6), -0.20 < b <= 0.10 (−0.3).');
  });
});
