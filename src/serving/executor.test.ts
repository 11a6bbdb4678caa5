import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createExecutor } from './executor';
import { gpuSetup, onnxruntimeNode } from './gpu';
import { signatureOfGraph } from './model-meta';
import { workerFile } from './pool';
import { InferenceFailure, type Executor, type LogFields, type ResolvedServeConfig, type ServedModel, type Tensor, type TensorData } from './types';

const root = resolve(__dirname, '..', '..');

/**
 * Models made with scikit-learn/skl2onnx and onnx.helper, and Python onnxruntime's outputs on the
 * rows the tests send. Float16 values travel as their bits; int64 as numbers (all small).
 */
const FIXTURES = String.raw`
import json, sys
import numpy as np
import onnxruntime as ort
from onnx import TensorProto as T, helper, numpy_helper
from skl2onnx import to_onnx
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression

out = sys.argv[1]
rng = np.random.default_rng(0)
X = rng.normal(size=(300, 4)).astype(np.float32)
y = X @ np.array([1.5, -2.0, 0.5, 3.0]) + 0.25

def save(name, model):
    with open(f"{out}/{name}.onnx", "wb") as f:
        f.write(model.SerializeToString())

save("linear", to_onnx(LinearRegression().fit(X, y), X[:1], target_opset=17))
forest = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(X, (y > 0).astype(int) + (y > 3))
save("forest", to_onnx(forest, X[:1], options={"zipmap": False}, target_opset={"": 17, "ai.onnx.ml": 3}))

def vi(name, t, shape):
    return helper.make_tensor_value_info(name, t, shape)

def model(nodes, inputs, outputs, inits=()):
    m = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(inits)), opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m

save("types", model(
    [helper.make_node("Mul", ["a", "two"], ["a2"]),
     helper.make_node("ReduceSum", ["b", "axes"], ["bsum"], keepdims=1),
     helper.make_node("Identity", ["s"], ["s_out"]),
     helper.make_node("Not", ["flag"], ["not_flag"]),
     helper.make_node("Cast", ["h"], ["h32"], to=T.FLOAT),
     helper.make_node("Identity", ["h"], ["h_out"]),
     helper.make_node("Identity", ["u8"], ["u8_out"])],
    [vi("a", T.INT64, ["N", 2]), vi("b", T.DOUBLE, ["N", 3]), vi("s", T.STRING, ["N"]), vi("flag", T.BOOL, ["N", 1]),
     vi("h", T.FLOAT16, ["N", 2]), vi("u8", T.UINT8, ["N", 2])],
    [vi("a2", T.INT64, ["N", 2]), vi("bsum", T.DOUBLE, ["N", 1]), vi("s_out", T.STRING, ["N"]), vi("not_flag", T.BOOL, ["N", 1]),
     vi("h32", T.FLOAT, ["N", 2]), vi("h_out", T.FLOAT16, ["N", 2]), vi("u8_out", T.UINT8, ["N", 2])],
    [numpy_helper.from_array(np.array(2, dtype=np.int64), "two"), numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")]))
save("fixed", model([helper.make_node("Relu", ["X"], ["Y"])], [vi("X", T.FLOAT, [2, 3])], [vi("Y", T.FLOAT, [2, 3])]))
save("ragged", model([helper.make_node("ReduceSum", ["X", "axes"], ["Y"], keepdims=1)],
    [vi("X", T.FLOAT, ["N", "K"])], [vi("Y", T.FLOAT, ["N", 1])], [numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")]))
# The first half of the rows: a symbolic first dimension that is not the rows.
save("half", model([helper.make_node("Shape", ["X"], ["n"], start=0, end=1), helper.make_node("Div", ["n", "two"], ["h"]),
    helper.make_node("Slice", ["X", "zero", "h", "zero"], ["Y"])],
    [vi("X", T.FLOAT, ["N", 3])], [vi("Y", T.FLOAT, ["M", 3])],
    [numpy_helper.from_array(np.array([0], dtype=np.int64), "zero"), numpy_helper.from_array(np.array([2], dtype=np.int64), "two")]))
save("gather", model([helper.make_node("GatherElements", ["X", "idx"], ["Y"], axis=1)],
    [vi("X", T.FLOAT, ["N", 4]), vi("idx", T.INT64, ["N", 1])], [vi("Y", T.FLOAT, ["N", 1])]))
with open(f"{out}/broken.onnx", "wb") as f:
    f.write(b"this is not an onnx model")

rows = rng.normal(size=(40, 4)).astype(np.float32)
ref = {"rows": rows.tolist()}
for name in ("linear", "forest"):
    s = ort.InferenceSession(f"{out}/{name}.onnx", providers=["CPUExecutionProvider"])
    ref[name] = {o.name: v.tolist() for o, v in zip(s.get_outputs(), s.run(None, {"X": rows}))}
types_in = {
    "a": np.array([[1, -2], [3, 40]], dtype=np.int64),
    "b": np.array([[0.5, 0.25, 1e-9], [-1.0, 2.0, 3.0]], dtype=np.float64),
    "s": np.array(["héllo", ""], dtype=object),
    "flag": np.array([[True], [False]]),
    "h": np.array([[0.5, -2.0], [1.0009765625, 65504.0]], dtype=np.float16),
    "u8": np.array([[0, 255], [7, 8]], dtype=np.uint8),
}
s = ort.InferenceSession(f"{out}/types.onnx", providers=["CPUExecutionProvider"])
res = dict(zip([o.name for o in s.get_outputs()], s.run(None, types_in)))
enc = lambda v: (v.view(np.uint16) if v.dtype == np.float16 else v).tolist()
ref["types"] = {"inputs": {k: enc(v) for k, v in types_in.items()}, "outputs": {k: enc(v) for k, v in res.items()}}
json.dump(ref, open(f"{out}/reference.json", "w"))
`;

interface Reference {
  rows: number[][];
  linear: { variable: number[][] };
  forest: { label: number[]; probabilities: number[][] };
  types: { inputs: Record<string, unknown[][] | unknown[]>; outputs: Record<string, unknown[][] | unknown[]> };
}

let dir: string;
let reference: Reference;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'opsbook-executor-'));
  const run = spawnSync(join(root, '.venv/bin/python'), ['-c', FIXTURES, dir], { cwd: root, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`the fixture script failed: ${run.stderr}`);
  reference = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function config(models: string[], overrides: Partial<ResolvedServeConfig> = {}): ResolvedServeConfig {
  return {
    name: 'test',
    models: models.map((name) => ({ model: join(dir, `${name}.onnx`), path: join(dir, `${name}.onnx`) })) as ResolvedServeConfig['models'],
    host: '127.0.0.1',
    port: 0,
    device: 'cpu',
    max_batch: 64,
    max_delay_us: 200,
    workers: 2,
    api_key: null,
    insecure: false,
    body_limit_bytes: 64 * 1024 * 1024,
    nonfinite: 'reject',
    request_log: false,
    request_log_dir: null,
    ...overrides,
  };
}

async function started(models: string[], overrides: Partial<ResolvedServeConfig> = {}, logs: LogFields[] = [], workerScript?: string): Promise<Executor> {
  const executor = createExecutor(config(models, overrides), (fields) => logs.push(fields), { workerFile: workerScript });
  await executor.settled;
  return executor;
}

function byName(executor: Executor, name: string): ServedModel {
  const model = executor.models().find((m) => m.name === name);
  if (!model) throw new Error(`no model ${name}`);
  return model;
}

function fp32(name: string, rows: number[][]): Tensor {
  return { name, datatype: 'FP32', shape: [rows.length, rows[0].length], data: Float32Array.from(rows.flat()) };
}

function values(data: TensorData): number[] {
  // + 0 turns -0 (Relu of a negative zero) into 0.
  return Array.from(data as ArrayLike<number | bigint>, (v) => Number(v) + 0);
}

function output(result: { outputs: Tensor[] }, name: string): Tensor {
  const found = result.outputs.find((o) => o.name === name);
  if (!found) throw new Error(`no output ${name}`);
  return found;
}

function expectClose(actual: number[], expected: number[], tolerance = 1e-6): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => expect(Math.abs(value - expected[i])).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(expected[i]))));
}

describe('createExecutor', () => {
  it('returns at once, loads models in the background, and describes them from their sessions', async () => {
    const logs: LogFields[] = [];
    const executor = createExecutor(config(['linear', 'forest', 'broken', 'missing', 'fixed']), (fields) => logs.push(fields));
    expect(executor.models().map((m) => m.ready)).toEqual([false, false, false, false, false]);
    await executor.settled;
    try {
      const [linear, forest, broken, missing, fixed] = executor.models();
      expect(executor.device).toBe('cpu');
      expect(linear).toMatchObject({ name: 'linear', version: '1', ready: true, error: null, device: 'cpu', batchable: true });
      expect(linear.inputs).toEqual([{ name: 'X', datatype: 'FP32', shape: [-1, 4] }]);
      expect(linear.outputs).toEqual([{ name: 'variable', datatype: 'FP32', shape: [-1, 1] }]);
      expect(forest.outputs).toEqual([
        { name: 'label', datatype: 'INT64', shape: [-1] },
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
      ]);
      expect(fixed).toMatchObject({ ready: true, batchable: false });
      expect(broken.ready).toBe(false);
      expect(broken.error).toMatch(/protobuf|parse|load/i);
      expect(missing.ready).toBe(false);
      expect(missing.error).toMatch(/exist|no such file/i);
      // The graph says what the session says.
      expect(signatureOfGraph(readFileSync(join(dir, 'forest.onnx')))).toEqual({ inputs: forest.inputs, outputs: forest.outputs, batchable: true });

      const device = logs.filter((l) => l.event === 'device');
      expect(device).toEqual([expect.objectContaining({ device: 'cpu', reason: expect.any(String) })]);
      const models = logs.filter((l) => l.event === 'model');
      expect(models.map((l) => [l.name, l.ready])).toEqual(
        expect.arrayContaining([['linear', true], ['forest', true], ['broken', false], ['missing', false], ['fixed', true]]),
      );
      expect(models).toHaveLength(5);
      expect(models.find((l) => l.name === 'linear')).toMatchObject({ version: '1', path: join(dir, 'linear.onnx'), error: null, inputs: linear.inputs, outputs: linear.outputs });

      await expect(executor.infer(broken, [fp32('X', [[1, 2, 3, 4]])])).rejects.toThrow(/broken failed to load/);
    } finally {
      await executor.close();
    }
  });

  it('answers as Python onnxruntime does, one request and many concurrent ones', async () => {
    const executor = await started(['linear', 'forest']);
    try {
      const linear = byName(executor, 'linear');
      const forest = byName(executor, 'forest');
      const one = await executor.infer(linear, [fp32('X', reference.rows.slice(0, 3))]);
      expect(one.batchRows).toBe(3);
      expect(output(one, 'variable').shape).toEqual([3, 1]);
      expectClose(values(output(one, 'variable').data), reference.linear.variable.slice(0, 3).flat());

      const results = await Promise.all(
        reference.rows.flatMap((row) => [executor.infer(linear, [fp32('X', [row])]), executor.infer(forest, [fp32('X', [row])])]),
      );
      reference.rows.forEach((_, r) => {
        const lin = results[2 * r];
        const tree = results[2 * r + 1];
        expect(output(lin, 'variable').shape).toEqual([1, 1]);
        expectClose(values(output(lin, 'variable').data), reference.linear.variable[r]);
        expect(values(output(tree, 'label').data)).toEqual([reference.forest.label[r]]);
        expect(output(tree, 'label').datatype).toBe('INT64');
        expectClose(values(output(tree, 'probabilities').data), reference.forest.probabilities[r]);
        expect(output(tree, 'probabilities').shape).toEqual([1, 3]);
      });
      // Concurrent single rows were stacked into shared runs, within max_batch.
      expect(Math.max(...results.map((r) => r.batchRows))).toBeGreaterThan(1);
      expect(Math.max(...results.map((r) => r.batchRows))).toBeLessThanOrEqual(64);
      expect(results.every((r) => r.queueMs >= 0)).toBe(true);

      // A request larger than a worker's shared slot goes as a message of its own (transferred).
      const many = Array.from({ length: 125 }, () => reference.rows).flat();
      const large = fp32('X', many);
      expect(large.data.length * 4).toBeGreaterThan(64 * 1024);
      const big = await executor.infer(linear, [large]);
      expect(output(big, 'variable').shape).toEqual([5000, 1]);
      expectClose(values(output(big, 'variable').data), Array.from({ length: 125 }, () => reference.linear.variable.flat()).flat());

      // Output selection: only what was asked, in the order asked.
      const picked = await executor.infer(forest, [fp32('X', [reference.rows[0]])], ['probabilities']);
      expect(picked.outputs.map((o) => o.name)).toEqual(['probabilities']);
      await expect(executor.infer(forest, [fp32('X', [reference.rows[0]])], ['nope'])).rejects.toBeInstanceOf(InferenceFailure);
    } finally {
      await executor.close();
    }
  });

  it('carries every datatype both ways (INT64, FP64, BYTES, BOOL, FP16 bits, UINT8), batched too', async () => {
    const executor = await started(['types']);
    try {
      const model = byName(executor, 'types');
      expect(model.inputs.map((i) => [i.name, i.datatype])).toEqual([
        ['a', 'INT64'], ['b', 'FP64'], ['s', 'BYTES'], ['flag', 'BOOL'], ['h', 'FP16'], ['u8', 'UINT8'],
      ]);
      const inp = reference.types.inputs;
      const row = (r: number): Tensor[] => [
        { name: 'a', datatype: 'INT64', shape: [1, 2], data: BigInt64Array.from((inp.a[r] as number[]).map(BigInt)) },
        { name: 'b', datatype: 'FP64', shape: [1, 3], data: Float64Array.from(inp.b[r] as number[]) },
        { name: 's', datatype: 'BYTES', shape: [1], data: [inp.s[r] as string] },
        { name: 'flag', datatype: 'BOOL', shape: [1, 1], data: Uint8Array.from((inp.flag[r] as boolean[]).map(Number)) },
        { name: 'h', datatype: 'FP16', shape: [1, 2], data: Uint16Array.from(inp.h[r] as number[]) },
        { name: 'u8', datatype: 'UINT8', shape: [1, 2], data: Uint8Array.from(inp.u8[r] as number[]) },
      ];
      // Both rows at once, many times over, so some runs stack them.
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => executor.infer(model, row(i % 2))));
      const out = reference.types.outputs;
      results.forEach((result, i) => {
        const r = i % 2;
        expect(values(output(result, 'a2').data)).toEqual(out.a2[r]);
        // (jest's sandbox has its own BigInt64Array: compare by name)
        expect(output(result, 'a2').data.constructor.name).toBe('BigInt64Array');
        expectClose(values(output(result, 'bsum').data), out.bsum[r] as number[], 1e-12);
        expect(output(result, 's_out').data).toEqual([out.s_out[r]]);
        expect(output(result, 's_out').datatype).toBe('BYTES');
        expect(values(output(result, 'not_flag').data)).toEqual((out.not_flag[r] as boolean[]).map(Number));
        expect(output(result, 'not_flag').datatype).toBe('BOOL');
        expect(values(output(result, 'h32').data)).toEqual(out.h32[r]);
        expect(values(output(result, 'h_out').data)).toEqual(out.h_out[r]);
        expect(output(result, 'h_out').datatype).toBe('FP16');
        expect(values(output(result, 'u8_out').data)).toEqual(out.u8_out[r]);
      });
      expect(results.some((r) => r.batchRows > 1)).toBe(true);
    } finally {
      await executor.close();
    }
  });

  it('never stacks what cannot be stacked: fixed first dimensions, other dimensions that differ, outputs not by row', async () => {
    const executor = await started(['fixed', 'ragged', 'half']);
    try {
      const fixed = byName(executor, 'fixed');
      const fixedAnswers = await Promise.all(
        Array.from({ length: 10 }, (_, i) => executor.infer(fixed, [fp32('X', [[i, -i, 1], [-1, i, 0]])])),
      );
      fixedAnswers.forEach((result, i) => {
        expect(result.batchRows).toBe(2);
        expect(values(output(result, 'Y').data)).toEqual([i, 0, 1, 0, i, 0]);
      });

      const ragged = byName(executor, 'ragged');
      const widths = [2, 3, 2, 5, 3, 2, 5, 5];
      const raggedAnswers = await Promise.all(
        widths.flatMap((width, i) => Array.from({ length: 4 }, (_, j) => executor.infer(ragged, [fp32('X', [Array.from({ length: width }, (_, k) => i + j + k)])]))),
      );
      widths.forEach((width, i) => {
        for (let j = 0; j < 4; j++) {
          const expected = Array.from({ length: width }, (_, k) => i + j + k).reduce((a, b) => a + b, 0);
          expect(values(output(raggedAnswers[i * 4 + j], 'Y').data)).toEqual([expected]);
        }
      });

      // Its output's first dimension is symbolic but is not the rows: each request gets its own half.
      const half = byName(executor, 'half');
      expect(half.batchable).toBe(true);
      const halfAnswers = await Promise.all(
        Array.from({ length: 12 }, (_, i) => executor.infer(half, [fp32('X', [[i, 0, 2], [i + 2, 2, 4]])])),
      );
      halfAnswers.forEach((result, i) => {
        expect(output(result, 'Y').shape).toEqual([1, 3]);
        expect(values(output(result, 'Y').data)).toEqual([i, 0, 2]);
      });
    } finally {
      await executor.close();
    }
  });

  it('with max_batch 1 runs every request on its own', async () => {
    const executor = await started(['linear'], { max_batch: 1 });
    try {
      const linear = byName(executor, 'linear');
      const results = await Promise.all(reference.rows.map((row) => executor.infer(linear, [fp32('X', [row])])));
      expect(results.every((r) => r.batchRows === 1)).toBe(true);
      results.forEach((result, r) => expectClose(values(output(result, 'variable').data), reference.linear.variable[r]));
    } finally {
      await executor.close();
    }
  });

  it('answers a request onnxruntime refuses with InferenceFailure, and the others stacked with it normally', async () => {
    const executor = await started(['gather'], { workers: 1 });
    try {
      const gather = byName(executor, 'gather');
      const request = (index: number): Promise<unknown> =>
        executor.infer(gather, [fp32('X', [[10, 11, 12, 13]]), { name: 'idx', datatype: 'INT64', shape: [1, 1], data: BigInt64Array.of(BigInt(index)) }]);
      const settled = await Promise.allSettled([0, 1, 9, 2, 3, 7, 1].map(request));
      settled.forEach((outcome, i) => {
        const index = [0, 1, 9, 2, 3, 7, 1][i];
        if (index > 3) {
          expect(outcome.status).toBe('rejected');
          const reason = (outcome as PromiseRejectedResult).reason as InferenceFailure;
          expect(reason).toBeInstanceOf(InferenceFailure);
          expect(reason.status).toBe(500);
          expect(reason.message).toMatch(/onnxruntime/);
        } else {
          expect(outcome.status).toBe('fulfilled');
          expect(values(output((outcome as PromiseFulfilledResult<{ outputs: Tensor[] }>).value, 'Y').data)).toEqual([10 + index]);
        }
      });
    } finally {
      await executor.close();
    }
  });

  it('replaces a worker thread that stops, failing only the requests it held', async () => {
    // The real worker, except that the first worker thread to receive a run exits before running it.
    const flag = join(dir, 'crashed-once');
    const script = join(dir, 'crashing-worker.js');
    writeFileSync(
      script,
      `const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
parentPort.on('message', (message) => {
  if ((message.t === 'run' || message[0] === 'r') && !fs.existsSync(${JSON.stringify(flag)})) { fs.writeFileSync(${JSON.stringify(flag)}, ''); process.exit(7); }
});
require(${JSON.stringify(workerFile())});
`,
    );
    const logs: LogFields[] = [];
    const executor = await started(['linear'], { workers: 1 }, logs, script);
    try {
      const linear = byName(executor, 'linear');
      const first = executor.infer(linear, [fp32('X', [reference.rows[0]])]);
      await expect(first).rejects.toBeInstanceOf(InferenceFailure);
      await expect(first).rejects.toThrow(/stopped \(exit code 7\)/);
      const again = await executor.infer(linear, [fp32('X', [reference.rows[1]])]);
      expectClose(values(output(again, 'variable').data), reference.linear.variable[1]);
      expect(logs.some((l) => l.level === 'error' && /worker 0 stopped \(exit code 7\); starting another/.test(l.msg))).toBe(true);
    } finally {
      await executor.close();
    }
  });

  it('fails what waits for a model once no worker can run it (a replacement that stops while loading is not replaced again)', async () => {
    const flag = join(dir, 'crashed-then-gone');
    const script = join(dir, 'gone-worker.js');
    writeFileSync(
      script,
      `const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
if (fs.existsSync(${JSON.stringify(flag)})) process.exit(8);
parentPort.on('message', (message) => {
  if (message.t === 'run' || message[0] === 'r') { fs.writeFileSync(${JSON.stringify(flag)}, ''); process.exit(7); }
});
require(${JSON.stringify(workerFile())});
`,
    );
    const logs: LogFields[] = [];
    const executor = await started(['linear'], { workers: 1 }, logs, script);
    try {
      const linear = byName(executor, 'linear');
      const first = executor.infer(linear, [fp32('X', [reference.rows[0]])]);
      await expect(first).rejects.toThrow(/exit code 7/);
      while (linear.ready) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(linear.error).toMatch(/no worker thread holds the model/);
      await expect(executor.infer(linear, [fp32('X', [reference.rows[0]])])).rejects.toBeInstanceOf(InferenceFailure);
      expect(logs.some((l) => /worker 0 stopped \(exit code 8\); not replaced/.test(l.msg))).toBe(true);
    } finally {
      await executor.close();
    }
  });

  it('refuses device cuda where CUDA is unavailable (cuda_unavailable), and auto falls back to the CPU saying why', async () => {
    const cuda = createExecutor(config(['linear'], { device: 'cuda' }), () => undefined);
    await expect(cuda.settled).rejects.toMatchObject({ code: 'cuda_unavailable', message: expect.stringMatching(/CUDA is unavailable: /) });
    expect(cuda.models()[0]).toMatchObject({ ready: false, error: expect.stringMatching(/CUDA/) });
    await cuda.close();

    const logs: LogFields[] = [];
    const auto = await started(['linear'], { device: 'auto' }, logs);
    try {
      expect(auto.device).toBe('cpu');
      expect(logs.filter((l) => l.event === 'device')).toEqual([
        expect.objectContaining({ device: 'cpu', reason: expect.stringMatching(/^CUDA unavailable, serving on the CPU: /) }),
      ]);
      expect(byName(auto, 'linear').device).toBe('cpu');
    } finally {
      await auto.close();
    }
    // gpu setup --check says the same, and where the provider would go.
    const check = await gpuSetup({ check: true, cacheDir: join(dir, 'no-gpu-cache') });
    expect(check).toEqual({ cuda: false, reason: expect.stringMatching(/CUDA provider|CUDA driver/), provider_dir: onnxruntimeNode().binDir, library_path: null });
    expect(check.provider_dir).toMatch(/onnxruntime-node\/bin\/napi-v6\/linux\/x64$/);
  });

  it('close() answers what is queued and running, then refuses new requests', async () => {
    const executor = await started(['linear'], { workers: 1, max_batch: 4 });
    const linear = byName(executor, 'linear');
    const pending = reference.rows.map((row) => executor.infer(linear, [fp32('X', [row])]));
    const closed = executor.close();
    const results = await Promise.all(pending);
    results.forEach((result, r) => expectClose(values(output(result, 'variable').data), reference.linear.variable[r]));
    await closed;
    await expect(executor.infer(linear, [fp32('X', [reference.rows[0]])])).rejects.toThrow(/shutting down/);
  });
});
