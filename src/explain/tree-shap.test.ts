import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { maxAbs, maxDiff } from './fixtures/kernel.test.util';
import { readOnnxFile } from './onnx-graph';
import { interventionalTreeShap, pathDependentTreeShap, routeCovers, TreeShapCancelled, type TreeShapResult } from './tree-shap';
import { childFor, ensembleInput, extractEnsemble, leafScale, NodeMode, rawScores, type TreeEnsemble } from './trees';

/*
 * Reference values come from src/explain/fixtures/tree_fixtures.py (`shap` mode), run in beforeAll
 * with the project's .venv: shap.TreeExplainer (shap's C++) on the scikit-learn / xgboost / lightgbm
 * models whose ONNX exports are explained here. Tolerance: 1e-5 of the largest |value| of the model.
 *
 * Which shap column a raw ONNX column is (see the mapping in the fixture and trees.ts): binary
 * GB/xgboost/lightgbm export one log-odds column = shap's one column (log-odds); binary random
 * forests export one probability column = shap's class 1 (probabilities); multi-class: column k =
 * shap's class k (log-odds margins for GB/xgboost/lightgbm, probabilities for forests).
 */

const root = resolve(__dirname, '../..');
let dir = '';

type Rows = Array<Array<number | null>>;
interface Explained {
  X: Rows;
  background: Rows;
  values: number[][][];
  expected: number[];
  margin_mean: number[];
}
interface Reference {
  models: Record<string, Explained>;
  path_dependent: Record<
    string,
    { X: Rows; train: Rows; values: number[][][]; expected: number[]; background: Rows; interventional: number[][][]; interventional_expected: number[] }
  >;
  v5: { X: Rows; background: Rows };
  bench: { X: Rows; background: Rows; values: number[][]; expected: number; shap_seconds: number; shap_version: string };
}
let reference: Reference;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'opsbook-tree-shap-'));
  const run = spawnSync(join(root, '.venv/bin/python'), [join(__dirname, 'fixtures/tree_fixtures.py'), 'shap', dir], {
    cwd: root,
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`tree_fixtures.py failed: ${run.stderr}`);
  reference = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function flat(rows: Rows): Float64Array {
  const cols = rows[0].length;
  const data = new Float64Array(rows.length * cols);
  rows.forEach((row, r) => row.forEach((v, c) => (data[r * cols + c] = v === null ? NaN : v)));
  return data;
}

async function load(name: string): Promise<TreeEnsemble> {
  const ensemble = extractEnsemble((await readOnnxFile(join(dir, `${name}.onnx`))).model);
  if (!ensemble) throw new Error(`${name} is not a tree ensemble`);
  return ensemble;
}

/** base + sum(values) == raw for every row, to 1e-6 (relative to the raw score when it is above 1). */
function expectAdditive(result: TreeShapResult, features: number): void {
  const rows = result.raw.length;
  for (let r = 0; r < rows; r++) {
    let sum = result.base[r];
    for (let f = 0; f < features; f++) sum += result.values[r * features + f];
    expect(Math.abs(sum - result.raw[r])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(result.raw[r])));
  }
}

/**
 * Asserts values and base agree with shap to 1e-5 of the largest |shap value| (the base with `expected`
 * when given); returns the relative difference of the values.
 */
function expectLikeShap(result: TreeShapResult, values: number[][], expected?: number): number {
  const F = values[0].length;
  let scale = 0;
  let diff = 0;
  values.forEach((row, r) =>
    row.forEach((v, f) => {
      scale = Math.max(scale, Math.abs(v));
      diff = Math.max(diff, Math.abs(result.values[r * F + f] - v));
    }),
  );
  expect(scale).toBeGreaterThan(0);
  expect(diff).toBeLessThanOrEqual(1e-5 * scale);
  if (expected !== undefined) expect(Math.abs(result.base[0] - expected)).toBeLessThanOrEqual(1e-5 * Math.max(scale, Math.abs(expected)));
  return diff / scale;
}

const MODELS = ['gbr', 'gbc2', 'gbc3', 'rfr', 'rfc2', 'rfc3', 'xgbr', 'xgbc2', 'xgbc3', 'lgbr', 'lgbc2', 'lgbc3'];

describe('interventional TreeSHAP', () => {
  it.each(MODELS)('%s: equals shap.TreeExplainer(feature_perturbation="interventional") for every output', async (name) => {
    const e = await load(name);
    const ref = reference.models[name];
    expect(ref.values.length).toBe(e.nOutputs);
    const X = flat(ref.X);
    const background = flat(ref.background);
    for (let k = 0; k < e.nOutputs; k++) {
      const result = interventionalTreeShap(e, X, background, k);
      expectAdditive(result, e.nFeatures);
      // shap 0.51's expected_value for xgboost >= 3 multi-class models uses class 0's intercept for
      // every class (its own values then do not add up to xgboost's margin); the base is checked
      // against the library's mean margin over the background instead, for every model.
      expectLikeShap(result, ref.values[k], name === 'xgbc3' ? undefined : ref.expected[k]);
      expect(Math.abs(result.base[0] - ref.margin_mean[k])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(ref.margin_mean[k])));
      // The raw column is the ensemble's raw score, and the base its mean over the background.
      const raw = rawScores(e, X, ref.X.length, e.nFeatures);
      for (let r = 0; r < ref.X.length; r++) expect(result.raw[r]).toBe(raw[r * e.nOutputs + k]);
    }
  });

  it.each(['gbr_path', 'rf_path'])('%s: equals shap on the same trees (rf_path grows without a depth limit)', async (name) => {
    const e = await load(name);
    if (name === 'rf_path') expect(e.maxDepth).toBeGreaterThanOrEqual(10);
    const ref = reference.path_dependent[name];
    const result = interventionalTreeShap(e, flat(ref.X), flat(ref.background), 0);
    expectAdditive(result, e.nFeatures);
    expectLikeShap(result, ref.interventional[0], ref.interventional_expected[0]);
  });

  it('equals brute-force interventional Shapley values on the opset-5 TreeEnsemble (all node modes, NaN, AVERAGE)', async () => {
    const e = await load('v5');
    const X = flat(reference.v5.X);
    const background = flat(reference.v5.background);
    for (let k = 0; k < e.nOutputs; k++) {
      const result = interventionalTreeShap(e, X, background, k);
      expectAdditive(result, e.nFeatures);
      const exact = bruteForceInterventional(e, X, background, k);
      const diff = maxDiff(result.values, exact);
      const scale = maxAbs(exact);
      expect(scale).toBeGreaterThan(0);
      expect(diff).toBeLessThanOrEqual(1e-12 * scale + 1e-14);
    }
  });

  it('reports progress, stops when asked, and refuses an output the ensemble does not have', async () => {
    const e = await load('gbr');
    const ref = reference.models.gbr;
    const X = flat(ref.X);
    const background = flat(ref.background);
    const progress: number[] = [];
    interventionalTreeShap(e, X, background, 0, { onProgress: (done, total) => progress.push(done / total) });
    expect(progress[progress.length - 1]).toBe(1);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    let asked = 0;
    expect(() => interventionalTreeShap(e, X, background, 0, { shouldStop: () => ++asked > 3 })).toThrow(TreeShapCancelled);
    expect(() => pathDependentTreeShap(e, X, background, 0, { shouldStop: () => true })).toThrow(TreeShapCancelled);
    expect(() => interventionalTreeShap(e, X, background, 1)).toThrow(/output 1 is not one of the ensemble's 1 outputs/);
  });
});

describe('path-dependent TreeSHAP', () => {
  it.each(['gbr_path', 'rf_path'])('%s: with the training rows as covers, equals shap.TreeExplainer(model) (tree_path_dependent)', async (name) => {
    const e = await load(name);
    const ref = reference.path_dependent[name];
    const result = pathDependentTreeShap(e, flat(ref.X), flat(ref.train), 0);
    expectAdditive(result, e.nFeatures);
    expectLikeShap(result, ref.values[0], ref.expected[0]);
  });

  it('equals brute-force conditional expectations over the covers on the opset-5 TreeEnsemble', async () => {
    const e = await load('v5');
    const X = flat(reference.v5.X);
    const covers = flat(reference.v5.background);
    for (let k = 0; k < e.nOutputs; k++) {
      const result = pathDependentTreeShap(e, X, covers, k);
      expectAdditive(result, e.nFeatures);
      const exact = bruteForcePathDependent(e, X, routeCovers(e, covers), k);
      const diff = maxDiff(result.values, exact);
      const scale = maxAbs(exact);
      expect(scale).toBeGreaterThan(0);
      expect(diff).toBeLessThanOrEqual(1e-9 * scale);
    }
  });

  it.each(MODELS)('%s: is additive with covers from the background', async (name) => {
    const e = await load(name);
    const ref = reference.models[name];
    for (let k = 0; k < e.nOutputs; k++) expectAdditive(pathDependentTreeShap(e, flat(ref.X), flat(ref.background), k), e.nFeatures);
  });
});

it('times 100 rows x 100 background on a 100-tree GradientBoostingRegressor against shap (a measurement, not a goal)', async () => {
  const e = await load('bench');
  const bench = reference.bench;
  const X = flat(bench.X);
  const background = flat(bench.background);
  interventionalTreeShap(e, X, background); // warm-up (shap's timing is also taken after one)
  const started = process.hrtime.bigint();
  const result = interventionalTreeShap(e, X, background);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  expectAdditive(result, e.nFeatures);
  const relative = expectLikeShap(result, bench.values, bench.expected);
  process.stdout.write(
    `interventional TreeSHAP, ${e.nTrees} trees, 100 rows x 100 background: opsbook ${(seconds * 1000).toFixed(1)} ms, ` +
      `shap ${bench.shap_version} C++ ${(bench.shap_seconds * 1000).toFixed(1)} ms; max difference ${relative.toExponential(2)} of the largest value\n`,
  );
});

/**
 * Shapley values from the value v[S] of every coalition S (a bit mask over M features):
 * phi_i = sum over S without i of |S|! (M-|S|-1)! / M! (v(S + i) - v(S)), written to phi[at + i].
 */
function shapley(v: Float64Array, M: number, phi: Float64Array, at: number): void {
  const fact = (n: number): number => (n <= 1 ? 1 : n * fact(n - 1));
  for (let i = 0; i < M; i++) {
    for (let S = 0; S < 1 << M; S++) {
      if (S & (1 << i)) continue;
      let size = 0;
      for (let f = 0; f < M; f++) if (S & (1 << f)) size++;
      phi[at + i] += ((fact(size) * fact(M - size - 1)) / fact(M)) * (v[S | (1 << i)] - v[S]);
    }
  }
}

/**
 * Interventional Shapley values by enumerating every coalition S: v(S) = mean over the background of
 * the raw score of the hybrid row (x on S, z elsewhere).
 */
function bruteForceInterventional(e: TreeEnsemble, X: Float64Array, background: Float64Array, output: number): Float64Array {
  const M = e.nFeatures;
  const rows = X.length / M;
  const bg = background.length / M;
  const phi = new Float64Array(rows * M);
  const hybrid = new Float64Array(bg * M);
  for (let r = 0; r < rows; r++) {
    const v = new Float64Array(1 << M);
    for (let S = 0; S < 1 << M; S++) {
      for (let b = 0; b < bg; b++) for (let f = 0; f < M; f++) hybrid[b * M + f] = S & (1 << f) ? X[r * M + f] : background[b * M + f];
      const scores = rawScores(e, hybrid, bg, M);
      let sum = 0;
      for (let b = 0; b < bg; b++) sum += scores[b * e.nOutputs + output];
      v[S] = sum / bg;
    }
    shapley(v, M, phi, r * M);
  }
  return phi;
}

/**
 * Path-dependent Shapley values by enumeration: v(S) is Algorithm 1 of Lundberg et al. 2018 (follow x
 * on features in S, else average the children by cover), summed over trees.
 */
function bruteForcePathDependent(e: TreeEnsemble, X: Float64Array, cover: Float64Array, output: number): Float64Array {
  const M = e.nFeatures;
  const rows = X.length / M;
  const x = ensembleInput(e, X);
  const leaf = (n: number): number => {
    let s = 0;
    for (let i = e.leafStart[n]; i < e.leafStart[n + 1]; i++) if (e.leafOutput[i] === output) s += e.leafWeight[i];
    return s * leafScale(e);
  };
  const G = (n: number, S: number, offset: number): number => {
    if (e.mode[n] === NodeMode.LEAF) return leaf(n);
    if (S & (1 << e.feature[n])) return G(childFor(e, n, x[offset + e.feature[n]]), S, offset);
    const t = e.trueChild[n];
    const f = e.falseChild[n];
    const w = cover[n] > 0 ? cover[n] : 0;
    return w > 0 ? (G(t, S, offset) * cover[t] + G(f, S, offset) * cover[f]) / w : 0.5 * (G(t, S, offset) + G(f, S, offset));
  };
  const phi = new Float64Array(rows * M);
  for (let r = 0; r < rows; r++) {
    const v = new Float64Array(1 << M);
    for (let S = 0; S < 1 << M; S++) for (let t = 0; t < e.nTrees; t++) v[S] += G(e.treeStart[t], S, r * M);
    shapley(v, M, phi, r * M);
  }
  return phi;
}
