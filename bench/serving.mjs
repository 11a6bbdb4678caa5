// Serving (issue 9): Opsbook's V2 inference server against FastAPI + uvicorn + Python onnxruntime and
// against the floor (onnxruntime-node's session.run() with no HTTP), same run, same machine, same
// model, same client. bench/serving/generate.py writes the model once into --data-dir: a
// GradientBoostingRegressor (100 trees of depth 3) on 20 FP32 features; every request is the same
// one-row V2 request (body.json). The sides:
//  (a) `opsbook serve MODEL --foreground` with its default settings (batching on, one worker per core);
//  (b) the same with `--max-batch 1` (batching off);
//  (c) bench/serving/app.py under `uvicorn --workers <cores> --loop uvloop --http httptools
//      --no-access-log` (uvicorn[standard]'s fast loop and parser, one process per core: its
//      recommended production setting), from .venv-bench (`make bench-setup`);
//  (d) the floor: one onnxruntime-node session of the same model in this process, N run() calls of
//      the same one-row input kept in flight (N = the concurrency), no HTTP, no JSON.
//  (e) the HTTP ceiling: a bare node:http server writing the right answer without parsing or running
//      anything, so that the client's and the HTTP stack's share of every number shows;
// The client is autocannon (programmatic, in this process) for (a)-(c): N connections for N = 1, 16
// and 64, each a warm-up (--warmup s) and then a measured run (--duration s). Every side is started
// first and they take turns at each concurrency; with --repeats R, the pass of median req/s counts
// (of an even number, the upper one: of two, the better). Latency is taken per
// response from autocannon's 'response' event (float milliseconds: its own histogram keeps whole
// milliseconds, too coarse for a sub-millisecond goal). Every side's answer to the request is checked
// against Python onnxruntime's first, and any non-2xx answer or socket error fails the benchmark.
// Goals: Opsbook >= 3x FastAPI's req/s at equal or better p99; Opsbook p99 < 1 ms at concurrency 1;
// batching (a) >= 3x the req/s of (b) at concurrency 64. Prints the load average beside the numbers:
// the ratios within one run are what count on a shared machine.
// Uses the built CLI in src/dist (run `make build` first).
//   node bench/serving.mjs [--duration 10] [--warmup 2] [--concurrency 1,16,64] [--repeats 1] [--data-dir DIR]
//     [--serve-args="--workers 1"] [--python-workers N] [--skip-opsbook] [--skip-nobatch] [--skip-peer] [--skip-ceiling] [--skip-floor] [--no-request-log]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const root = dirname(dirname(fileURLToPath(import.meta.url)));
const CLI = join(root, 'src', 'dist', 'cli', 'main.js');
const PYTHON = join(root, '.venv', 'bin', 'python');
const PEER_PYTHON = join(root, '.venv-bench', 'bin', 'python');
const autocannon = require('autocannon');

const { values: options } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '1,16,64' },
    'data-dir': { type: 'string' },
    'python-workers': { type: 'string' },
    'skip-peer': { type: 'boolean', default: false },
    'skip-floor': { type: 'boolean', default: false },
    'skip-ceiling': { type: 'boolean', default: false },
    'skip-nobatch': { type: 'boolean', default: false },
    'skip-opsbook': { type: 'boolean', default: false },
    'no-request-log': { type: 'boolean', default: false },
    repeats: { type: 'string', default: '1' },
    'serve-args': { type: 'string', default: '' },
  },
});
const DURATION = Number(options.duration);
const WARMUP = Number(options.warmup);
const LEVELS = options.concurrency.split(',').map(Number);
const REPEATS = Number(options.repeats);
const CORES = cpus().length;
const PY_WORKERS = Number(options['python-workers'] ?? CORES);
// The generator's version is in the folder's name: change it when the data or the model change.
const DATA_DIR = options['data-dir'] ?? join(tmpdir(), 'opsbook-bench-serving-v1');
const TOLERANCE = 1e-5;

const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');

/** The q-quantile (0..1) of sorted values, nearest rank. */
function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** A growable list of float latencies (ms): at 50,000 req/s a 10 s run holds 500,000 of them. */
class Latencies {
  constructor() {
    this.values = new Float64Array(1 << 16);
    this.length = 0;
  }
  push(ms) {
    if (this.length === this.values.length) {
      const next = new Float64Array(this.values.length * 2);
      next.set(this.values);
      this.values = next;
    }
    this.values[this.length++] = ms;
  }
  summary(seconds) {
    const sorted = this.values.slice(0, this.length).sort();
    return { count: this.length, rps: this.length / seconds, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1] };
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function runChild(command, args, env = process.env) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function ensureData() {
  if (existsSync(join(DATA_DIR, 'meta.json'))) return;
  process.stdout.write(`generating the model into ${DATA_DIR} ...\n`);
  const { code, stderr } = await runChild(PYTHON, [join(root, 'bench', 'serving', 'generate.py'), DATA_DIR]);
  if (code !== 0) throw new Error(`generate.py exit ${code}: ${stderr.slice(-3000)}`);
}

/** A child process in its own process group, so that stopping it stops what it started (uvicorn's workers). */
function startGroup(command, args, opts) {
  const child = spawn(command, args, { ...opts, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk.toString()).slice(-5000)));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    exited,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** `opsbook serve MODEL --foreground`: waits for its {"event":"ready"} line and returns the url. */
async function startOpsbook(extra, workdir) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`make build\` first`);
  // --serve-args adds options to both Opsbook sides (e.g. "--workers 1"), for trying settings.
  const more = options['serve-args'].split(' ').filter(Boolean);
  const args = [CLI, 'serve', join(DATA_DIR, 'model.onnx'), '--name', 'model', '--foreground', '--port', '0', ...more, ...extra];
  if (options['no-request-log']) args.push('--no-request-log');
  const server = startGroup(process.execPath, args, { cwd: workdir });
  const ready = new Promise((resolve, reject) => {
    let buffer = '';
    server.child.stdout.on('data', (chunk) => {
      buffer += chunk.toString();
      let newline;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        let event;
        try {
          event = JSON.parse(line);
        } catch {
          continue;
        }
        if (event.event === 'ready') resolve({ url: event.url, device: event.device, workers: event.workers });
        if (event.event === 'fatal') reject(new Error(`opsbook serve: ${event.error}`));
      }
    });
    server.exited.then(({ code }) => reject(new Error(`opsbook serve exited ${code}: ${server.stderr()}`)));
  });
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('opsbook serve: no ready event in 60 s')), 60_000).unref());
  try {
    return { server, ...(await Promise.race([ready, timeout])) };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

async function startPeer() {
  if (!existsSync(PEER_PYTHON)) throw new Error(`${PEER_PYTHON} is missing: run \`make bench-setup\``);
  const port = await freePort();
  const args = ['-m', 'uvicorn', 'app:app', '--host', '127.0.0.1', '--port', String(port), '--workers', String(PY_WORKERS),
    '--loop', 'uvloop', '--http', 'httptools', '--no-access-log', '--log-level', 'warning'];
  const server = startGroup(PEER_PYTHON, args, {
    cwd: join(root, 'bench', 'serving'),
    env: { ...process.env, OPSBOOK_BENCH_MODEL: join(DATA_DIR, 'model.onnx'), OPSBOOK_BENCH_NAME: 'model' },
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`uvicorn exited ${server.child.exitCode}: ${server.stderr()}`);
    try {
      const response = await fetch(`${url}/v2/health/ready`);
      if (response.ok) {
        // Every worker imports the app (and loads its session) on its own; give the others time.
        await new Promise((resolve) => setTimeout(resolve, 2000));
        return { server, url };
      }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await server.stop();
  throw new Error('uvicorn did not answer in 60 s');
}

/**
 * The HTTP ceiling of this machine and client: a node:http server in its own process that reads the
 * request and writes a fixed V2 answer (the right one) without parsing or inference. No server that
 * parses and runs the model can beat it on one process; when it is near the others, the client and
 * the HTTP stack are what is measured.
 */
async function startCeiling(expected) {
  const answer = JSON.stringify({ model_name: 'model', model_version: '1', outputs: [{ name: 'variable', datatype: 'FP32', shape: [1, 1], data: expected }] });
  const script = `const http = require('node:http'); const answer = ${JSON.stringify(answer)};
    const server = http.createServer((req, res) => { req.on('data', () => {}); req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(answer) }); res.end(answer); }); });
    server.keepAliveTimeout = 60000;
    server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ event: 'ready', url: 'http://127.0.0.1:' + server.address().port })));
    process.on('SIGTERM', () => process.exit(0));`;
  const server = startGroup(process.execPath, ['-e', script], {});
  const url = await new Promise((resolve, reject) => {
    server.child.stdout.once('data', (chunk) => resolve(JSON.parse(chunk.toString()).url));
    server.exited.then(({ code }) => reject(new Error(`ceiling server exited ${code}: ${server.stderr()}`)));
  });
  return { server, url };
}

/** The side answers the bench request with Python onnxruntime's output. */
async function check(url, body, expected, label) {
  for (let i = 0; i < 3; i++) {
    const response = await fetch(`${url}/v2/models/model/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`${label}: status ${response.status}: ${text}`);
    const answer = JSON.parse(text);
    const data = answer.outputs?.[0]?.data;
    if (!Array.isArray(data) || data.length !== expected.length || data.some((v, j) => Math.abs(v - expected[j]) > TOLERANCE * Math.max(1, Math.abs(expected[j])))) {
      throw new Error(`${label}: answered ${text}, expected outputs[0].data ${JSON.stringify(expected)}`);
    }
  }
}

function cannon(url, body, connections, seconds, latencies) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      { url: `${url}/v2/models/model/infer`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections, pipelining: 1, duration: seconds },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    if (latencies) instance.on('response', (_client, _status, _bytes, ms) => latencies.push(ms));
  });
}

/** One side at one concurrency over HTTP: a warm-up, then the measured run. */
async function measureHttp(label, url, body, connections) {
  await cannon(url, body, connections, WARMUP);
  const latencies = new Latencies();
  const started = performance.now();
  const result = await cannon(url, body, connections, DURATION, latencies);
  const seconds = (performance.now() - started) / 1000;
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`${label} at ${connections}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
  // autocannon's window is `duration` seconds from its start; responses counted over it.
  return { ...latencies.summary(Math.min(seconds, DURATION)), load: load() };
}

/** The floor: one session of the model in this process; `measure(N)` keeps N run() calls in flight. */
async function openFloor(rows, expected) {
  const ort = require(require.resolve('onnxruntime-node', { paths: [join(root, 'src')] }));
  const meta = JSON.parse(readFileSync(join(DATA_DIR, 'meta.json'), 'utf8'));
  const session = await ort.InferenceSession.create(join(DATA_DIR, 'model.onnx'));
  const feeds = { [meta.input]: new ort.Tensor('float32', Float32Array.from(rows[0]), [1, meta.features]) };
  const first = await session.run(feeds);
  const got = Array.from(first[meta.output].data);
  if (got.some((v, j) => Math.abs(v - expected[j]) > TOLERANCE * Math.max(1, Math.abs(expected[j])))) throw new Error(`floor: ${got} != ${expected}`);
  const loop = async (seconds, latencies, inFlight) => {
    const until = performance.now() + seconds * 1000;
    const lane = async () => {
      while (performance.now() < until) {
        const t = performance.now();
        await session.run(feeds);
        latencies?.push(performance.now() - t);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
  };
  return {
    async measure(inFlight) {
      await loop(WARMUP, null, inFlight);
      const latencies = new Latencies();
      const started = performance.now();
      await loop(DURATION, latencies, inFlight);
      return { ...latencies.summary((performance.now() - started) / 1000), load: load() };
    },
    release: () => session.release(),
  };
}

const ms = (v) => (Number.isFinite(v) ? v.toFixed(3) : '-');
const fmtRow = (r) => `${Math.round(r.rps)} req/s, p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms (${r.count} answers; load ${r.load})`;
const ratio = (a, b) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : '-');

async function main() {
  await ensureData();
  const body = readFileSync(join(DATA_DIR, 'body.json'), 'utf8');
  const rows = JSON.parse(readFileSync(join(DATA_DIR, 'rows.json'), 'utf8'));
  const expected = JSON.parse(readFileSync(join(DATA_DIR, 'expected.json'), 'utf8'));
  const meta = JSON.parse(readFileSync(join(DATA_DIR, 'meta.json'), 'utf8'));
  process.stdout.write(`serving bench: ${meta.model}; one-row V2 JSON request (${body.length} bytes); ${CORES} cores; ` +
    `concurrency ${LEVELS.join('/')}, ${WARMUP} s warm-up + ${DURATION} s each; load ${load()}\n`);
  // Every side is started first and measured in turn at each concurrency (REPEATS passes), so that
  // the sides compared at one concurrency ran minutes apart at most on a machine whose load moves;
  // the servers not being measured sit idle.
  const sides = {};
  const stops = [];
  const workdir = mkdtempSync(join(tmpdir(), 'opsbook-bench-serving-'));
  try {
    const runs = options['skip-opsbook'] ? [] : [['opsbook', 'Opsbook serve (default)', []]];
    if (!options['skip-nobatch'] && !options['skip-opsbook']) runs.push(['nobatch', 'Opsbook serve --max-batch 1', ['--max-batch', '1']]);
    for (const [key, label, extra] of runs) {
      const started = await startOpsbook(extra, workdir);
      stops.push(() => started.server.stop());
      process.stdout.write(`${label}: ${started.url} (device ${started.device})\n`);
      await check(started.url, body, expected, label).catch((error) => {
        throw new Error(`${label}: ${error.message} (${error.cause ?? ''}); server stderr: ${started.server.stderr()}`);
      });
      sides[key] = { label, measure: (c) => measureHttp(label, started.url, body, c), runs: {} };
    }
    if (!options['skip-peer']) {
      const label = `FastAPI + uvicorn (${PY_WORKERS} workers, uvloop, httptools) + onnxruntime`;
      const peer = await startPeer();
      stops.push(() => peer.server.stop());
      process.stdout.write(`${label}: ${peer.url}\n`);
      await check(peer.url, body, expected, label);
      sides.fastapi = { label, measure: (c) => measureHttp('FastAPI', peer.url, body, c), runs: {} };
    }
    if (!options['skip-ceiling']) {
      const label = 'ceiling: node:http, fixed answer, no inference';
      const started = await startCeiling(expected);
      stops.push(() => started.server.stop());
      sides.ceiling = { label, measure: (c) => measureHttp('ceiling', started.url, body, c), runs: {} };
    }
    if (!options['skip-floor']) {
      const floor = await openFloor(rows, expected);
      stops.push(() => floor.release());
      sides.floor = { label: 'floor: onnxruntime-node run(), no HTTP', measure: (c) => floor.measure(c), runs: {} };
    }
    for (let pass = 0; pass < REPEATS; pass++) {
      for (const c of LEVELS) {
        for (const [key, side] of Object.entries(sides)) {
          const result = await side.measure(c);
          (side.runs[c] ??= []).push(result);
          process.stdout.write(`  ${key.padEnd(8)} c=${String(c).padEnd(3)} ${fmtRow(result)}\n`);
        }
      }
    }
  } finally {
    for (const stop of stops.reverse()) await stop();
    rmSync(workdir, { recursive: true, force: true });
  }
  // Of several passes, the one of median req/s (its p50 and p99 with it; of two, the better).
  for (const side of Object.values(sides)) {
    side.results = {};
    for (const c of LEVELS) side.results[c] = [...side.runs[c]].sort((x, y) => x.rps - y.rps)[Math.floor(side.runs[c].length / 2)];
  }

  process.stdout.write(`\n${'side'.padEnd(66)} ${'conc'.padStart(4)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}  load\n`);
  for (const side of Object.values(sides)) {
    for (const c of LEVELS) {
      const r = side.results[c];
      process.stdout.write(`${side.label.padEnd(66)} ${String(c).padStart(4)} ${String(Math.round(r.rps)).padStart(8)} ${ms(r.p50).padStart(8)} ${ms(r.p99).padStart(8)}  ${r.load}\n`);
    }
  }
  const goals = [];
  const a = sides.opsbook?.results;
  const f = sides.fastapi?.results;
  const b = sides.nobatch?.results;
  const floor = sides.floor?.results;
  const ceiling = sides.ceiling?.results;
  process.stdout.write('\n');
  for (const c of LEVELS) {
    if (a && f) {
      const line = `Opsbook / FastAPI at ${c}: req/s ${ratio(a[c].rps, f[c].rps)}; p99 ${ms(a[c].p99)} vs ${ms(f[c].p99)} ms`;
      goals.push({ line, met: a[c].rps >= 3 * f[c].rps && a[c].p99 <= f[c].p99, goal: '>= 3x at equal or better p99' });
    }
    if (a && ceiling) process.stdout.write(`Opsbook / HTTP ceiling at ${c}: req/s ${ratio(a[c].rps, ceiling[c].rps)}; FastAPI / ceiling ${f ? ratio(f[c].rps, ceiling[c].rps) : '-'}\n`);
    if (a && floor) process.stdout.write(`Opsbook / floor at ${c}: req/s ${ratio(a[c].rps, floor[c].rps)}; p50 ${ms(a[c].p50)} vs ${ms(floor[c].p50)} ms\n`);
  }
  if (a && a[1]) goals.push({ line: `Opsbook p99 at concurrency 1: ${ms(a[1].p99)} ms`, met: a[1].p99 < 1, goal: '< 1 ms' });
  const top = LEVELS.includes(64) ? 64 : LEVELS[LEVELS.length - 1];
  if (a && b) goals.push({ line: `batching at ${top}: default / --max-batch 1 req/s ${ratio(a[top].rps, b[top].rps)} (${Math.round(a[top].rps)} / ${Math.round(b[top].rps)})`, met: a[top].rps >= 3 * b[top].rps, goal: '>= 3x' });
  for (const g of goals) process.stdout.write(`${g.line}  [goal ${g.goal}: ${g.met ? 'met' : 'NOT met'}]\n`);
  process.stdout.write(`load average at the end: ${load()}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
