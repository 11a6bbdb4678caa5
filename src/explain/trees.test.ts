import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readOnnxFile } from './onnx-graph';
import { inspectEnsemble, rawScores, type TreeEnsemble } from './trees';

/*
 * Reference values come from src/explain/fixtures/tree_fixtures.py (`trees` mode), run in beforeAll
 * with the project's .venv: scikit-learn / xgboost / lightgbm models exported as
 * kernel-bridge/python/opsbook/_models.py exports them, onnxruntime's outputs and each library's own
 * pre-transform score on the same rows.
 */

const root = resolve(__dirname, '../..');
let dir = '';

interface ModelReference {
  X: Array<Array<number | null>>;
  ort: Record<string, number[][]>;
  margin?: number[][];
  classes?: string[];
}
interface Reference {
  models: Record<string, ModelReference>;
  refused: string[];
}
let reference: Reference;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'opsbook-trees-'));
  const run = spawnSync(join(root, '.venv/bin/python'), [join(__dirname, 'fixtures/tree_fixtures.py'), 'trees', dir], {
    cwd: root,
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`tree_fixtures.py failed: ${run.stderr}`);
  reference = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Row-major Float64Array of a JSON matrix (null = NaN). */
function matrix(rows: Array<Array<number | null>>): { data: Float64Array; rows: number; cols: number } {
  const cols = rows[0].length;
  const data = new Float64Array(rows.length * cols);
  rows.forEach((row, r) => row.forEach((v, c) => (data[r * cols + c] = v === null ? NaN : v)));
  return { data, rows: rows.length, cols };
}

async function load(name: string): Promise<TreeEnsemble> {
  const { model } = await readOnnxFile(join(dir, `${name}.onnx`));
  const inspected = inspectEnsemble(model);
  if (!inspected.ensemble) throw new Error(`${name}: ${inspected.reason}`);
  return inspected.ensemble;
}

/** The largest |a - b| over a rows x width matrix, and the largest |b| (the scale it is relative to). */
function compare(actual: (r: number, c: number) => number, expected: (r: number, c: number) => number, rows: number, width: number): { diff: number; scale: number } {
  let diff = 0;
  let scale = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < width; c++) {
      diff = Math.max(diff, Math.abs(actual(r, c) - expected(r, c)));
      scale = Math.max(scale, Math.abs(expected(r, c)));
    }
  }
  return { diff, scale };
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

const MODELS = ['gbr', 'gbc2', 'gbc3', 'rfr', 'rfc2', 'rfc3', 'xgbr', 'xgbc2', 'xgbc3', 'lgbr', 'lgbc2', 'lgbc3', 'gbr_double', 'rfc_strings'];

describe('rawScores', () => {
  it.each(MODELS)('%s: the raw score equals the library margin, and onnxruntime after the post-transform', async (name) => {
    const e = await load(name);
    const ref = reference.models[name];
    const X = matrix(ref.X);
    const raw = rawScores(e, X.data, X.rows, X.cols);
    const k = e.nOutputs;
    const at = (r: number, c: number): number => raw[r * k + c];

    // The library's own pre-transform score (decision_function, output_margin, raw_score, predict).
    const margin = ref.margin as number[][];
    expect(margin[0].length).toBe(k);
    const m = compare(at, (r, c) => margin[r][c], X.rows, k);
    expect(m.diff).toBeLessThanOrEqual(1e-5 * Math.max(1, m.scale));

    // onnxruntime: the score output through the post-transform. A binary classifier's one raw column
    // is the positive class: onnxruntime's probabilities column 1.
    const ortName = e.kind === 'tree_classifier' ? 'probabilities' : Object.keys(ref.ort)[0];
    const ort = ref.ort[ortName];
    const transformed = (r: number, c: number): number => {
      if (e.postTransform === 'NONE') return at(r, c);
      if (e.postTransform === 'LOGISTIC') return sigmoid(at(r, c));
      expect(e.postTransform).toBe('SOFTMAX');
      let max = -Infinity;
      for (let j = 0; j < k; j++) max = Math.max(max, at(r, j));
      let sum = 0;
      for (let j = 0; j < k; j++) sum += Math.exp(at(r, j) - max);
      return Math.exp(at(r, c) - max) / sum;
    };
    const column = k === 1 && e.kind === 'tree_classifier' ? 1 : 0;
    const o = compare(transformed, (r, c) => ort[r][c + column], X.rows, k);
    expect(o.diff).toBeLessThanOrEqual(2e-6 * Math.max(1, o.scale));
  });

  it('routes NaN, float32 thresholds and double thresholds as onnxruntime does', async () => {
    const xgb = await load('xgbr');
    expect(xgb.roundToFloat32).toBe(true);
    expect(reference.models.xgbr.X.some((row) => row.includes(null))).toBe(true);
    const double = await load('gbr_double');
    expect(double.roundToFloat32).toBe(false);
    const X = matrix(reference.models.gbr_double.X);
    const raw = rawScores(double, X.data, X.rows, X.cols);
    const ort = reference.models.gbr_double.ort.variable;
    for (let r = 0; r < X.rows; r++) expect(Math.abs(raw[r] - ort[r][0])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(ort[r][0])));
  });

  it('reads the opset-5 TreeEnsemble op (all modes, MEMBER sets, one-leaf tree, AVERAGE, two targets) as onnxruntime runs it', async () => {
    const e = await load('v5');
    expect(e.op).toBe('TreeEnsemble');
    expect(e.nOutputs).toBe(2);
    expect(e.aggregate).toBe('AVERAGE');
    expect(new Set(e.mode)).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7]));
    expect(Array.from(e.members)).toEqual([1, 3]);
    const ref = reference.models.v5;
    const X = matrix(ref.X);
    const raw = rawScores(e, X.data, X.rows, X.cols);
    const ort = ref.ort.Y;
    const o = compare((r, c) => raw[r * 2 + c], (r, c) => ort[r][c], X.rows, 2);
    expect(o.scale).toBeGreaterThan(0);
    expect(o.diff).toBeLessThanOrEqual(1e-6 * Math.max(1, o.scale));
  });
});

describe('extractEnsemble', () => {
  it('describes classifier columns: one positive-class column for binary exports, one per class otherwise', async () => {
    const binary = await load('gbc2');
    expect(binary).toMatchObject({ kind: 'tree_classifier', nOutputs: 1, classLabels: [0, 1], outputLabels: [1], postTransform: 'LOGISTIC' });
    const forest = await load('rfc2');
    expect(forest).toMatchObject({ nOutputs: 1, outputLabels: [1], postTransform: 'NONE' });
    const multi = await load('xgbc3');
    expect(multi).toMatchObject({ nOutputs: 3, outputLabels: [0, 1, 2], postTransform: 'SOFTMAX' });
    const named = await load('rfc_strings');
    expect(named.outputLabels).toEqual(reference.models.rfc_strings.classes);
    expect(named.classLabels).toEqual(reference.models.rfc_strings.classes);
    const regressor = await load('lgbr');
    expect(regressor).toMatchObject({ kind: 'tree_regressor', nOutputs: 1, nFeatures: 6, inputName: 'X' });
    expect(regressor.classLabels).toBeUndefined();
  });

  it('refuses models that are not a tree ensemble on the raw input, saying why', async () => {
    expect(reference.refused).toEqual(['linear', 'scaled_tree']);
    const linear = inspectEnsemble((await readOnnxFile(join(dir, 'linear.onnx'))).model);
    expect(linear.ensemble).toBeNull();
    expect(linear.reason).toMatch(/no ai\.onnx\.ml tree-ensemble node/);
    const scaled = inspectEnsemble((await readOnnxFile(join(dir, 'scaled_tree.onnx'))).model);
    expect(scaled.ensemble).toBeNull();
    expect(scaled.reason).toMatch(/computed from X by Scaler/);
  });

  it('rejects data of the wrong width', async () => {
    const e = await load('gbr');
    expect(() => rawScores(e, new Float64Array(10), 2, 5)).toThrow(/5 columns; the model takes 6/);
  });
});
