#!/usr/bin/env node
// Micro-benchmark of the serving executor (src/serving/executor.ts), without HTTP: what a request
// costs on its way to onnxruntime and back, to choose the worker count and the dispatch.
//
//   node bench/serving-executor.mjs [--seconds S]      (after `npx tsc -b src`)
//
// Measures, on two models made with the venv's scikit-learn (a logistic regression on 10 features,
// and an MLP 10→256→256→1):
//   1. onnxruntime-node's session.run() in this thread (1 row, 64 rows), and whether run() lets the
//      event loop turn while it computes (it does not: the binding runs it synchronously after a
//      setImmediate, so a run in the server's main thread would stall every socket);
//   2. a postMessage round trip to a worker thread (echo), and a run through one;
//   3. executor.infer() closed-loop at concurrency 1, 16, 64: requests/s and p50/p99 latency, with
//      1 and 2 workers, batching on (max_batch 64, max_delay_us 200) and off (max_batch 1).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

const root = resolve(import.meta.dirname, '..');
const require = createRequire(join(root, 'src', 'package.json'));
const ort = require('onnxruntime-node');
const { createExecutor } = require(join(root, 'src', 'dist', 'serving', 'executor.js'));

const argSeconds = process.argv.indexOf('--seconds');
const SECONDS = argSeconds > 0 ? Number(process.argv[argSeconds + 1]) : 2;

const dir = mkdtempSync(join(tmpdir(), 'opsbook-bench-executor-'));
const made = spawnSync(
  join(root, '.venv', 'bin', 'python'),
  [
    '-c',
    `
import sys, numpy as np
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPRegressor
X = np.random.default_rng(0).normal(size=(500, 10)).astype(np.float32)
y = X @ np.arange(10)
open(sys.argv[1] + "/logreg.onnx", "wb").write(to_onnx(LogisticRegression().fit(X, y > 0), X[:1], options={"zipmap": False}).SerializeToString())
open(sys.argv[1] + "/mlp.onnx", "wb").write(to_onnx(MLPRegressor(hidden_layer_sizes=(256, 256), max_iter=5).fit(X, y), X[:1]).SerializeToString())
`,
    dir,
  ],
  { encoding: 'utf8' },
);
if (made.status !== 0) throw new Error(made.stderr);

const results = [];
function report(name, value, unit) {
  results.push({ name, value: Number(value.toFixed(2)), unit });
  console.log(`${name.padEnd(64)} ${value.toFixed(1).padStart(9)} ${unit}`);
}

async function perOp(fn, n) {
  for (let i = 0; i < Math.min(1000, n); i++) await fn();
  const start = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return ((performance.now() - start) * 1000) / n;
}

// 1. onnxruntime in this thread.
const options = { intraOpNumThreads: 1, interOpNumThreads: 1 };
for (const name of ['logreg', 'mlp']) {
  const session = await ort.InferenceSession.create(join(dir, `${name}.onnx`), options);
  const input = session.inputNames[0];
  for (const rows of [1, 64]) {
    const data = new Float32Array(rows * 10).fill(0.5);
    report(`main thread session.run, ${name}, ${rows} row(s)`, await perOp(() => session.run({ [input]: new ort.Tensor('float32', data, [rows, 10]) }), 5000), 'us/run');
  }
  const big = new Float32Array(4096 * 10).fill(0.5);
  let turns = 0;
  let spinning = true;
  const spin = () => {
    turns++;
    if (spinning) setImmediate(spin);
  };
  setImmediate(spin);
  await new Promise((r) => setImmediate(r));
  const before = turns;
  const start = performance.now();
  await session.run({ [input]: new ort.Tensor('float32', big, [4096, 10]) });
  const ms = performance.now() - start;
  spinning = false;
  report(`  event-loop turns during one ${ms.toFixed(1)} ms run (${name}, 4096 rows)`, turns - before, 'turns');
  await session.release();
}

// 2. A worker thread: echo, and a run.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ort);
ort.InferenceSession.create(workerData.model, { intraOpNumThreads: 1, interOpNumThreads: 1 }).then((session) => {
  const input = session.inputNames[0];
  parentPort.on('message', async (m) => {
    if (m.echo) return parentPort.postMessage(m);
    const out = await session.run({ [input]: new ort.Tensor('float32', m.data, [m.rows, 10]) });
    const data = out[session.outputNames[session.outputNames.length - 1]].data;
    parentPort.postMessage({ data }, [data.buffer]);
  });
  parentPort.postMessage('ready');
});`;
const worker = new Worker(workerSource, { eval: true, workerData: { ort: require.resolve('onnxruntime-node'), model: join(dir, 'logreg.onnx') } });
await new Promise((r) => worker.once('message', r));
const call = (message, transfer) =>
  new Promise((r) => {
    worker.once('message', r);
    worker.postMessage(message, transfer);
  });
report('worker postMessage round trip (echo)', await perOp(() => call({ echo: 1 }), 5000), 'us');
report('worker round trip with session.run, logreg, 1 row', await perOp(() => {
  const data = new Float32Array(10).fill(0.5);
  return call({ data, rows: 1 }, [data.buffer]);
}, 5000), 'us');
await worker.terminate();

// 3. The executor, closed loop.
function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function closedLoop(executor, model, concurrency) {
  const latencies = [];
  const deadline = performance.now() + SECONDS * 1000;
  const client = async () => {
    while (performance.now() < deadline) {
      const data = new Float32Array(10).fill(Math.random());
      const start = performance.now();
      await executor.infer(model, [{ name: model.inputs[0].name, datatype: 'FP32', shape: [1, 10], data }]);
      latencies.push(performance.now() - start);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, client));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return { rps: latencies.length / seconds, p50: percentile(latencies, 50) * 1000, p99: percentile(latencies, 99) * 1000 };
}

console.log(`\nexecutor.infer, closed loop, ${SECONDS} s each (${cpus().length} cores)`);
console.log('model   workers max_batch concurrency      req/s   p50 us   p99 us');
for (const name of ['logreg', 'mlp']) {
  for (const workers of [1, 2]) {
    for (const maxBatch of [64, 1]) {
      const path = join(dir, `${name}.onnx`);
      const executor = createExecutor(
        { name: 'bench', models: [{ model: path, path }], host: '127.0.0.1', port: 0, device: 'cpu', max_batch: maxBatch, max_delay_us: 200, workers, api_key: null, insecure: false, body_limit_bytes: 1 << 26, nonfinite: 'reject', request_log: false, request_log_dir: null },
        () => undefined,
      );
      await executor.settled;
      const model = executor.models()[0];
      for (const concurrency of [1, 16, 64]) {
        const r = await closedLoop(executor, model, concurrency);
        results.push({ name: `executor ${name} workers=${workers} max_batch=${maxBatch} c=${concurrency}`, ...r });
        console.log(`${name.padEnd(8)}${String(workers).padStart(7)}${String(maxBatch).padStart(10)}${String(concurrency).padStart(12)}${r.rps.toFixed(0).padStart(11)}${r.p50.toFixed(0).padStart(9)}${r.p99.toFixed(0).padStart(9)}`);
      }
      await executor.close();
    }
  }
}
rmSync(dir, { recursive: true, force: true });
if (process.argv.includes('--json')) console.log(JSON.stringify(results));
