import { rmSync } from 'node:fs';
import { fixtures } from './fixtures/kernel.test.util';
import { kmeans, Rng, summarizeBackground } from './kmeans';

interface KMeansJson {
  X: number[][];
  k: number;
  inertia: number;
}

let dir: string;
let ref: KMeansJson;
beforeAll(() => {
  ({ dir, json: ref } = fixtures<KMeansJson>('kmeans'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('kmeans', () => {
  it('summarizes like shap.kmeans: centres snapped to data values, weights = cluster sizes summing to the rows', () => {
    const rows = ref.X.length;
    const width = ref.X[0].length;
    const X = Float64Array.from(ref.X.flat());
    const a = kmeans(X, rows, width, ref.k, { seed: 3 });
    expect(a.rows).toBeLessThanOrEqual(ref.k);
    expect(a.weights.reduce((s, w) => s + w, 0)).toBe(rows);
    for (let c = 0; c < a.rows; c++) {
      for (let j = 0; j < width; j++) expect(ref.X.some((row) => row[j] === a.data[c * width + j])).toBe(true);
    }
    // As good a clustering as scikit-learn's KMeans (what shap.kmeans runs), within 5%.
    expect(a.inertia).toBeLessThan(ref.inertia * 1.05);
    const b = kmeans(X, rows, width, ref.k, { seed: 3 });
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    expect(Array.from(b.weights)).toEqual(Array.from(a.weights));
  });

  it('counts row weights, imputes missing values, and keeps small sets as they are', () => {
    const X = Float64Array.from([0, 0, 0.1, NaN, 10, 10, 10.2, 10]);
    const w = Float64Array.from([1, 2, 3, 4]);
    const r = kmeans(X, 4, 2, 2, { weights: w, nInit: 2 });
    expect(Array.from(r.weights).sort()).toEqual([3, 7]);
    expect(r.data.every((v) => !Number.isNaN(v))).toBe(true);
    const small = summarizeBackground(X.subarray(0, 4), 2, 2);
    expect(small.rows).toBe(2);
    expect(Array.from(small.weights)).toEqual([1, 1]);
  });
});

describe('Rng', () => {
  it('is deterministic for a seed and roughly uniform and normal', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const draws = Array.from({ length: 20000 }, () => a.next());
    expect(draws.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b.next()));
    const mean = draws.reduce((s, v) => s + v, 0) / draws.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    const normals = Array.from({ length: 20000 }, () => a.normal());
    const m = normals.reduce((s, v) => s + v, 0) / normals.length;
    const v = normals.reduce((s, x) => s + (x - m) ** 2, 0) / normals.length;
    expect(Math.abs(m)).toBeLessThan(0.03);
    expect(Math.abs(v - 1)).toBeLessThan(0.05);
  });
});
