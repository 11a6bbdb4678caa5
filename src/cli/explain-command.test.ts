import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SchemaValidator, type Explanation } from '@opsbook/schema';
import { startDaemon, type RunningDaemon } from '../daemon/daemon';
import { linearModelBytes } from '../explain/testing';
import { runBuiltCli as opsbook } from './testing';

const validator = new SchemaValidator();
const PYTHON = resolve(__dirname, '..', '..', '.venv', 'bin', 'python');

/**
 * A scikit-learn GradientBoostingRegressor exported by skl2onnx (a real tree ensemble) and the
 * Parquet file of its four features, written by the project's Python.
 */
const TREE_FIXTURE = `
import sys, numpy as np, pandas as pd
from sklearn.ensemble import GradientBoostingRegressor
from skl2onnx import to_onnx
rng = np.random.default_rng(0)
X = rng.random((200, 4)).astype("float32")
y = 3 * X[:, 0] + X[:, 1] ** 2 - X[:, 2]
pd.DataFrame(X, columns=["a", "b", "c", "d"]).to_parquet(sys.argv[1] + "/features.parquet")
model = GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0).fit(X, y)
open(sys.argv[1] + "/gbr.onnx", "wb").write(to_onnx(model, X[:1]).SerializeToString())
`;

describe('opsbook explain through the built CLI', () => {
  let workspace: string;
  let runtime: string;
  let daemon: RunningDaemon;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-explain-cli-'));
    runtime = mkdtempSync(join(tmpdir(), 'opsbook-explain-cli-runtime-'));
    execFileSync(PYTHON, ['-c', TREE_FIXTURE, workspace]);
    writeFileSync(join(workspace, 'linear.onnx'), linearModelBytes([1, -2, 0.5, 3], 0.25));
    writeFileSync(join(workspace, 'truncated.onnx'), linearModelBytes([1, -2, 0.5, 3], 0.25).subarray(0, 40));
    writeFileSync(join(workspace, 'three.csv'), 'a,b,c\n1,2,3\n4,5,6\n');
    daemon = await startDaemon({ workspace, port: 0, runtimeDir: runtime });
    env = { ...process.env, JUPYTER_RUNTIME_DIR: runtime, OPSBOOK_WORKSPACE: workspace };
  });
  afterAll(async () => {
    await daemon?.close();
    rmSync(workspace, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });

  it('explains a tree ensemble with TreeSHAP by default: --json validates and adds up to the raw score', async () => {
    const result = await opsbook(['explain', 'gbr.onnx', '--data', 'features.parquet', '--rows', '0:25', '--json'], env, workspace);
    expect(result.code).toBe(0);
    const explanation = JSON.parse(result.stdout) as Explanation;
    expect(validator.check('explanation.schema.json', explanation)).toBeNull();
    expect(explanation).toMatchObject({ method: 'tree', tree_mode: 'interventional', model: { kind: 'tree_regressor' } });
    expect(explanation.values).toHaveLength(25);
    explanation.values.forEach((row, r) => {
      expect(Math.abs(explanation.base_values[r] + row.reduce((s, v) => s + v, 0) - explanation.predictions![r])).toBeLessThan(1e-6);
    });
    // a drives y most: it has the largest mean |SHAP|.
    const mean = [0, 1, 2, 3].map((j) => explanation.values.reduce((s, row) => s + Math.abs(row[j]), 0));
    expect(mean.indexOf(Math.max(...mean))).toBe(0);
  });

  it('prints a summary for people: the features by mean |SHAP| and the first row', async () => {
    const result = await opsbook(['explain', 'gbr.onnx', '--data', 'features.parquet', '--rows', '3:6'], env, workspace);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('TreeSHAP (interventional) of');
    expect(result.stdout).toMatch(/FEATURE\s+MEAN \|SHAP\|\na\s/);
    expect(result.stdout).toMatch(/row 3: base .* → prediction /);
  });

  it('exits 2 with a clear message for a tree method on another model, a file that is not ONNX, and columns that do not fit', async () => {
    const tree = await opsbook(['explain', 'linear.onnx', '--data', 'features.parquet', '--method', 'tree'], env, workspace);
    expect(tree.code).toBe(2);
    expect(tree.stderr).toContain('is not a tree ensemble');
    expect(tree.stderr).toContain('--method kernel');
    const truncated = await opsbook(['explain', 'truncated.onnx', '--data', 'features.parquet'], env, workspace);
    expect(truncated.code).toBe(2);
    expect(truncated.stderr).toContain('is not a readable ONNX model');
    const columns = await opsbook(['explain', 'gbr.onnx', '--data', 'three.csv'], env, workspace);
    expect(columns.code).toBe(2);
    expect(columns.stderr).toContain('has 3 columns; the model takes 4');
    const missing = await opsbook(['explain', 'absent.onnx', '--data', 'three.csv'], env, workspace);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such file');
  });
});
