import { flat, useFixtures } from './fixtures/kernel.test.util';
import { Rng } from './kmeans';
import { limeTabular, printf2, truncatedNormal } from './lime';
import type { ModelRunner } from './model-runner';

interface LimeRun {
  row: number;
  num_features?: number;
  weights: [number, number][];
  conditions?: [string, number][];
  intercept: number;
  local_prediction?: number;
  score: number;
  prediction?: number;
  /** lime's standard deviation over six other seeds. */
  sd_local_prediction?: number;
  sd_score?: number;
  sd_weights?: number[];
}
interface LimeJson {
  linear8: { model: string; names: string[]; training: number[][]; X: number[][]; runs: LimeRun[]; lime_seconds: number };
  logit6: { model: string; training: number[][]; X: number[][]; runs: LimeRun[] };
}

const topFeatures = (weights: [number, number][], n: number): number[] => weights.slice(0, n).map(([i]) => i);

const set = useFixtures<LimeJson>('lime');
const open = (name: string): Promise<ModelRunner> => set.open(name);

describe('limeTabular', () => {
  it("agrees with lime on a linear regression: top-5 features, signs, conditions, weights within sampling noise", async () => {
    const c = set.json.linear8;
    const runner = await open(c.model);
    const M = c.names.length;
    for (const numFeatures of [10, 5]) {
      // 5 features: lime's 'auto' takes forward selection (num_features <= 6); 10: highest weights.
      const result = await limeTabular(runner, flat(c.X), c.X.length, M, flat(c.training), c.training.length,
        { name: 'variable', index: 0 }, { featureNames: c.names, numFeatures, seed: 3 });
      const runs = c.runs.filter((r) => r.num_features === numFeatures);
      let worst = 0;
      runs.forEach((run, r) => {
        const ours = result.lime[r];
        const mine: [number, number][] = ours.weights.map((w) => [c.names.indexOf(w.feature), w.weight]);
        expect(mine.length).toBe(run.weights.length);
        expect(new Set(topFeatures(mine, 5))).toEqual(new Set(topFeatures(run.weights, 5)));
        // Two runs of lime with different seeds land this far apart: 5 standard deviations of a
        // difference of two draws (√2·sd), with a floor of 1% of the largest weight.
        const allowed = (sd: number): number => 5 * Math.SQRT2 * sd + 0.01 * Math.abs(run.weights[0][1]);
        const top5 = topFeatures(run.weights, 5);
        for (const [feature, weight] of run.weights) {
          const w = result.values[r * M + feature];
          // Signs agree wherever lime's own weight stands out of its noise (the top 5 always do here).
          if (top5.includes(feature) || Math.abs(weight) > 5 * run.sd_weights![feature]) expect(Math.sign(w)).toBe(Math.sign(weight));
          expect(Math.abs(w - weight)).toBeLessThan(allowed(run.sd_weights![feature]));
          worst = Math.max(worst, Math.abs(w - weight) / Math.abs(run.weights[0][1]));
        }
        // The conditions are deterministic (quartiles of the same training data): exactly lime's text.
        expect(new Set(ours.weights.map((w) => w.condition))).toEqual(new Set(run.conditions!.map(([text]) => text)));
        expect(Math.abs(result.predictions[r] - run.prediction!)).toBeLessThan(1e-9);
        expect(Math.abs(ours.local_prediction - run.local_prediction!)).toBeLessThan(allowed(run.sd_local_prediction!));
        expect(Math.abs(ours.score - run.score)).toBeLessThan(5 * Math.SQRT2 * run.sd_score! + 0.01);
        expect(ours.local_prediction).toBeCloseTo(ours.intercept + ours.weights.reduce((s, w) => s + w.weight, 0), 9);
      });
      process.stdout.write(`LIME linear8 num_features=${numFeatures}: max |Opsbook - lime| weight / max|weight| = ${worst.toFixed(4)}\n`);
    }
  });

  it("agrees with lime on a ZipMap logistic regression's class-1 probability", async () => {
    const c = set.json.logit6;
    const runner = await open(c.model);
    const result = await limeTabular(runner, flat(c.X), c.X.length, 6, flat(c.training), c.training.length,
      { name: 'output_probability', index: 1 }, { seed: 4 });
    c.runs.forEach((run, r) => {
      const mine: [number, number][] = result.lime[r].weights.map((w) => [Number(w.feature), w.weight]);
      // The two strongest agree exactly; lime's third is among our four strongest (its third and fourth
      // weights lie within one run's sampling noise of each other, on either side).
      expect(new Set(topFeatures(mine, 2))).toEqual(new Set(topFeatures(run.weights, 2)));
      expect(topFeatures(mine, 4)).toEqual(expect.arrayContaining(topFeatures(run.weights, 3)));
      for (const [feature, weight] of run.weights.slice(0, 3)) expect(Math.sign(result.values[r * 6 + feature])).toBe(Math.sign(weight));
    });
  });

  it('is deterministic for a seed, reports progress and stops when asked', async () => {
    const c = set.json.linear8;
    const runner = await open(c.model);
    const run = (options: Parameters<typeof limeTabular>[7]) =>
      limeTabular(runner, flat(c.X), c.X.length, 8, flat(c.training), c.training.length, { name: 'variable', index: 0 }, { numSamples: 500, ...options });
    const a = await run({ seed: 9 });
    const b = await run({ seed: 9 });
    expect(Array.from(a.values)).toEqual(Array.from(b.values));
    const progress: number[] = [];
    const stopped = await run({ onProgress: (done) => progress.push(done), shouldStop: () => progress.length >= 2 });
    expect(progress).toEqual([1, 2]);
    expect(stopped.rowsDone).toBe(2);
  });

  it('measures one row at 5,000 samples against lime', async () => {
    const c = set.json.linear8;
    const runner = await open(c.model);
    const row = Float64Array.from(c.X[1]);
    const args = [runner, row, 1, 8, flat(c.training), c.training.length, { name: 'variable', index: 0 }, { featureNames: c.names }] as const;
    for (let k = 0; k < 3; k++) await limeTabular(...args); // warm-up (the JIT)
    const times: number[] = [];
    for (let k = 0; k < 3; k++) {
      const t0 = performance.now();
      const result = await limeTabular(...args);
      times.push((performance.now() - t0) / 1000);
      expect(result.lime[0].weights.length).toBe(8);
    }
    const seconds = times.sort((a, b) => a - b)[1];
    process.stdout.write(`LIME 5,000 samples, 1 row, M=8: Opsbook ${(seconds * 1000).toFixed(1)} ms, lime ${(c.lime_seconds * 1000).toFixed(1)} ms (${(c.lime_seconds / seconds).toFixed(1)}x)\n`);
  });
});

describe('LIME helpers', () => {
  it("formats numbers as Python's '%.2f'", () => {
    expect([0.125, 0.375, -0.125, 2.5, 1.005, -0.001, 31].map(printf2)).toEqual(['0.12', '0.38', '-0.12', '2.50', '1.00', '-0.00', '31.00']);
  });

  it('draws truncated normals inside the bounds with the right mean', () => {
    const rng = new Rng(1);
    for (const [a, b] of [[-1, 1], [0.5, 4], [-6, -5.5], [-0.2, 8], [3, 3.1]]) {
      let sum = 0;
      let outside = 0;
      const n = 20000;
      for (let i = 0; i < n; i++) {
        const z = truncatedNormal(rng, a, b);
        if (z < a || z > b) outside++;
        sum += z;
      }
      expect(outside).toBe(0);
      // E[Z | a ≤ Z ≤ b] = (φ(a) − φ(b)) / (Φ(b) − Φ(a)), by numeric integration of the density.
      let num = 0;
      let den = 0;
      const steps = 20000;
      for (let k = 0; k < steps; k++) {
        const z = a + ((k + 0.5) * (b - a)) / steps;
        const p = Math.exp((-z * z) / 2);
        num += z * p;
        den += p;
      }
      expect(Math.abs(sum / n - num / den)).toBeLessThan(0.03 * Math.max(1, b - a));
    }
  });
});
