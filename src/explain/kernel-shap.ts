/**
 * KernelSHAP (Lundberg & Lee 2017, "A Unified Approach to Interpreting Model Predictions") as shap's
 * KernelExplainer computes it, on any model behind a Predictor:
 *
 * - a coalition z ⊆ {1..M} of the row's features is evaluated as E_b[f(x_z, b_{¬z})], the weighted
 *   mean over the background rows b of the model on b with z's features taken from x;
 * - the Shapley kernel π(|z|) = (M−1) / (C(M,|z|)·|z|·(M−|z|)) weights each coalition; shap splits
 *   the budget over subset sizes in proportion to the total kernel of each size, pairs each size s
 *   with M−s, enumerates every size whose share covers all its subsets, and samples the rest
 *   (size by its remaining share, then a uniform subset of that size, with its complement);
 * - φ solves the weighted least squares Σ_z π(z)(E[f|z] − φ0 − Σ_{i∈z} φ_i)² under the efficiency
 *   constraint Σφ = f(x) − φ0: the last varying feature is eliminated, the rest solved from the
 *   normal equations by Cholesky (min-norm pseudo-inverse when singular).
 *
 * Features whose value equals every background row's are not varying and get φ = 0 (as shap).
 * shap's default L1 pre-selection (num_features(10)) is not done: every varying feature is solved for.
 */
import type { OutputRef, Predictor } from './model-runner';
import { Rng } from './kmeans';

/** Math's functions as module constants: a global lookup per call is slow in a vm context (jest). */
const { abs, floor, max, min, sign, sqrt } = Math;

export interface KernelShapOptions {
  /** Coalitions per row (default 2·M + 2048, capped at 2^M − 2, the whole space). */
  nsamples?: number;
  seed?: number;
  /** Called after each explained row. */
  onProgress?: (done: number, total: number) => void;
  /** Checked before each row; when it answers true the rows done so far are returned. */
  shouldStop?: () => boolean;
  /** Background weights (e.g. k-means cluster sizes); default 1 each. */
  backgroundWeights?: Float64Array;
}

export interface KernelShapResult {
  /** rows x M, row-major: values[r·M + i] is φ_i for row r. */
  values: Float64Array;
  /** E_b[f(b)] per row (the same for every row). */
  base: Float64Array;
  /** f(x) per row. */
  predictions: Float64Array;
  /** Coalitions used for the last row (after capping). */
  nsamples: number;
  /** Rows explained: less than asked only when shouldStop stopped the work. */
  rowsDone: number;
}

/**
 * SHAP values of `rows` rows of X (row-major, M features) for one output column, against
 * `background` (bgRows x M, row-major; summarize big ones with summarizeBackground first). All the
 * coalitions of one row are evaluated in one predict call (coalitions x background rows).
 */
export async function kernelShap(
  model: Predictor,
  X: Float64Array,
  rows: number,
  M: number,
  background: Float64Array,
  bgRows: number,
  output: OutputRef,
  options: KernelShapOptions = {},
): Promise<KernelShapResult> {
  const w = options.backgroundWeights ?? new Float64Array(bgRows).fill(1);
  let wsum = 0;
  for (let b = 0; b < bgRows; b++) wsum += w[b];
  const fBackground = await model.predict(background, bgRows, output);
  let fnull = 0;
  for (let b = 0; b < bgRows; b++) fnull += w[b] * fBackground[b];
  fnull /= wsum;
  const predictions = await model.predict(X, rows, output);
  const values = new Float64Array(rows * M);
  const base = new Float64Array(rows).fill(fnull);
  const rng = new Rng(options.seed ?? 0);
  // What a row with every feature varying would use, until a row says otherwise.
  let nsamplesUsed = max(1, min(options.nsamples ?? 2 * M + 2048, M <= 30 ? 2 ** M - 2 : 2 ** 30));
  let done = 0;
  // The model's input for one row's coalitions (coalitions x background rows x M), reused across rows:
  // a fresh 20 MB array per row (2072 coalitions x 100 rows x 12 features) cost as much as the model.
  const scratch: { synth?: Float64Array | Float32Array } = {};
  for (let r = 0; r < rows; r++) {
    if (options.shouldStop?.()) break;
    const x = X.subarray(r * M, (r + 1) * M);
    const varying = varyingFeatures(x, background, bgRows, M);
    const Mv = varying.length;
    const phi = values.subarray(r * M, (r + 1) * M);
    const diff = predictions[r] - fnull;
    if (Mv === 1) phi[varying[0]] = diff;
    if (Mv >= 2) {
      const plan = coalitions(Mv, options.nsamples ?? 2 * Mv + 2048, rng);
      nsamplesUsed = plan.count;
      const ey = await coalitionMeans(model, x, background, bgRows, w, wsum, M, varying, plan, output, scratch);
      const solved = solveConstrained(plan, ey, fnull, diff);
      for (let i = 0; i < Mv; i++) phi[varying[i]] = abs(solved[i]) < 1e-10 ? 0 : solved[i];
    }
    done++;
    options.onProgress?.(done, rows);
  }
  return { values, base, predictions, nsamples: nsamplesUsed, rowsDone: done };
}

/** Features where x differs from some background row (numpy.allclose: |a−b| ≤ 1e-8 + 1e-5·|b|, NaN = NaN). */
function varyingFeatures(x: Float64Array, background: Float64Array, bgRows: number, M: number): number[] {
  const result: number[] = [];
  for (let j = 0; j < M; j++) {
    const a = x[j];
    for (let b = 0; b < bgRows; b++) {
      const v = background[b * M + j];
      const same = Number.isNaN(a) ? Number.isNaN(v) : abs(a - v) <= 1e-8 + 1e-5 * abs(v);
      if (!same) {
        result.push(j);
        break;
      }
    }
  }
  return result;
}

/** The coalitions of one row: masks (count x Mv, 1 = feature taken from x) and kernel weights. */
interface CoalitionPlan {
  masks: Uint8Array;
  weights: Float64Array;
  count: number;
  Mv: number;
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return Math.round(r);
}

/** shap's KernelExplainer.explain sampling plan, step for step (see the module comment). */
function coalitions(M: number, requested: number, rng: Rng): CoalitionPlan {
  const maxSamples = M <= 30 ? 2 ** M - 2 : 2 ** 30;
  const nsamples = min(requested, maxSamples);
  const masks = new Uint8Array(nsamples * M);
  const weights = new Float64Array(nsamples);
  let added = 0;
  const add = (mask: Uint8Array, weight: number): void => {
    masks.set(mask, added * M);
    weights[added++] = weight;
  };
  const numSubsetSizes = Math.ceil((M - 1) / 2);
  const numPaired = floor((M - 1) / 2);
  // Total kernel weight of each subset size s (with its complement M−s when paired), normalized.
  const weightVector = new Float64Array(numSubsetSizes);
  for (let s = 1; s <= numSubsetSizes; s++) weightVector[s - 1] = ((M - 1) / (s * (M - s))) * (s <= numPaired ? 2 : 1);
  const total = weightVector.reduce((a, b) => a + b, 0);
  for (let s = 0; s < numSubsetSizes; s++) weightVector[s] /= total;

  // Enumerate the sizes the budget covers completely.
  let numFull = 0;
  let left = nsamples;
  const remaining = Float64Array.from(weightVector);
  const mask = new Uint8Array(M);
  const index = new Int32Array(M);
  for (let s = 1; s <= numSubsetSizes; s++) {
    let nsubsets = binomial(M, s);
    if (s <= numPaired) nsubsets *= 2;
    if ((left * remaining[s - 1]) / nsubsets < 1 - 1e-8) break;
    numFull++;
    left -= nsubsets;
    if (remaining[s - 1] < 1) {
      const scale = 1 - remaining[s - 1];
      for (let t = 0; t < numSubsetSizes; t++) remaining[t] /= scale;
    }
    let weight = weightVector[s - 1] / binomial(M, s);
    if (s <= numPaired) weight /= 2;
    // Every combination of s indices, in lexicographic order (as itertools.combinations).
    for (let i = 0; i < s; i++) index[i] = i;
    for (;;) {
      mask.fill(0);
      for (let i = 0; i < s; i++) mask[index[i]] = 1;
      add(mask, weight);
      if (s <= numPaired) {
        for (let i = 0; i < M; i++) mask[i] = 1 - mask[i];
        add(mask, weight);
      }
      let i = s - 1;
      while (i >= 0 && index[i] === M - s + i) i--;
      if (i < 0) break;
      index[i]++;
      for (let t = i + 1; t < s; t++) index[t] = index[t - 1] + 1;
    }
  }

  // Sample the rest of the space: a size by its remaining share, a uniform subset, its complement.
  const fixed = added;
  let samplesLeft = nsamples - added;
  if (numFull !== numSubsetSizes && samplesLeft > 0) {
    const sizes = numSubsetSizes - numFull;
    const cumulative = new Float64Array(sizes);
    let acc = 0;
    for (let t = 0; t < sizes; t++) {
      const s = numFull + t;
      acc += s < numPaired ? weightVector[s] / 2 : weightVector[s];
      cumulative[t] = acc;
    }
    const seen = new Map<string, number>();
    const perm = new Int32Array(M);
    let draws = 4 * samplesLeft;
    while (samplesLeft > 0 && draws-- > 0) {
      const s = rng.pick(cumulative) + numFull + 1;
      // The first s entries of a random permutation (partial Fisher–Yates).
      for (let i = 0; i < M; i++) perm[i] = i;
      mask.fill(0);
      for (let i = 0; i < s; i++) {
        const j = i + rng.int(M - i);
        const t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        mask[perm[i]] = 1;
      }
      const key = String.fromCharCode(...mask);
      const previous = seen.get(key);
      if (previous === undefined) {
        seen.set(key, added);
        samplesLeft--;
        add(mask, 1);
      } else {
        weights[previous] += 1;
      }
      if (samplesLeft > 0 && s <= numPaired) {
        for (let i = 0; i < M; i++) mask[i] = 1 - mask[i];
        if (previous === undefined) {
          samplesLeft--;
          add(mask, 1);
        } else {
          weights[previous + 1] += 1;
        }
      }
    }
    // The sampled coalitions share the kernel weight the enumerated sizes left.
    let weightLeft = 0;
    for (let s = numFull; s < numSubsetSizes; s++) weightLeft += weightVector[s];
    let sampled = 0;
    for (let i = fixed; i < added; i++) sampled += weights[i];
    for (let i = fixed; i < added; i++) weights[i] *= weightLeft / sampled;
  }
  return { masks: masks.subarray(0, added * M), weights: weights.subarray(0, added), count: added, Mv: M };
}

/** E_b[f(x_z, b_¬z)] for every coalition z: one predict over (coalitions x background rows). */
async function coalitionMeans(
  model: Predictor,
  x: Float64Array,
  background: Float64Array,
  bgRows: number,
  w: Float64Array,
  wsum: number,
  M: number,
  varying: number[],
  plan: CoalitionPlan,
  output: OutputRef,
  scratch: { synth?: Float64Array | Float32Array },
): Promise<Float64Array> {
  const { masks, count, Mv } = plan;
  const block = bgRows * M;
  // Built in the model's own input precision: a float32 model then gets the batch with no copy.
  const Batch = model.inputPrecision === 'float32' ? Float32Array : Float64Array;
  if (!scratch.synth || scratch.synth.length < count * block || !(scratch.synth instanceof Batch)) scratch.synth = new Batch(count * block);
  const synth = scratch.synth.subarray(0, count * block);
  const rows = synth instanceof Float32Array ? new Float32Array(background.subarray(0, block)) : background.subarray(0, block);
  for (let c = 0; c < count; c++) {
    const offset = c * block;
    synth.set(rows, offset);
    for (let i = 0; i < Mv; i++) {
      if (!masks[c * Mv + i]) continue;
      const j = varying[i];
      const v = x[j];
      for (let b = 0; b < bgRows; b++) synth[offset + b * M + j] = v;
    }
  }
  const y = await model.predict(synth, count * bgRows, output);
  const ey = new Float64Array(count);
  for (let c = 0; c < count; c++) {
    let s = 0;
    for (let b = 0; b < bgRows; b++) s += w[b] * y[c * bgRows + b];
    ey[c] = s / wsum;
  }
  return ey;
}

/**
 * The constrained weighted least squares: with d = f(x) − φ0 and the last feature eliminated
 * (φ_last = d − Σ_{i<last} φ_i), each coalition z gives the row (z_i − z_last)_{i<last} and the target
 * E[f|z] − φ0 − z_last·d; the normal equations (AᵀWA)φ = AᵀWy are solved by Cholesky.
 */
function solveConstrained(plan: CoalitionPlan, ey: Float64Array, fnull: number, diff: number): Float64Array {
  const { masks, weights, count, Mv } = plan;
  const K = Mv - 1;
  const AtWA = new Float64Array(K * K);
  const AtWy = new Float64Array(K);
  const row = new Float64Array(K);
  for (let c = 0; c < count; c++) {
    const m = masks.subarray(c * Mv, (c + 1) * Mv);
    const last = m[K];
    for (let i = 0; i < K; i++) row[i] = m[i] - last;
    const target = ey[c] - fnull - last * diff;
    const wc = weights[c];
    for (let i = 0; i < K; i++) {
      const wi = wc * row[i];
      if (wi === 0) continue;
      AtWy[i] += wi * target;
      for (let j = 0; j <= i; j++) AtWA[i * K + j] += wi * row[j];
    }
  }
  for (let i = 0; i < K; i++) for (let j = 0; j < i; j++) AtWA[j * K + i] = AtWA[i * K + j];
  const phi = solveSymmetric(AtWA, AtWy, K);
  const result = new Float64Array(Mv);
  let sum = 0;
  for (let i = 0; i < K; i++) {
    result[i] = phi[i];
    sum += phi[i];
  }
  result[K] = diff - sum;
  return result;
}

/**
 * Solves A·x = b for a symmetric positive semi-definite n x n A (row-major; A and b are not changed):
 * Cholesky A = LLᵀ when A is positive definite, else the minimum-norm solution through the
 * eigendecomposition (cyclic Jacobi), as numpy's lstsq would give.
 */
export function solveSymmetric(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const L = new Float64Array(n * n);
  let scale = 0;
  for (let i = 0; i < n; i++) scale = max(scale, abs(A[i * n + i]));
  let ok = true;
  for (let i = 0; i < n && ok; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j];
      for (let k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
      if (i === j) {
        if (!(s > 1e-13 * scale)) {
          ok = false;
          break;
        }
        L[i * n + i] = sqrt(s);
      } else {
        L[i * n + j] = s / L[j * n + j];
      }
    }
  }
  if (!ok) return pseudoSolve(A, b, n);
  const x = Float64Array.from(b);
  for (let i = 0; i < n; i++) {
    let s = x[i];
    for (let k = 0; k < i; k++) s -= L[i * n + k] * x[k];
    x[i] = s / L[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = x[i];
    for (let k = i + 1; k < n; k++) s -= L[k * n + i] * x[k];
    x[i] = s / L[i * n + i];
  }
  return x;
}

/** x = V·diag(1/λ, 0 for tiny λ)·Vᵀ·b from the Jacobi eigendecomposition A = VΛVᵀ. */
function pseudoSolve(A0: Float64Array, b: Float64Array, n: number): Float64Array {
  const A = Float64Array.from(A0);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += A[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (abs(apq) < 1e-300) continue;
        const theta = (A[q * n + q] - A[p * n + p]) / (2 * apq);
        const t = sign(theta || 1) / (abs(theta) + sqrt(theta * theta + 1));
        const c = 1 / sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p];
          const akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k];
          const aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p];
          const vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  let largest = 0;
  for (let i = 0; i < n; i++) largest = max(largest, abs(A[i * n + i]));
  const x = new Float64Array(n);
  for (let e = 0; e < n; e++) {
    const lambda = A[e * n + e];
    if (abs(lambda) <= 1e-12 * largest) continue;
    let proj = 0;
    for (let k = 0; k < n; k++) proj += V[k * n + e] * b[k];
    proj /= lambda;
    for (let k = 0; k < n; k++) x[k] += V[k * n + e] * proj;
  }
  return x;
}
