import type { Explanation } from '@opsbook/schema';
import { formatNumber } from '../quality/qualityFormat';

/**
 * Pure data helpers of the explanation views: orderings, folding the small contributions away,
 * beeswarm jitter, per-feature colour normalization and the strongest interaction. No DOM, no
 * plotly, so they are tested on their own and run on 1,000 rows × 50 features in milliseconds.
 */

/** A feature's value as a label reads it: numbers to four significant digits, null as "NaN". */
export function valueText(value: number | null | undefined): string {
  return value === null || value === undefined || Number.isNaN(value) ? 'NaN' : formatNumber(value);
}

/** "name = value", the label shap's waterfall gives each feature of a row. */
export function featureLabel(name: string, value: number | null | undefined): string {
  return `${name} = ${valueText(value)}`;
}

/** A signed contribution: "+0.1234" / "−0.1234" (a real minus sign). */
export function signedText(value: number): string {
  return `${value < 0 ? '−' : '+'}${formatNumber(Math.abs(value))}`;
}

/** Indices of `values` by |value|, largest first; ties keep index order (a stable sort). */
export function orderByMagnitude(values: readonly number[]): number[] {
  return values.map((_, i) => i).sort((a, b) => Math.abs(values[b]) - Math.abs(values[a]) || a - b);
}

/** One bar of a waterfall: a feature's contribution, or the folded rest (`feature` −1). */
export interface WaterfallStep {
  feature: number;
  label: string;
  value: number;
  /** Where the running total stands before and after this step. */
  start: number;
  end: number;
}

/** One row's waterfall: the base value, its steps largest |value| first, and where they end. */
export interface Waterfall {
  base: number;
  steps: WaterfallStep[];
  /** Features folded into the last step ("N other features"), 0 when none were. */
  folded: number;
  /** base + the sum of every contribution (the model's output for SHAP; LIME's local prediction). */
  prediction: number;
}

/**
 * A row's contributions as a waterfall from the base value: the `maxShown - 1` largest by |value|
 * one by one, the rest summed into one "N other features" step (as shap's waterfall plot does,
 * whose max_display counts that step too), ending at the prediction.
 */
export function waterfall(explanation: Explanation, row: number, maxShown = 10): Waterfall {
  const values = explanation.values[row] ?? [];
  const base = explanation.base_values[row] ?? 0;
  const order = orderByMagnitude(values);
  const shown = order.length <= maxShown ? order : order.slice(0, Math.max(1, maxShown - 1));
  const rest = order.slice(shown.length);
  const steps: WaterfallStep[] = [];
  let total = base;
  for (const f of shown) {
    const value = values[f];
    steps.push({ feature: f, label: featureLabel(explanation.feature_names[f], explanation.features[row]?.[f]), value, start: total, end: total + value });
    total += value;
  }
  if (rest.length > 0) {
    const value = rest.reduce((sum, f) => sum + values[f], 0);
    steps.push({ feature: -1, label: `${rest.length} other features`, value, start: total, end: total + value });
    total += value;
  }
  return { base, steps, folded: rest.length, prediction: total };
}

/** Mean |value| of each feature over the rows (shap's global importance). */
export function meanAbs(values: readonly (readonly number[])[], features: number): Float64Array {
  const sums = new Float64Array(features);
  for (const row of values) for (let f = 0; f < features; f++) sums[f] += Math.abs(row[f] ?? 0);
  if (values.length > 0) for (let f = 0; f < features; f++) sums[f] /= values.length;
  return sums;
}

/** Feature indices by mean |SHAP| over the rows, strongest first; ties by index. */
export function featureOrder(explanation: Explanation): number[] {
  const importance = meanAbs(explanation.values, explanation.feature_names.length);
  return Array.from(importance, (_, i) => i).sort((a, b) => importance[b] - importance[a] || a - b);
}

/** The strongest `maxShown - 1` features and the rest, for charts that fold the tail into one bar. */
export function foldFeatures(order: readonly number[], maxShown: number): { shown: number[]; rest: number[] } {
  if (order.length <= maxShown) return { shown: [...order], rest: [] };
  const keep = Math.max(1, maxShown - 1);
  return { shown: order.slice(0, keep), rest: order.slice(keep) };
}

/**
 * A feature's values scaled to [0, 1] for colouring, between its 5th and 95th percentiles and
 * clipped to them (as shap's beeswarm does, so one outlier does not wash every other point out); a
 * feature with one value maps to 0.5, a null (or NaN) to NaN.
 */
export function normalizeColumn(explanation: Explanation, feature: number): Float64Array {
  const rows = explanation.features.length;
  const out = new Float64Array(rows);
  const finite: number[] = [];
  for (let r = 0; r < rows; r++) {
    const v = explanation.features[r]?.[feature];
    if (typeof v === 'number' && Number.isFinite(v)) finite.push(v);
  }
  finite.sort((a, b) => a - b);
  let low = quantileSorted(finite, 0.05);
  let high = quantileSorted(finite, 0.95);
  // A column whose 5–95% range is one value (binary with a rare class) spreads over its full range.
  if (high <= low && finite.length > 0) {
    low = finite[0];
    high = finite[finite.length - 1];
  }
  for (let r = 0; r < rows; r++) {
    const v = explanation.features[r]?.[feature];
    if (typeof v !== 'number' || !Number.isFinite(v)) out[r] = NaN;
    else if (high <= low) out[r] = 0.5;
    else out[r] = Math.min(1, Math.max(0, (v - low) / (high - low)));
  }
  return out;
}

/** Linear-interpolated quantile of an ascending array (numpy's default); NaN when empty. */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const at = (sorted.length - 1) * q;
  const below = Math.floor(at);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (at - below);
}

/**
 * Vertical offsets of a beeswarm row, in (−width, width): points are binned along x (`bins` over
 * the range) and each bin's points are stacked outward from the centre line, alternately above and
 * below, in the order of their colour value (shap's beeswarm layout), so a dense region of SHAP
 * values shows as a wide row. Deterministic: the same values always give the same layout.
 */
export function beeswarmOffsets(x: ArrayLike<number>, colour: ArrayLike<number> | null, width = 0.4, bins = 100): Float64Array {
  const n = x.length;
  const out = new Float64Array(n);
  if (n === 0) return out;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
  }
  const span = max - min;
  const binOf = new Int32Array(n);
  const counts = new Int32Array(bins);
  for (let i = 0; i < n; i++) {
    const b = span > 0 ? Math.min(bins - 1, Math.floor(((x[i] - min) / span) * bins)) : 0;
    binOf[i] = b;
    counts[b]++;
  }
  let peak = 0;
  for (let b = 0; b < bins; b++) peak = Math.max(peak, counts[b]);
  // Points in bin order, within a bin by colour (nulls last), so neighbours in a stack look alike.
  const key = (i: number): number => (colour && Number.isFinite(colour[i]) ? colour[i] : Infinity);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => binOf[a] - binOf[b] || key(a) - key(b) || a - b);
  // Each point one step of `width / (peak / 2)` from the centre: the fullest bin fills the band.
  const step = peak > 1 ? width / Math.ceil(peak / 2) : 0;
  let k = 0;
  let current = -1;
  for (const i of order) {
    if (binOf[i] !== current) {
      current = binOf[i];
      k = 0;
    }
    const level = Math.ceil(k / 2);
    out[i] = (k % 2 === 1 ? -1 : 1) * level * step;
    k++;
  }
  return out;
}

/** Pearson correlation of two equally long columns over the pairs where both are finite; 0 when undefined. */
export function correlation(a: ArrayLike<number>, b: ArrayLike<number>, from = 0, to = a.length): number {
  let n = 0;
  let sa = 0;
  let sb = 0;
  for (let i = from; i < to; i++) {
    if (!Number.isFinite(a[i]) || !Number.isFinite(b[i])) continue;
    n++;
    sa += a[i];
    sb += b[i];
  }
  if (n < 2) return 0;
  const ma = sa / n;
  const mb = sb / n;
  let cov = 0;
  let va = 0;
  let vb = 0;
  for (let i = from; i < to; i++) {
    if (!Number.isFinite(a[i]) || !Number.isFinite(b[i])) continue;
    const da = a[i] - ma;
    const db = b[i] - mb;
    cov += da * db;
    va += da * da;
    vb += db * db;
  }
  return va > 0 && vb > 0 ? cov / Math.sqrt(va * vb) : 0;
}

/** A feature's column of input values, NaN for nulls. */
export function featureColumn(explanation: Explanation, feature: number): Float64Array {
  return Float64Array.from(explanation.features, (row) => {
    const v = row?.[feature];
    return typeof v === 'number' ? v : NaN;
  });
}

/** A feature's column of SHAP values. */
export function shapColumn(explanation: Explanation, feature: number): Float64Array {
  return Float64Array.from(explanation.values, (row) => row[feature] ?? 0);
}

/**
 * The feature that interacts most with `feature`, by shap's `approximate_interactions` heuristic:
 * sort the rows by `feature`'s value, cut them into runs of max(min(n/10, 50), 1) rows, and in each
 * run correlate `feature`'s SHAP values with each other feature's values; the other feature whose
 * summed |correlation| is largest is the one whose value best explains the spread of `feature`'s
 * SHAP values at a given value of its own. Null when there is no other feature.
 */
export function topInteraction(explanation: Explanation, feature: number): number | null {
  const features = explanation.feature_names.length;
  if (features < 2) return null;
  const x = featureColumn(explanation, feature);
  const order = Array.from(x, (_, i) => i).sort((a, b) => (Number.isNaN(x[a]) ? 1 : 0) - (Number.isNaN(x[b]) ? 1 : 0) || x[a] - x[b] || a - b);
  const shap = shapColumn(explanation, feature);
  const sortedShap = Float64Array.from(order, (i) => shap[i]);
  const n = order.length;
  const run = Math.max(Math.min(Math.floor(n / 10), 50), 1);
  let best: number | null = null;
  let bestScore = -1;
  for (let other = 0; other < features; other++) {
    if (other === feature) continue;
    const column = featureColumn(explanation, other);
    const sorted = Float64Array.from(order, (i) => column[i]);
    let score = 0;
    for (let from = 0; from < n; from += run) score += Math.abs(correlation(sortedShap, sorted, from, Math.min(n, from + run)));
    if (score > bestScore) {
      bestScore = score;
      best = other;
    }
  }
  return best;
}

/** One side of a force plot: the features pushing the output one way, largest first. */
export interface ForceSide {
  features: { feature: number; label: string; value: number }[];
  /** The sum of this side's contributions (features folded in included). */
  total: number;
  /** Contributions folded into one "N other" segment, and their sum. */
  folded: number;
  foldedValue: number;
}

/**
 * A row's contributions split as shap's force plot draws them: those pushing the output higher
 * (positive) and lower (negative), each largest first; beyond `maxPerSide` on a side the rest is
 * folded into one segment.
 */
export function forceSides(explanation: Explanation, row: number, maxPerSide = 8): { higher: ForceSide; lower: ForceSide; base: number; prediction: number } {
  const values = explanation.values[row] ?? [];
  const base = explanation.base_values[row] ?? 0;
  const side = (positive: boolean): ForceSide => {
    const picked = orderByMagnitude(values).filter((f) => (positive ? values[f] > 0 : values[f] < 0));
    const kept = picked.slice(0, maxPerSide);
    const rest = picked.slice(maxPerSide);
    const label = (f: number): string => featureLabel(explanation.feature_names[f], explanation.features[row]?.[f]);
    return {
      features: kept.map((f) => ({ feature: f, label: label(f), value: values[f] })),
      total: picked.reduce((sum, f) => sum + values[f], 0),
      folded: rest.length,
      foldedValue: rest.reduce((sum, f) => sum + values[f], 0),
    };
  };
  const higher = side(true);
  const lower = side(false);
  return { higher, lower, base, prediction: base + higher.total + lower.total };
}

/** The row label a picker shows: the data's row index ("row 17"). */
export function rowLabel(explanation: Explanation, position: number): string {
  return `row ${explanation.rows[position] ?? position}`;
}
