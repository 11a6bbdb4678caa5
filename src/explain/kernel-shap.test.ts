import { flat, maxAbs, maxDiff, useFixtures } from './fixtures/kernel.test.util';
import { kernelShap, solveSymmetric } from './kernel-shap';
import type { ModelRunner } from './model-runner';

interface Case {
  model: string;
  output?: string;
  background: number[][];
  X: number[][];
  exact?: number[][];
  base?: number;
  shap?: number[][];
  shap_base?: number;
  shap_seconds?: number;
}
type KernelJson = Record<'gbr8' | 'rfc6' | 'mlp16' | 'gbr10', Case>;

const set = useFixtures<KernelJson>('kernel');
const open = (name: string): Promise<ModelRunner> => set.open(name);

async function explain(c: Case, output = { name: c.output ?? 'variable', index: 0 }, nsamples?: number) {
  const runner = await open(c.model);
  const M = c.X[0].length;
  const result = await kernelShap(runner, flat(c.X), c.X.length, M, flat(c.background), c.background.length, output, { nsamples, seed: 1 });
  return { runner, M, result };
}

describe('kernelShap', () => {
  it('equals exact Shapley values (and shap.KernelExplainer) when every coalition is enumerated: M=8 regressor', async () => {
    const c = set.json.gbr8;
    const { M, result } = await explain(c);
    const scale = maxAbs(c.exact!.flat());
    expect(maxDiff(result.values, c.exact!.flat()) / scale).toBeLessThan(1e-6);
    expect(maxDiff(result.values, c.shap!.flat()) / scale).toBeLessThan(1e-6);
    expect(Math.abs(result.base[0] - c.base!)).toBeLessThan(1e-6 * Math.abs(c.base!) + 1e-9);
    expect(Math.abs(result.base[0] - c.shap_base!)).toBeLessThan(1e-6 * Math.abs(c.base!) + 1e-9);
    for (let r = 0; r < c.X.length; r++) {
      const sum = result.values.subarray(r * M, (r + 1) * M).reduce((a, b) => a + b, 0);
      expect(Math.abs(result.base[r] + sum - result.predictions[r])).toBeLessThan(1e-6);
    }
  });

  it('explains a ZipMap classifier\'s class-1 probability exactly too: M=6 random forest', async () => {
    const c = set.json.rfc6;
    const { result } = await explain(c, { name: 'output_probability', index: 1 });
    const scale = maxAbs(c.exact!.flat());
    expect(maxDiff(result.values, c.exact!.flat()) / scale).toBeLessThan(1e-6);
    expect(maxDiff(result.values, c.shap!.flat()) / scale).toBeLessThan(1e-6);
  });

  it('stays additive when it samples (M=16, nsamples far below 2^16)', async () => {
    const c = set.json.mlp16;
    for (const nsamples of [200, 2 * 16 + 2048]) {
      const { M, result } = await explain(c, undefined, nsamples);
      expect(result.nsamples).toBe(nsamples);
      for (let r = 0; r < c.X.length; r++) {
        const sum = result.values.subarray(r * M, (r + 1) * M).reduce((a, b) => a + b, 0);
        expect(Math.abs(result.base[r] + sum - result.predictions[r])).toBeLessThan(1e-6 * Math.max(1, Math.abs(result.predictions[r])));
      }
    }
  });

  it('is deterministic for a seed, reports progress and stops when asked', async () => {
    const c = set.json.mlp16;
    const runner = await open(c.model);
    const run = (options: Parameters<typeof kernelShap>[7]) =>
      kernelShap(runner, flat(c.X), c.X.length, 16, flat(c.background), c.background.length, { name: 'variable', index: 0 }, options);
    const a = await run({ nsamples: 300, seed: 5 });
    const b = await run({ nsamples: 300, seed: 5 });
    expect(Array.from(a.values)).toEqual(Array.from(b.values));
    const progress: number[] = [];
    const stopped = await run({ nsamples: 300, onProgress: (done) => progress.push(done), shouldStop: () => progress.length >= 1 });
    expect(progress).toEqual([1]);
    expect(stopped.rowsDone).toBe(1);
  });

  it('gives all the effect to the only varying feature and none to constant ones', async () => {
    // f(x) = 3·x0 + x1·x2 over a background where x1 and x2 never change from the row's values.
    const f = {
      predict: (X: Float64Array, rows: number) => Promise.resolve(Float64Array.from({ length: rows }, (_, r) => 3 * X[r * 3] + X[r * 3 + 1] * X[r * 3 + 2])),
    };
    const bg = Float64Array.from([0, 2, 5, 1, 2, 5]);
    const result = await kernelShap(f, Float64Array.from([4, 2, 5]), 1, 3, bg, 2, { name: 'y', index: 0 });
    expect(Array.from(result.values)).toEqual([3 * 4 - 1.5, 0, 0]);
  });

  it('weighs the background: a row of weight 2 counts as that row twice', async () => {
    const f = {
      predict: (X: Float64Array, rows: number) =>
        Promise.resolve(Float64Array.from({ length: rows }, (_, r) => Math.tanh(X[r * 3]) * X[r * 3 + 1] + X[r * 3 + 2] ** 2)),
    };
    const x = Float64Array.from([0.7, -1.2, 2]);
    const weighted = await kernelShap(f, x, 1, 3, Float64Array.from([0, 0, 0, 1, 2, -1]), 2, { name: 'y', index: 0 }, { backgroundWeights: Float64Array.from([2, 1]) });
    const repeated = await kernelShap(f, x, 1, 3, Float64Array.from([0, 0, 0, 0, 0, 0, 1, 2, -1]), 3, { name: 'y', index: 0 });
    expect(maxDiff(weighted.values, repeated.values)).toBeLessThan(1e-12);
    expect(weighted.base[0]).toBeCloseTo(repeated.base[0], 12);
  });

  it('measures one row, M=10, 100 background rows, nsamples 2·M+2048, against shap.KernelExplainer', async () => {
    const c = set.json.gbr10;
    const runner = await open(c.model);
    const args = [runner, flat(c.X), 1, 10, flat(c.background), 100, { name: 'variable', index: 0 }, { nsamples: 2 * 10 + 2048 }] as const;
    // As the reference is timed: one warm-up, then the median of three runs.
    let result = await kernelShap(...args);
    const times: number[] = [];
    for (let k = 0; k < 3; k++) {
      const t0 = performance.now();
      result = await kernelShap(...args);
      times.push((performance.now() - t0) / 1000);
    }
    const seconds = times.sort((a, b) => a - b)[1];
    const scale = maxAbs(c.exact!.flat());
    expect(maxDiff(result.values, c.exact!.flat()) / scale).toBeLessThan(1e-6);
    process.stdout.write(`KernelSHAP M=10, 100 background rows, 1 row: Opsbook ${(seconds * 1000).toFixed(1)} ms, shap.KernelExplainer ${(c.shap_seconds! * 1000).toFixed(1)} ms (${(c.shap_seconds! / seconds).toFixed(1)}x); max |Opsbook - exact| / max|phi| = ${(maxDiff(result.values, c.exact!.flat()) / scale).toExponential(2)}, vs shap ${(maxDiff(result.values, c.shap!.flat()) / scale).toExponential(2)}\n`);
  });
});

describe('solveSymmetric', () => {
  it('solves positive definite systems and gives the minimum-norm solution of singular ones', () => {
    const A = Float64Array.from([4, 2, 2, 3]);
    const x = solveSymmetric(A, Float64Array.from([2, 1]), 2);
    expect(maxDiff([4 * x[0] + 2 * x[1], 2 * x[0] + 3 * x[1]], [2, 1])).toBeLessThan(1e-12);
    // [[1,1],[1,1]] x = [2,2]: min-norm solution [1,1].
    const singular = solveSymmetric(Float64Array.from([1, 1, 1, 1]), Float64Array.from([2, 2]), 2);
    expect(maxDiff(singular, [1, 1])).toBeLessThan(1e-12);
    // diag(2, 0, 5) with a rotation mixing all three axes.
    const Q = [[2 / 3, -2 / 3, 1 / 3], [1 / 3, 2 / 3, 2 / 3], [2 / 3, 1 / 3, -2 / 3]];
    const d = [2, 0, 5];
    const B = new Float64Array(9);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) B[i * 3 + j] += Q[i][k] * d[k] * Q[j][k];
    // b in the range of B: b = B·[1,1,1]; the min-norm solution is its projection off the null vector Q[:,1].
    const ones = [1, 1, 1];
    const b = Float64Array.from([0, 1, 2], (i) => B[i * 3] + B[i * 3 + 1] + B[i * 3 + 2]);
    const nullDot = Q[0][1] + Q[1][1] + Q[2][1];
    const expected = ones.map((v, i) => v - nullDot * Q[i][1]);
    expect(maxDiff(solveSymmetric(B, b, 3), expected)).toBeLessThan(1e-9);
  });
});
