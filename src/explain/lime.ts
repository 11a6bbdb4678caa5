/**
 * LIME tabular (Ribeiro, Singh & Guestrin 2016) as lime's LimeTabularExplainer does it with its
 * defaults (lime/lime_tabular.py, lime/discretize.py, lime/lime_base.py):
 *
 * - quartile discretizer: each feature's quartiles over the training data (the background) cut it
 *   into at most 4 bins (np.unique drops repeated cut points); each bin keeps the mean, std, min and
 *   max of the training values in it, and its frequency in the training data;
 * - perturbation in the discretized space: each sample draws every feature's bin from the training
 *   bin frequencies; the model sees a value drawn from a normal with that bin's mean and std truncated
 *   to the bin's range; the interpretable representation is binary, 1 where the sample's bin is the
 *   row's. Sample 0 is the row itself;
 * - distance: euclidean on that binary representation (lime scales it with mean 0 and scale 1), so
 *   d = √(features whose bin differs); kernel weight √(exp(−d²/w²)) with w = 0.75·√M;
 * - feature selection 'auto': forward selection (OLS R² greedy) when num_features ≤ 6, otherwise the
 *   top num_features by |coefficient| of a ridge (α = 0.01) on all features;
 * - the explanation: a weighted ridge (α = 1, intercept) on the selected binary features; its weights,
 *   intercept, prediction at the row (intercept + Σ weights, the row being all ones) and weighted R².
 *
 * The random streams cannot be numpy's, so results agree with lime's statistically, not bit for bit.
 * One difference on purpose: for a bin of zero width lime returns the z-score (a bug), this the value.
 */
import type { OutputRef, Predictor } from './model-runner';
import { Rng } from './kmeans';
import { solveSymmetric } from './kernel-shap';
import { inverseNormalCdf, lowerNormalCdf } from './normal';

/** Math's functions as module constants: a global lookup per call is slow in a vm context (jest). */
const { abs, exp, floor, log, min, sign, sqrt, trunc } = Math;

export interface LimeOptions {
  /** Perturbed samples per row, the row itself included (default 5,000). */
  numSamples?: number;
  /** Features in each explanation (default 10). */
  numFeatures?: number;
  /** Default 0.75·√M. */
  kernelWidth?: number;
  featureSelection?: 'auto' | 'forward_selection' | 'highest_weights' | 'none';
  featureNames?: string[];
  seed?: number;
  onProgress?: (done: number, total: number) => void;
  /** Checked before each row; when it answers true the rows done so far are returned. */
  shouldStop?: () => boolean;
}

export interface LimeWeight {
  feature: string;
  /** The row's bin as lime names it, e.g. 'age <= 31.00' or '31.00 < age <= 45.00'. */
  condition: string;
  weight: number;
}

export interface LimeRowResult {
  intercept: number;
  local_prediction: number;
  score: number;
  /** Largest |weight| first. */
  weights: LimeWeight[];
}

export interface LimeResult {
  /** rows x M, row-major: the weight of each feature's condition, 0 outside the selected ones. */
  values: Float64Array;
  intercepts: Float64Array;
  /** The model's output at each row. */
  predictions: Float64Array;
  lime: LimeRowResult[];
  rowsDone: number;
}

/** The quartile discretizer of one feature (lime's QuartileDiscretizer over the training data). */
interface FeatureBins {
  /** Unique quartile cut points, ascending: bin = number of cuts below the value. */
  cuts: Float64Array;
  means: Float64Array;
  stds: Float64Array;
  mins: Float64Array;
  maxs: Float64Array;
  /** Each bin's range in standard units of its own mean and std: the truncated normal's bounds. */
  zlo: Float64Array;
  zhi: Float64Array;
  /**
   * Each bin's draw by inversion: z = ±Φ⁻¹(pLow + u·pSpan), mirrored (minus) when the bin lies mostly
   * above its mean so that Φ is taken in the lower tail, where it keeps its precision.
   */
  mirror: Uint8Array;
  pLow: Float64Array;
  pSpan: Float64Array;
  /** The bins present in the training data, ascending, and their cumulative frequencies. */
  present: Int32Array;
  cumulative: Float64Array;
  names: string[];
}

/**
 * LIME explanations of `rows` rows of X (row-major, M features) for one output column; `training`
 * (trainingRows x M) sets the quartiles and bin statistics. One predict call per row for its samples.
 */
export async function limeTabular(
  model: Predictor,
  X: Float64Array,
  rows: number,
  M: number,
  training: Float64Array,
  trainingRows: number,
  output: OutputRef,
  options: LimeOptions = {},
): Promise<LimeResult> {
  const numSamples = options.numSamples ?? 5000;
  const numFeatures = options.numFeatures ?? 10;
  const width = options.kernelWidth ?? 0.75 * sqrt(M);
  const names = options.featureNames ?? Array.from({ length: M }, (_, j) => String(j));
  const method = options.featureSelection ?? 'auto';
  const rng = new Rng(options.seed ?? 0);
  const bins = Array.from({ length: M }, (_, j) => quartileBins(training, trainingRows, M, j, names[j]));

  const values = new Float64Array(rows * M);
  const intercepts = new Float64Array(rows);
  const predictions = new Float64Array(rows);
  const lime: LimeRowResult[] = [];
  const binary = new Uint8Array(numSamples * M); // sample s, feature j: 1 when s's bin is the row's
  const inverse = new Float64Array(numSamples * M); // what the model sees
  const kernel = new Float64Array(numSamples);
  const rowBins = new Int32Array(M);
  // The kernel depends only on how many features' bins differ from the row's (0..M): a table of M+1.
  const kernelOf = Float64Array.from({ length: M + 1 }, (_, differ) => sqrt(exp(-differ / (width * width))));
  let done = 0;
  for (let r = 0; r < rows; r++) {
    if (options.shouldStop?.()) break;
    const x = X.subarray(r * M, (r + 1) * M);
    for (let j = 0; j < M; j++) rowBins[j] = binOf(bins[j].cuts, x[j]);
    sampleNeighbourhood(x, rowBins, bins, rng, numSamples, M, binary, inverse);
    for (let s = 0; s < numSamples; s++) {
      let differ = 0;
      for (let j = 0; j < M; j++) differ += 1 - binary[s * M + j];
      kernel[s] = kernelOf[differ];
    }
    const y = await model.predict(inverse, numSamples, output);
    predictions[r] = y[0];
    const stats = weightedMoments(binary, y, kernel, numSamples, M);
    const used = selectFeatures(stats, numFeatures, method);
    const fit = ridge(stats, used, 1);
    const weights: LimeWeight[] = used.map((j, k) => ({ feature: names[j], condition: bins[j].names[rowBins[j]], weight: fit.coef[k] }));
    const order = used.map((_, k) => k).sort((a, b) => abs(fit.coef[b]) - abs(fit.coef[a]));
    used.forEach((j, k) => (values[r * M + j] = fit.coef[k]));
    intercepts[r] = fit.intercept;
    lime.push({
      intercept: fit.intercept,
      local_prediction: fit.intercept + fit.coef.reduce((a, b) => a + b, 0),
      score: fit.score,
      weights: order.map((k) => weights[k]),
    });
    done++;
    options.onProgress?.(done, rows);
  }
  return { values, intercepts, predictions, lime, rowsDone: done };
}

/** numpy.percentile (linear interpolation) of sorted values at q in [0, 100]. */
function percentile(sorted: Float64Array, q: number): number {
  const h = ((sorted.length - 1) * q) / 100;
  const lo = floor(h);
  const hi = min(lo + 1, sorted.length - 1);
  const t = h - lo;
  const a = sorted[lo];
  const b = sorted[hi];
  return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t; // numpy's _lerp
}

function quartileBins(training: Float64Array, rows: number, M: number, j: number, name: string): FeatureBins {
  const column = new Float64Array(rows);
  for (let i = 0; i < rows; i++) column[i] = training[i * M + j];
  const sorted = Float64Array.from(column).sort();
  const qs = [25, 50, 75].map((q) => percentile(sorted, q));
  const cuts = Float64Array.from(qs.filter((q, i) => i === 0 || q !== qs[i - 1]));
  const nBins = cuts.length + 1;
  const sums = new Float64Array(nBins);
  const squares = new Float64Array(nBins);
  const counts = new Float64Array(nBins);
  const binIndex = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const b = (binIndex[i] = binOf(cuts, column[i]));
    sums[b] += column[i];
    counts[b]++;
  }
  const means = Float64Array.from(sums, (s, b) => (counts[b] > 0 ? s / counts[b] : 0));
  for (let i = 0; i < rows; i++) squares[binIndex[i]] += (column[i] - means[binIndex[i]]) ** 2;
  const stds = Float64Array.from(squares, (s, b) => (counts[b] > 0 ? sqrt(s / counts[b]) : 0) + 1e-11);
  const mins = Float64Array.from([sorted[0], ...cuts]);
  const maxs = Float64Array.from([...cuts, sorted[rows - 1]]);
  const present: number[] = [];
  const cumulative: number[] = [];
  let total = 0;
  for (let b = 0; b < nBins; b++) {
    if (counts[b] === 0) continue;
    present.push(b);
    cumulative.push((total += counts[b]));
  }
  const f = Array.from(cuts, printf2);
  const names = [`${name} <= ${f[0]}`];
  for (let b = 1; b < cuts.length; b++) names.push(`${f[b - 1]} < ${name} <= ${f[b]}`);
  names.push(`${name} > ${f[cuts.length - 1]}`);
  const zlo = Float64Array.from(mins, (v, b) => (v - means[b]) / stds[b]);
  const zhi = Float64Array.from(maxs, (v, b) => (v - means[b]) / stds[b]);
  const mirror = Uint8Array.from(zlo, (lo, b) => (lo + zhi[b] > 0 ? 1 : 0));
  const pLow = Float64Array.from(zlo, (lo, b) => lowerNormalCdf(mirror[b] ? -zhi[b] : lo));
  const pSpan = Float64Array.from(zlo, (lo, b) => lowerNormalCdf(mirror[b] ? -lo : zhi[b]) - pLow[b]);
  return { cuts, means, stds, mins, maxs, zlo, zhi, mirror, pLow, pSpan, present: Int32Array.from(present), cumulative: Float64Array.from(cumulative), names };
}

/** np.searchsorted(cuts, v, side='left'): how many cuts lie below v. */
function binOf(cuts: Float64Array, v: number): number {
  let b = 0;
  while (b < cuts.length && cuts[b] < v) b++;
  return b;
}

/** Python's '%.2f': like toFixed(2), but exact halves (odd multiples of 1/8) round to even. */
export function printf2(v: number): string {
  if (Number.isInteger(v * 8) && !Number.isInteger(v * 4)) {
    const cents = trunc(v * 100); // |v·100| = n + 0.5 exactly; keep n or n+1, whichever is even
    const even = cents % 2 === 0 ? cents : cents + sign(v);
    return (even / 100).toFixed(2);
  }
  return v.toFixed(2);
}

/** Below this probability of a bin's interval, its draws use rejection instead of inversion. */
const MIN_INVERSION_SPAN = 1e-10;

/** Fills the binary representation and the model's inputs for every sample (sample 0: the row). */
function sampleNeighbourhood(
  x: Float64Array,
  rowBins: Int32Array,
  bins: FeatureBins[],
  rng: Rng,
  n: number,
  M: number,
  binary: Uint8Array,
  inverse: Float64Array,
): void {
  for (let j = 0; j < M; j++) {
    const fb = bins[j];
    binary[j] = 1;
    inverse[j] = x[j];
    for (let s = 1; s < n; s++) {
      const b = fb.present[rng.pick(fb.cumulative)];
      binary[s * M + j] = b === rowBins[j] ? 1 : 0;
      const lo = fb.zlo[b];
      const hi = fb.zhi[b];
      let z: number;
      if (lo === hi) {
        inverse[s * M + j] = fb.mins[b];
        continue;
      } else if (fb.pSpan[b] > MIN_INVERSION_SPAN) {
        // The truncated normal by inversion (as scipy's truncnorm, which lime calls): one uniform draw.
        const drawn = inverseNormalCdf(fb.pLow[b] + rng.next32() * fb.pSpan[b]);
        z = fb.mirror[b] ? -drawn : drawn;
        z = z < lo ? lo : z > hi ? hi : z;
      } else {
        // A bin far out in a tail, where Φ's differences lose their digits: exact rejection.
        z = truncatedNormal(rng, lo, hi);
      }
      inverse[s * M + j] = fb.means[b] + fb.stds[b] * z;
    }
  }
}

/**
 * A standard normal draw conditioned on [a, b] by exact rejection (Robert 1995): normal or uniform
 * proposals when the interval holds 0, uniform or translated-exponential ones in a tail.
 */
export function truncatedNormal(rng: Rng, a: number, b: number): number {
  if (a > b) [a, b] = [b, a];
  if (b <= 0 && a < 0) return -truncatedNormal(rng, -b, -a);
  if (a <= 0) {
    if (b - a >= 2.5066282746310002) {
      for (;;) {
        const z = rng.normal();
        if (z >= a && z <= b) return z;
      }
    }
    for (;;) {
      const z = a + (b - a) * rng.next32();
      if (rng.next32() <= exp((-z * z) / 2)) return z;
    }
  }
  if ((b * b - a * a) / 2 < 1) {
    for (;;) {
      const z = a + (b - a) * rng.next32();
      if (rng.next32() <= exp((a * a - z * z) / 2)) return z;
    }
  }
  const lambda = (a + sqrt(a * a + 4)) / 2;
  for (;;) {
    const z = a - log(1 - rng.next32()) / lambda;
    if (z > b) continue;
    if (rng.next32() <= exp(-((z - lambda) ** 2) / 2)) return z;
  }
}

/** Weighted first and second moments of the binary samples, from which every ridge fit follows. */
interface Moments {
  M: number;
  /** Weighted means of each feature and of y. */
  xbar: Float64Array;
  ybar: number;
  /** Σ π (x−x̄)(x−x̄)ᵀ (M x M), Σ π (x−x̄)(y−ȳ) (M), Σ π (y−ȳ)². */
  C: Float64Array;
  c: Float64Array;
  tss: number;
}

function weightedMoments(binary: Uint8Array, y: Float64Array, w: Float64Array, n: number, M: number): Moments {
  let W = 0;
  let ybar = 0;
  for (let s = 0; s < n; s++) {
    W += w[s];
    ybar += w[s] * y[s];
  }
  ybar /= W;
  // The samples are binary, so the sums run over each sample's ones only (about a quarter of the
  // features when the bins are quartiles): Σ π x_j, Σ π x_j x_k and Σ π x_j (y−ȳ), then centred as
  // C = Σ π x xᵀ − W x̄ x̄ᵀ and c = Σ π x (y−ȳ) (Σ π (y−ȳ) = 0, so no x̄ term).
  const xbar = new Float64Array(M);
  const C = new Float64Array(M * M);
  const c = new Float64Array(M);
  const ones = new Int32Array(M);
  let tss = 0;
  for (let s = 0; s < n; s++) {
    const ws = w[s];
    const dy = y[s] - ybar;
    tss += ws * dy * dy;
    let count = 0;
    for (let j = 0; j < M; j++) if (binary[s * M + j]) ones[count++] = j;
    for (let a = 0; a < count; a++) {
      const j = ones[a];
      xbar[j] += ws;
      c[j] += ws * dy;
      for (let b = 0; b <= a; b++) C[j * M + ones[b]] += ws; // ones ascend: the lower triangle
    }
  }
  for (let j = 0; j < M; j++) xbar[j] /= W;
  for (let j = 0; j < M; j++) {
    for (let k = 0; k <= j; k++) {
      C[j * M + k] -= W * xbar[j] * xbar[k];
      C[k * M + j] = C[j * M + k];
    }
  }
  return { M, xbar, ybar, C, c, tss };
}

/** sklearn Ridge(alpha, fit_intercept=True) with sample weights on the features `used`, and its weighted R². */
function ridge(m: Moments, used: number[], alpha: number): { coef: Float64Array; intercept: number; score: number } {
  const k = used.length;
  const A = new Float64Array(k * k);
  const b = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    b[i] = m.c[used[i]];
    for (let j = 0; j < k; j++) A[i * k + j] = m.C[used[i] * m.M + used[j]];
    A[i * k + i] += alpha;
  }
  const coef = k > 0 ? solveSymmetric(A, b, k) : new Float64Array(0);
  let intercept = m.ybar;
  // RSS = TSS − 2βᵀc + βᵀCβ on the centred data.
  let rss = m.tss;
  for (let i = 0; i < k; i++) {
    intercept -= coef[i] * m.xbar[used[i]];
    rss -= 2 * coef[i] * b[i];
    for (let j = 0; j < k; j++) rss += coef[i] * coef[j] * m.C[used[i] * m.M + used[j]];
  }
  const score = m.tss > 0 ? 1 - rss / m.tss : rss > 0 ? 0 : 1;
  return { coef, intercept, score };
}

/** lime_base.LimeBase.feature_selection for the dense, discretized case. */
function selectFeatures(m: Moments, numFeatures: number, method: LimeOptions['featureSelection']): number[] {
  const all = Array.from({ length: m.M }, (_, j) => j);
  const chosen = method === 'auto' ? (numFeatures <= 6 ? 'forward_selection' : 'highest_weights') : method;
  if (chosen === 'none') return all;
  if (chosen === 'forward_selection') {
    const used: number[] = [];
    for (let step = 0; step < min(numFeatures, m.M); step++) {
      let best = 0;
      let bestScore = -100000000;
      for (const j of all) {
        if (used.includes(j)) continue;
        const score = ridge(m, [...used, j], 0).score;
        if (score > bestScore) {
          bestScore = score;
          best = j;
        }
      }
      used.push(best);
    }
    return used;
  }
  // highest_weights: ridge α = 0.01 on everything; coefficient × the row's value (1) ranks them.
  const coef = ridge(m, all, 0.01).coef;
  return all.sort((a, b) => abs(coef[b]) - abs(coef[a])).slice(0, numFeatures);
}
