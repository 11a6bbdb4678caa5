// Explanations (issue 8): Opsbook's TreeSHAP, KernelSHAP and LIME beside shap and lime in the same
// run, on the same ONNX/pickled models and the same rows and background (bench/explain/generate.py
// writes them once into --data-dir; 12 features, 100 background rows):
//  - TreeSHAP: interventionalTreeShap on Float64Arrays in this process (the ensemble parsed from the
//    .onnx first, untimed) vs shap.TreeExplainer(model, bg, feature_perturbation="interventional")
//    .shap_values (shap's C++; its construction timed apart) on a GradientBoostingRegressor (100
//    trees, depth 3), a RandomForestRegressor (100 trees, depth 8) and an LGBMRegressor (200 trees);
//    and the whole `opsbook explain --json` child process against a warm daemon for one of them;
//  - KernelSHAP: kernelShap in this process on an onnxruntime session, and explainModel (inProcess:
//    reading the Parquet files, the worker's computation in this thread), vs shap.KernelExplainer(f, bg)
//    .shap_values(X, nsamples=same, l1_reg=False) on a LogisticRegression, an MLPClassifier and the
//    GB regressor; f is the peer's faster of onnxruntime and the model's own predict (it says which);
//  - LIME: limeTabular (and explainModel) vs LimeTabularExplainer(...).explain_instance per row,
//    5,000 samples, 10 features, on the LogisticRegression, the same training rows.
// The peers run in .venv (bench/explain/peers.py). Goals: KernelSHAP >= 10x faster, TreeSHAP no
// slower than shap's C++ (ratio <= 1), LIME >= 5x faster. The results must agree (tree: max |diff|
// relative to the largest |value| < 1e-5; kernel: additivity to 1e-6 on both sides and max |diff|
// relative < --kernel-tolerance; lime: mean top-5 overlap >= 4) or the benchmark fails. Prints the
// load average beside the numbers: the ratios within one run are what count on a shared machine.
// Uses the built modules in src/dist (run `make build` first).
//   node bench/explain.mjs [--rows 100] [--kernel-rows 20] [--lime-rows 20] [--nsamples N]
//     [--repeats 3] [--data-dir DIR] [--skip-tree] [--skip-kernel] [--skip-lime] [--skip-cli]
//     [--skip-peers] [--cli-model gbr|rfr|lgbr]
// Profile the Opsbook side alone: node --cpu-prof bench/explain.mjs --skip-peers --skip-cli ...
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const root = dirname(dirname(fileURLToPath(import.meta.url)));
const CLI = join(root, 'src', 'dist', 'cli', 'main.js');
const EXPLAIN = join(root, 'src', 'dist', 'explain', 'index.js');
const PYTHON = join(root, '.venv', 'bin', 'python');

const { values: options } = parseArgs({
  options: {
    rows: { type: 'string', default: '100' },
    'kernel-rows': { type: 'string', default: '20' },
    'lime-rows': { type: 'string', default: '20' },
    nsamples: { type: 'string' },
    repeats: { type: 'string', default: '3' },
    'data-dir': { type: 'string' },
    'skip-tree': { type: 'boolean', default: false },
    'skip-kernel': { type: 'boolean', default: false },
    'skip-lime': { type: 'boolean', default: false },
    'skip-cli': { type: 'boolean', default: false },
    'skip-peers': { type: 'boolean', default: false },
    'cli-model': { type: 'string', default: 'gbr' },
    'kernel-tolerance': { type: 'string', default: '0.1' },
  },
});
const TREE_ROWS = Number(options.rows);
const KERNEL_ROWS = Number(options['kernel-rows']);
const LIME_ROWS = Number(options['lime-rows']);
const REPEATS = Number(options.repeats);
const KERNEL_TOLERANCE = Number(options['kernel-tolerance']);
// The generator's version is in the folder's name: change it when the data or the models change.
const DATA_DIR = options['data-dir'] ?? join(tmpdir(), 'opsbook-bench-explain-v1');
const TREE_MODELS = ['gbr', 'rfr', 'lgbr'];
const KERNEL_MODELS = ['logreg', 'mlp', 'gbr'];
const LIME_MODEL = 'logreg';
const LABELS = {
  gbr: 'GradientBoostingRegressor 100 trees d3',
  rfr: 'RandomForestRegressor 100 trees d8',
  lgbr: 'LGBMRegressor 200 trees',
  logreg: 'LogisticRegression',
  mlp: 'MLPClassifier (32, 16)',
};

const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const each = (seconds) => `each: ${seconds.map((s) => s.toFixed(3)).join(', ')}`;

/** Median wall seconds of `repeats` calls, and the median CPU seconds of this process (all its threads). */
async function timed(repeats, action) {
  const seconds = [];
  const cpu = [];
  let last;
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    const cpuStarted = process.cpuUsage();
    last = await action();
    const used = process.cpuUsage(cpuStarted);
    seconds.push((performance.now() - started) / 1000);
    cpu.push((used.user + used.system) / 1e6);
  }
  return { seconds: median(seconds), all: seconds, cpu: median(cpu), last };
}

const cpuNote = (seconds) => `cpu ${seconds.toFixed(3)} s`;

function runChild(command, args, env = process.env) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    let stderr = '';
    child.stdout.on('data', (chunk) => chunks.push(chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout: Buffer.concat(chunks).toString(), stderr }));
  });
}

/** A C-order little-endian float64 .npy file (what generate.py writes) as rows x cols. */
function readNpy(path) {
  const bytes = readFileSync(path);
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  if (!header.includes("'<f8'") || header.includes("'fortran_order': True")) throw new Error(`${path}: not a C-order float64 array`);
  const [rows, cols] = /'shape': \((\d+), (\d+)\)/.exec(header).slice(1).map(Number);
  const data = new Float64Array(rows * cols);
  const start = 10 + headerLength;
  for (let i = 0; i < data.length; i++) data[i] = bytes.readDoubleLE(start + i * 8);
  return { data, rows, cols };
}

const firstRows = (m, rows) => ({ data: m.data.subarray(0, rows * m.cols), rows: Math.min(rows, m.rows), cols: m.cols });

/** Runs generate.py when the folder lacks meta.json (written last); returns the meta. */
async function generate() {
  const meta = join(DATA_DIR, 'meta.json');
  if (!existsSync(meta)) {
    process.stdout.write(`generating data and models into ${DATA_DIR}\n`);
    const { code, stderr } = await runChild(PYTHON, [join(root, 'bench', 'explain', 'generate.py'), DATA_DIR]);
    if (code !== 0) throw new Error(`generate.py exit ${code}: ${stderr.slice(-3000)}`);
  }
  return JSON.parse(readFileSync(meta, 'utf8'));
}

/** Largest |a − b| over the first n values of each, and the largest |b| (the scale of the values). */
function maxDiff(a, b, n) {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < n; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { diff, scale, relative: scale > 0 ? diff / scale : diff };
}

/** Largest |base + Σ values − prediction| over the rows. */
function additivity(values, base, predictions, rows, M) {
  let worst = 0;
  for (let r = 0; r < rows; r++) {
    let sum = typeof base === 'number' ? base : base[r];
    for (let j = 0; j < M; j++) sum += values[r * M + j];
    worst = Math.max(worst, Math.abs(sum - predictions[r]));
  }
  return worst;
}

const flat = (nested) => Float64Array.from(nested.flat());

async function measureTree(api, meta, rows, checks) {
  const out = {};
  for (const name of TREE_MODELS) {
    const set = meta.models[name];
    const X = firstRows(readNpy(join(DATA_DIR, `${set}_X.npy`)), TREE_ROWS);
    const bg = readNpy(join(DATA_DIR, `${set}_bg.npy`));
    const parseStarted = performance.now();
    const ensemble = api.extractEnsemble(api.decodeOnnx(readFileSync(join(DATA_DIR, `${name}.onnx`)), name));
    const parse = (performance.now() - parseStarted) / 1000;
    api.interventionalTreeShap(ensemble, X.data.subarray(0, X.cols), bg.data, 0); // warm: one row, compiled as in a warm daemon
    const result = await timed(REPEATS, () => api.interventionalTreeShap(ensemble, X.data, bg.data, 0));
    out[name] = { ...result, parse, X, M: X.cols };
    rows.push({ method: 'tree', model: name, side: 'Opsbook interventionalTreeShap', seconds: result.seconds, note: `${cpuNote(result.cpu)}; ${X.rows} rows x ${bg.rows} bg; parse ${parse.toFixed(3)} s untimed; ${each(result.all)}` });
    const add = additivity(result.last.values, result.last.base, result.last.raw, X.rows, X.cols);
    checks.push({ what: `tree ${name}: Opsbook base + sum = raw score`, value: add, limit: 1e-6 });
  }
  return out;
}

/** `opsbook explain --json` as a user runs it, against a warm daemon process (as bench/quality.mjs). */
async function measureCli(meta, rows) {
  const name = options['cli-model'];
  const set = meta.models[name];
  const { ensureDaemon } = require('../src/dist/daemon/launch.js');
  const workspace = mkdtempSync(join(tmpdir(), 'opsbook-bench-explain-ws-'));
  const runtime = mkdtempSync(join(tmpdir(), 'opsbook-bench-runtime-'));
  const env = { ...process.env, JUPYTER_RUNTIME_DIR: runtime, OPSBOOK_RUN_ID: '' };
  const args = [CLI, 'explain', join(DATA_DIR, `${name}.onnx`), '--data', join(DATA_DIR, `${set}_X.parquet`), '--background', join(DATA_DIR, `${set}_bg.parquet`),
    '--rows', `0:${TREE_ROWS}`, '--method', 'tree', '--json', '--workspace', workspace];
  const once = async () => {
    const { code, stdout, stderr } = await runChild(process.execPath, args, env);
    if (code !== 0) throw new Error(`opsbook explain exit ${code}: ${stderr.slice(-3000) || stdout.slice(0, 3000)}`);
    return JSON.parse(stdout);
  };
  let daemon;
  try {
    daemon = await ensureDaemon(workspace, runtime);
    await once(); // warm: the daemon's first request, the file cache
    const cli = await timed(REPEATS, once);
    const reported = cli.last.seconds;
    rows.push({ method: 'tree', model: name, side: 'Opsbook CLI `opsbook explain --method tree --json`', seconds: cli.seconds, note: `daemon reports ${reported.toFixed(3)} s; ${each(cli.all)}` });
    return cli;
  } finally {
    if (daemon) await stopDaemon(daemon.info.pid);
    rmSync(workspace, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  }
}

async function stopDaemon(pid) {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (alive()) process.kill(pid, 'SIGTERM');
  while (alive()) await new Promise((resolve) => setTimeout(resolve, 100));
}

/** The job explainModel runs for `name` on the first `count` rows of its set (background: `bgPart`). */
async function explainJob(quality, meta, name, count, method, bgPart, nsamples) {
  const set = meta.models[name];
  const data = await quality.resolveSource({ path: join(DATA_DIR, `${set}_X.parquet`) }, DATA_DIR);
  const background = await quality.resolveSource({ path: join(DATA_DIR, `${set}_${bgPart}.parquet`) }, DATA_DIR, 'background');
  return { model: { ref: name, path: join(DATA_DIR, `${name}.onnx`) }, data, background, rows: `0:${count}`, method, ...(nsamples ? { nsamples } : {}), seed: 0 };
}

async function measureKernel(api, quality, meta, rows, checks) {
  const out = {};
  const nsamples = options.nsamples ? Number(options.nsamples) : undefined;
  for (const name of KERNEL_MODELS) {
    const set = meta.models[name];
    const X = firstRows(readNpy(join(DATA_DIR, `${set}_X.npy`)), KERNEL_ROWS);
    const bg = readNpy(join(DATA_DIR, `${set}_bg.npy`));
    const bytes = readFileSync(join(DATA_DIR, `${name}.onnx`));
    const runner = await api.openModel(bytes, name);
    try {
      const { ref } = api.chooseOutput(runner, undefined, bytes, name);
      // The background as computeExplanation takes it (100 rows: as they are, weights 1).
      const summary = api.summarizeBackground(bg.data, bg.rows, bg.cols, api.KERNEL_BACKGROUND_ROWS, 0);
      await api.kernelShap(runner, X.data.subarray(0, X.cols), 1, X.cols, summary.data, summary.rows, ref, { nsamples, seed: 0, backgroundWeights: summary.weights }); // warm
      const result = await timed(REPEATS, () =>
        api.kernelShap(runner, X.data, X.rows, X.cols, summary.data, summary.rows, ref, { nsamples, seed: 0, backgroundWeights: summary.weights }),
      );
      out[name] = { ...result, X, M: X.cols };
      rows.push({ method: 'kernel', model: name, side: 'Opsbook kernelShap (in-process)', seconds: result.seconds, note: `${cpuNote(result.cpu)}; ${X.rows} rows x ${summary.rows} bg, nsamples ${result.last.nsamples}; ${each(result.all)}` });
      const add = additivity(result.last.values, result.last.base, result.last.predictions, X.rows, X.cols);
      checks.push({ what: `kernel ${name}: Opsbook base + sum = f(x)`, value: add, limit: 1e-6 });
    } finally {
      await runner.release();
    }
    const job = await explainJob(quality, meta, name, KERNEL_ROWS, 'kernel', 'bg', nsamples);
    const whole = await timed(REPEATS, () => api.explainModel(job, { inProcess: true }));
    out[name].explainModel = whole;
    rows.push({ method: 'kernel', model: name, side: 'Opsbook explainModel (Parquet in, inProcess)', seconds: whole.seconds, note: `${cpuNote(whole.cpu)}; ${each(whole.all)}` });
    const viaJob = maxDiff(flat(whole.last.values), out[name].last.values, X.rows * X.cols);
    checks.push({ what: `kernel ${name}: explainModel = kernelShap (relative)`, value: viaJob.relative, limit: 1e-9 });
  }
  return out;
}

async function measureLime(api, quality, meta, rows) {
  const name = LIME_MODEL;
  const set = meta.models[name];
  const X = firstRows(readNpy(join(DATA_DIR, `${set}_X.npy`)), LIME_ROWS);
  const train = readNpy(join(DATA_DIR, `${set}_train.npy`));
  const bytes = readFileSync(join(DATA_DIR, `${name}.onnx`));
  const featureNames = Array.from({ length: X.cols }, (_, j) => `f${j}`);
  const runner = await api.openModel(bytes, name);
  let result;
  try {
    const { ref } = api.chooseOutput(runner, undefined, bytes, name);
    const run = (n) => api.limeTabular(runner, X.data, n, X.cols, train.data, train.rows, ref, { numSamples: 5000, numFeatures: 10, seed: 0, featureNames });
    await run(1); // warm
    result = await timed(REPEATS, () => run(X.rows));
    rows.push({ method: 'lime', model: name, side: 'Opsbook limeTabular (in-process)', seconds: result.seconds, note: `${cpuNote(result.cpu)}; ${X.rows} rows, 5,000 samples, ${train.rows} training rows; ${each(result.all)}` });
  } finally {
    await runner.release();
  }
  const job = await explainJob(quality, meta, name, LIME_ROWS, 'lime', 'train');
  const whole = await timed(REPEATS, () => api.explainModel(job, { inProcess: true }));
  rows.push({ method: 'lime', model: name, side: 'Opsbook explainModel (Parquet in, inProcess)', seconds: whole.seconds, note: `${cpuNote(whole.cpu)}; ${each(whole.all)}` });
  return { ...result, X, featureNames };
}

async function runPeers() {
  const folder = mkdtempSync(join(tmpdir(), 'opsbook-bench-explain-peers-'));
  const file = join(folder, 'peers.json');
  try {
    const args = [join(root, 'bench', 'explain', 'peers.py'), DATA_DIR, '--out', file, '--tree-rows', String(TREE_ROWS), '--kernel-rows', String(KERNEL_ROWS),
      '--lime-rows', String(LIME_ROWS), '--repeats', String(REPEATS)];
    if (options.nsamples) args.push('--nsamples', options.nsamples);
    for (const skip of ['tree', 'kernel', 'lime']) if (options[`skip-${skip}`]) args.push(`--skip-${skip}`);
    const { code, stderr } = await runChild(PYTHON, args);
    if (code !== 0) throw new Error(`peers.py exit ${code}: ${stderr.slice(-3000)}`);
    return JSON.parse(readFileSync(file, 'utf8'));
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

function peerRows(peers, rows) {
  for (const name of TREE_MODELS) {
    const p = peers.tree?.[name];
    if (!p) continue;
    rows.push({ method: 'tree', model: name, side: "shap TreeExplainer interventional (C++)", seconds: median(p.seconds), note: `${cpuNote(median(p.cpu_seconds))}; construct ${median(p.construct_seconds).toFixed(3)} s apart; ${each(p.seconds)}` });
  }
  for (const name of KERNEL_MODELS) {
    const p = peers.kernel?.[name];
    if (!p) continue;
    const fs = Object.entries(p.f_seconds).map(([k, v]) => `${k} ${v.toFixed(3)} s`).join(', ');
    rows.push({ method: 'kernel', model: name, side: `shap KernelExplainer, f = ${p.f}`, seconds: median(p.seconds), note: `${cpuNote(median(p.cpu_seconds))}; nsamples ${p.nsamples}; f on one row's batch: ${fs}; ${each(p.seconds)}` });
  }
  const p = peers.lime?.[LIME_MODEL];
  if (p) {
    const fs = Object.entries(p.f_seconds).map(([k, v]) => `${k} ${(v * 1000).toFixed(2)} ms`).join(', ');
    rows.push({ method: 'lime', model: LIME_MODEL, side: `lime LimeTabularExplainer, f = ${p.f}`, seconds: median(p.seconds), note: `${cpuNote(median(p.cpu_seconds))}; f on 5,000 rows: ${fs}; ${each(p.seconds)}` });
  }
}

/** Agreement of Opsbook's results with the peers' on the same rows. */
function compare(mine, peers, checks) {
  for (const name of TREE_MODELS) {
    const m = mine.tree?.[name];
    const p = peers.tree?.[name];
    if (!m || !p) continue;
    const d = maxDiff(m.last.values, flat(p.values), m.X.rows * m.M);
    checks.push({ what: `tree ${name}: max |diff| / max |shap value|`, value: d.relative, limit: 1e-5 });
    checks.push({ what: `tree ${name}: |base - shap expected_value| / max |value|`, value: Math.abs(m.last.base[0] - p.base) / d.scale, limit: 1e-5 });
  }
  for (const name of KERNEL_MODELS) {
    const m = mine.kernel?.[name];
    const p = peers.kernel?.[name];
    if (!m || !p) continue;
    const n = m.X.rows * m.M;
    const values = flat(p.values);
    const d = maxDiff(m.last.values, values, n);
    checks.push({ what: `kernel ${name}: max |diff| / max |shap value| (sampled coalitions)`, value: d.relative, limit: KERNEL_TOLERANCE });
    checks.push({ what: `kernel ${name}: shap's base + sum = its f(x)`, value: additivity(values, p.base, p.predictions, m.X.rows, m.M), limit: 1e-6 });
    checks.push({ what: `kernel ${name}: f(x) Opsbook vs peer (float32 ONNX vs ${p.f})`, value: maxDiff(m.last.predictions, p.predictions, m.X.rows).diff, limit: 1e-4, info: true });
  }
  const l = mine.lime;
  const p = peers.lime?.[LIME_MODEL];
  if (l && p) {
    let overlap = 0;
    let worst = 5;
    l.last.lime.forEach((row, r) => {
      const ours = new Set(row.weights.slice(0, 5).map((w) => l.featureNames.indexOf(w.feature)));
      const theirs = [...p.rows[r].weights].sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, 5).map(([j]) => j);
      const common = theirs.filter((j) => ours.has(j)).length;
      overlap += common;
      worst = Math.min(worst, common);
    });
    const rows = l.last.lime.length;
    checks.push({ what: `lime ${LIME_MODEL}: mean top-5 overlap with lime's (of 5; worst row ${worst})`, value: overlap / rows, limit: 4, atLeast: true });
  }
}

async function main() {
  if (!existsSync(EXPLAIN) || !existsSync(CLI)) throw new Error(`${EXPLAIN} or ${CLI} is missing: run make build first`);
  process.stdout.write(`load average at start: ${load()} (${cpus().length} CPUs)\n`);
  const meta = await generate();
  process.stdout.write(`data and models: ${DATA_DIR} (${meta.features} features, ${meta.background_rows} background rows; shap ${meta.versions.shap}, lime ${meta.versions.lime}, scikit-learn ${meta.versions.sklearn}, lightgbm ${meta.versions.lightgbm})\n`);
  const api = require(EXPLAIN);
  const quality = require(join(root, 'src', 'dist', 'quality', 'index.js'));
  const rows = [];
  const checks = [];
  const failures = [];
  const mine = {};
  const step = async (label, action) => {
    try {
      await action();
      process.stdout.write(`${label} done (load ${load()})\n`);
    } catch (error) {
      failures.push(`${label}: ${error.stack ?? error.message}`);
    }
  };
  if (!options['skip-tree']) await step('Opsbook TreeSHAP', async () => (mine.tree = await measureTree(api, meta, rows, checks)));
  if (!options['skip-tree'] && !options['skip-cli']) await step('Opsbook CLI', () => measureCli(meta, rows));
  if (!options['skip-kernel']) await step('Opsbook KernelSHAP', async () => (mine.kernel = await measureKernel(api, quality, meta, rows, checks)));
  if (!options['skip-lime']) await step('Opsbook LIME', async () => (mine.lime = await measureLime(api, quality, meta, rows)));
  let peers = {};
  if (!options['skip-peers']) await step('peers (shap, lime)', async () => (peers = await runPeers()));
  peerRows(peers, rows);
  compare(mine, peers, checks);

  const fmt = (s) => (s === undefined ? '-' : s.toFixed(3));
  process.stdout.write(`\nmedian of ${REPEATS} (seconds; KernelSHAP and LIME peers: one run); load average at end: ${load()}\n\n`);
  process.stdout.write(`${'method'.padEnd(7)} ${'model'.padEnd(7)} ${'what'.padEnd(50)} ${'s'.padStart(8)}  notes\n`);
  const order = { tree: 0, kernel: 1, lime: 2 };
  const sorted = [...rows].sort((a, b) => order[a.method] - order[b.method] || [...TREE_MODELS, ...KERNEL_MODELS].indexOf(a.model) - [...TREE_MODELS, ...KERNEL_MODELS].indexOf(b.model));
  for (const row of sorted) process.stdout.write(`${row.method.padEnd(7)} ${row.model.padEnd(7)} ${row.side.padEnd(50)} ${fmt(row.seconds).padStart(8)}  ${row.note ?? ''}\n`);

  // Ratio Opsbook / peer per model; the goal holds per model (goal: the largest ratio allowed).
  const goals = [
    { method: 'tree', models: TREE_MODELS, label: 'TreeSHAP: Opsbook / shap C++', goal: 1, mine: (n) => mine.tree?.[n]?.seconds, theirs: (n) => peers.tree?.[n] && median(peers.tree[n].seconds) },
    { method: 'kernel', models: KERNEL_MODELS, label: 'KernelSHAP: kernelShap / shap', goal: 0.1, mine: (n) => mine.kernel?.[n]?.seconds, theirs: (n) => peers.kernel?.[n] && median(peers.kernel[n].seconds) },
    { method: 'kernel', models: KERNEL_MODELS, label: 'KernelSHAP: explainModel / shap', mine: (n) => mine.kernel?.[n]?.explainModel.seconds, theirs: (n) => peers.kernel?.[n] && median(peers.kernel[n].seconds) },
    { method: 'lime', models: [LIME_MODEL], label: 'LIME: limeTabular / lime', goal: 0.2, mine: () => mine.lime?.seconds, theirs: () => peers.lime?.[LIME_MODEL] && median(peers.lime[LIME_MODEL].seconds) },
  ];
  process.stdout.write('\nratios Opsbook / peer (below 1: Opsbook is faster), per model\n');
  const verdicts = [];
  for (const g of goals) {
    const parts = [];
    let met = true;
    let any = false;
    for (const name of g.models) {
      const a = g.mine(name);
      const b = g.theirs(name);
      if (a === undefined || b === undefined) continue;
      any = true;
      const ratio = a / b;
      if (g.goal !== undefined && ratio > g.goal) met = false;
      parts.push(`${name} ${ratio.toFixed(3)} (${(b / a).toFixed(1)}x)`);
    }
    if (!any) continue;
    const goal = g.goal === undefined ? '' : `  goal <= ${g.goal}: ${met ? 'MET' : 'MISSED'}`;
    process.stdout.write(`  ${g.label.padEnd(34)} ${parts.join(', ')}${goal}\n`);
    if (g.goal !== undefined) verdicts.push(`${g.label.split(':')[0]} ${met ? 'MET' : 'MISSED'}`);
  }
  if (verdicts.length) process.stdout.write(`goals: ${verdicts.join('; ')}\n`);

  process.stdout.write('\nagreement\n');
  for (const c of checks) {
    const ok = c.atLeast ? c.value >= c.limit : c.value <= c.limit;
    const bound = `${c.atLeast ? '>=' : '<='} ${c.limit}`;
    process.stdout.write(`  ${c.what.padEnd(70)} ${c.value.toExponential(2).padStart(9)}  (${bound}${c.info ? ', informative' : ''}) ${ok ? 'ok' : c.info ? 'note' : 'FAIL'}\n`);
    if (!ok && !c.info) failures.push(`${c.what}: ${c.value} (want ${bound})`);
  }
  if (failures.length) {
    process.stdout.write(`\nFAILED: ${failures.join('\n  ')}\n`);
    process.exitCode = 1;
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exitCode = 1;
});
