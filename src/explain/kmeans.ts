/**
 * Seeded randomness for the explainers, and weighted k-means to summarize a background set the way
 * shap.kmeans does: KMeans (k-means++ seeding, Lloyd iterations, best of nInit starts), then each
 * centre's value in each feature snapped to the closest value of that feature in the data, each
 * centre weighted by the rows (or row weights) assigned to it.
 */

/** Math's functions as module constants: a global lookup per call is slow in a vm context (jest). */
const { abs, floor, imul, log, sqrt } = Math;

/**
 * xoshiro128** (Blackman & Vigna) seeded through splitmix32: small, fast, good enough for sampling.
 * One class so every explainer draws the same way from a seed.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare = 0;
  private hasSpare = false;

  constructor(seed = 0) {
    let s = seed >>> 0;
    const splitmix = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = splitmix() | 0;
    this.b = splitmix() | 0;
    this.c = splitmix() | 0;
    this.d = splitmix() | 0;
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    // The state stays in signed int32 (the same bits): unsigned values over 2^31 are heap numbers in V8,
    // which made this 8x slower (50 ns a call, and LIME's sampling half of its time).
    const result = imul(rotl(imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** A uniform double in [0, 1) with 32 random bits: enough for rejection tests, and half the cost. */
  next32(): number {
    return this.nextUint32() / 4294967296;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return floor(this.next() * n);
  }

  /** A standard normal draw (Marsaglia's polar method; the second value is kept for the next call). */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    for (;;) {
      const u = 2 * this.next() - 1;
      const v = 2 * this.next() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const f = sqrt((-2 * log(s)) / s);
        this.spare = v * f;
        this.hasSpare = true;
        return u * f;
      }
    }
  }

  /** An index drawn with probabilities given as a cumulative array (last entry = total). */
  pick(cumulative: Float64Array, length = cumulative.length): number {
    const u = (length <= 8 ? this.next32() : this.next()) * cumulative[length - 1];
    let lo = 0;
    let hi = length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/** Rotates the 32 bits of x left by k, as a signed int32. */
function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A summarized data set: `rows` centres of `width` features (row-major) and their weights. */
export interface WeightedRows {
  data: Float64Array;
  rows: number;
  width: number;
  weights: Float64Array;
}

export interface KMeansOptions {
  seed?: number;
  /** Independent k-means++ starts; the one with the smallest inertia wins (shap.kmeans: 10). */
  nInit?: number;
  maxIter?: number;
  /** Snap each centre's features to the closest data value (shap.kmeans' round_values, default true). */
  roundValues?: boolean;
  /** Optional weight of each input row (default 1). */
  weights?: Float64Array;
}

/** Result of k-means, beside the summary: the assignment and the within-cluster sum of squares. */
export interface KMeansResult extends WeightedRows {
  labels: Int32Array;
  inertia: number;
}

/**
 * Weighted k-means of `rows` x `width` row-major `X` into at most k centres. Missing values (NaN)
 * are imputed by the column's mean first, as shap.kmeans does. Centres that end up with no rows are
 * dropped, so `rows` of the result may be below k; with rows <= k every row is its own centre.
 */
export function kmeans(X: Float64Array, rows: number, width: number, k: number, options: KMeansOptions = {}): KMeansResult {
  const rowWeights = options.weights ?? new Float64Array(rows).fill(1);
  const data = imputeMeans(X, rows, width);
  if (rows <= k) {
    const labels = Int32Array.from({ length: rows }, (_, i) => i);
    return { data, rows, width, weights: Float64Array.from(rowWeights), labels, inertia: 0 };
  }
  const rng = new Rng(options.seed ?? 0);
  const nInit = options.nInit ?? 10;
  const maxIter = options.maxIter ?? 300;
  let best: { centres: Float64Array; labels: Int32Array; inertia: number } | undefined;
  for (let run = 0; run < nInit; run++) {
    const centres = seedPlusPlus(data, rows, width, k, rowWeights, rng);
    const fit = lloyd(data, rows, width, k, rowWeights, centres, maxIter);
    if (!best || fit.inertia < best.inertia) best = { centres, ...fit };
  }
  const { centres, labels, inertia } = best!;
  const sizes = new Float64Array(k);
  for (let i = 0; i < rows; i++) sizes[labels[i]] += rowWeights[i];
  if (options.roundValues ?? true) snapToData(centres, k, data, rows, width);
  // Keep non-empty clusters, renumbering the labels.
  const keep: number[] = [];
  const renumber = new Int32Array(k).fill(-1);
  for (let c = 0; c < k; c++) if (sizes[c] > 0) renumber[c] = keep.push(c) - 1;
  const out = new Float64Array(keep.length * width);
  keep.forEach((c, i) => out.set(centres.subarray(c * width, (c + 1) * width), i * width));
  return {
    data: out,
    rows: keep.length,
    width,
    weights: Float64Array.from(keep, (c) => sizes[c]),
    labels: labels.map((l) => renumber[l]),
    inertia,
  };
}

/**
 * The background KernelSHAP takes expectations over: the rows themselves (weights 1) when there are
 * at most `k` (100), else their weighted k-means summary, as the issue and shap's advice ask.
 */
export function summarizeBackground(X: Float64Array, rows: number, width: number, k = 100, seed = 0): WeightedRows {
  if (rows <= k) return { data: X, rows, width, weights: new Float64Array(rows).fill(1) };
  const { data, rows: n, weights } = kmeans(X, rows, width, k, { seed });
  return { data, rows: n, width, weights };
}

function imputeMeans(X: Float64Array, rows: number, width: number): Float64Array {
  const data = Float64Array.from(X);
  for (let j = 0; j < width; j++) {
    let sum = 0;
    let count = 0;
    for (let i = 0; i < rows; i++) {
      const v = data[i * width + j];
      if (!Number.isNaN(v)) {
        sum += v;
        count++;
      }
    }
    const mean = count > 0 ? sum / count : 0;
    for (let i = 0; i < rows; i++) if (Number.isNaN(data[i * width + j])) data[i * width + j] = mean;
  }
  return data;
}

function squaredDistance(a: Float64Array, ai: number, b: Float64Array, bi: number, width: number): number {
  let d = 0;
  for (let j = 0; j < width; j++) {
    const t = a[ai + j] - b[bi + j];
    d += t * t;
  }
  return d;
}

/** k-means++ (Arthur & Vassilvitskii 2007): each next centre drawn with probability ∝ w·D(x)². */
function seedPlusPlus(data: Float64Array, rows: number, width: number, k: number, w: Float64Array, rng: Rng): Float64Array {
  const centres = new Float64Array(k * width);
  const cumulative = new Float64Array(rows);
  let total = 0;
  for (let i = 0; i < rows; i++) cumulative[i] = total += w[i];
  let first = rng.pick(cumulative);
  centres.set(data.subarray(first * width, (first + 1) * width), 0);
  const closest = new Float64Array(rows); // D(x)²: squared distance to the nearest chosen centre
  for (let i = 0; i < rows; i++) closest[i] = squaredDistance(data, i * width, centres, 0, width);
  for (let c = 1; c < k; c++) {
    total = 0;
    for (let i = 0; i < rows; i++) cumulative[i] = total += w[i] * closest[i];
    first = total > 0 ? rng.pick(cumulative) : rng.int(rows);
    centres.set(data.subarray(first * width, (first + 1) * width), c * width);
    for (let i = 0; i < rows; i++) {
      const d = squaredDistance(data, i * width, centres, c * width, width);
      if (d < closest[i]) closest[i] = d;
    }
  }
  return centres;
}

/** Lloyd's iterations in place on `centres`; an emptied cluster restarts at the worst-fitted row. */
function lloyd(data: Float64Array, rows: number, width: number, k: number, w: Float64Array, centres: Float64Array, maxIter: number): { labels: Int32Array; inertia: number } {
  const labels = new Int32Array(rows).fill(-1);
  const sums = new Float64Array(k * width);
  const mass = new Float64Array(k);
  const distance = new Float64Array(rows);
  let inertia = Infinity;
  for (let iter = 0; iter < maxIter; iter++) {
    let changed = 0;
    inertia = 0;
    for (let i = 0; i < rows; i++) {
      let best = 0;
      let bestD = Infinity;
      for (let c = 0; c < k; c++) {
        const d = squaredDistance(data, i * width, centres, c * width, width);
        if (d < bestD) {
          bestD = d;
          best = c;
        }
      }
      if (labels[i] !== best) changed++;
      labels[i] = best;
      distance[i] = bestD;
      inertia += w[i] * bestD;
    }
    if (changed === 0) break;
    sums.fill(0);
    mass.fill(0);
    for (let i = 0; i < rows; i++) {
      const c = labels[i];
      mass[c] += w[i];
      for (let j = 0; j < width; j++) sums[c * width + j] += w[i] * data[i * width + j];
    }
    for (let c = 0; c < k; c++) {
      if (mass[c] > 0) {
        for (let j = 0; j < width; j++) centres[c * width + j] = sums[c * width + j] / mass[c];
        continue;
      }
      let far = 0;
      for (let i = 1; i < rows; i++) if (distance[i] > distance[far]) far = i;
      centres.set(data.subarray(far * width, (far + 1) * width), c * width);
      distance[far] = 0;
    }
  }
  return { labels, inertia };
}

/** shap.kmeans' round_values: each centre coordinate becomes the closest value of its column (first on ties). */
function snapToData(centres: Float64Array, k: number, data: Float64Array, rows: number, width: number): void {
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < width; j++) {
      const target = centres[c * width + j];
      let best = data[j];
      let bestD = abs(best - target);
      for (let i = 1; i < rows; i++) {
        const d = abs(data[i * width + j] - target);
        if (d < bestD) {
          bestD = d;
          best = data[i * width + j];
        }
      }
      centres[c * width + j] = best;
    }
  }
}
