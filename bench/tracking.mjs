// Tracking at scale, each measured beside a peer in the same run:
//  - listing 10,000 runs (5 params, 3 metrics, 2 tags each) through the API of a daemon process
//    (goal < 0.2 s), also with a filter, and through the CLI `opsbook runs list --json --limit 10000`
//    (goal < 1 s, process start included); peer: MLflow's `search_runs` over the same 10,000 runs
//    in its sqlite store (bench/tracking/peers.py);
//  - one chart request, getMetricHistory of a 1,000,000-point metric with max_points=2000 (goal < 0.3 s);
//  - the kernel-side cost of logging 100,000 points (goal < 0.2 s) beside MLflow's fastest path, by
//    the functions of bench/log_metrics.py (reused, not repeated).
// Uses the built modules in src/dist (run `make build` first). Prints medians of --repeats (5).
//   node bench/tracking.mjs [--runs 10000] [--points 1000000] [--repeats 5] [--skip-logging] [--seed-only DIR]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { Store, OpsbookClient } = require('../src/dist/index.js');
const { discoveryPath, readDiscovery } = require('../src/dist/daemon/discovery.js');
const CLI = join(root, 'src', 'dist', 'cli', 'main.js');
const PYTHON = join(root, '.venv', 'bin', 'python');

const { values: options } = parseArgs({
  options: {
    runs: { type: 'string', default: '10000' },
    points: { type: 'string', default: '1000000' },
    repeats: { type: 'string', default: '5' },
    'skip-logging': { type: 'boolean', default: false },
    // Seeds this (existing, empty) folder as a workspace and stops: for profiling by hand.
    'seed-only': { type: 'string' },
  },
});
const RUNS = Number(options.runs);
const POINTS = Number(options.points);
const REPEATS = Number(options.repeats);
const FILTER = 'metrics.acc > 0.5 and params.model = "rf"';
const MLFLOW_FILTER = "metrics.acc > 0.5 and params.model = 'rf'";

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function timed(repeats, action) {
  const seconds = [];
  let last;
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    last = await action();
    seconds.push((performance.now() - started) / 1000);
  }
  return { seconds: median(seconds), last };
}

/**
 * The same 10,000 runs the MLflow peer builds (bench/tracking/peers.py uses the same formulas):
 * written with set-based SQL straight into the store's tables, since what is measured is reading.
 * Run i: params lr, model, depth, batch_size, optimizer; metrics acc, loss, f1 with 10 steps each
 * (the summaries the list reads are folded from them as the store's migration 3 does); tags team, stage.
 */
async function seed(workspace) {
  const store = await Store.open(workspace);
  try {
    await store.transaction(async (db) => {
      const base = Date.parse('2026-01-01T00:00:00Z');
      await db.run(`INSERT INTO experiments (id, name, created_ms) VALUES ('bench-experiment', 'bench', ${base})`);
      await db.run(
        `INSERT INTO runs (id, experiment_id, name, status, start_ms, end_ms, source_type, created_seq, starred, notes)
         SELECT uuid()::VARCHAR, 'bench-experiment', 'run-' || i, 'finished', ${base} + i * 1000, ${base} + i * 1000 + 500 + i % 997,
           'api', i + 1, i % 10 = 0, '' FROM range(${RUNS}) t(i)`,
      );
      await db.run(
        `INSERT INTO params (run_id, key, value)
         SELECT id, k, CASE k
             WHEN 'lr' THEN (0.001 * (1 + i % 10))::VARCHAR
             WHEN 'model' THEN ['rf', 'svm', 'mlp'][1 + i % 3]
             WHEN 'depth' THEN (2 + i % 8)::VARCHAR
             WHEN 'batch_size' THEN (16 * (1 + i % 4))::VARCHAR
             ELSE ['adam', 'sgd'][1 + i % 2] END
         FROM (SELECT id, created_seq - 1 AS i FROM runs WHERE experiment_id = 'bench-experiment'),
           (VALUES ('lr'), ('model'), ('depth'), ('batch_size'), ('optimizer')) keys(k)`,
      );
      await db.run(
        `INSERT INTO tags (run_id, key, value)
         SELECT id, k, CASE k WHEN 'team' THEN ['vision', 'tabular'][1 + i % 2] ELSE 'dev' END
         FROM (SELECT id, created_seq - 1 AS i FROM runs WHERE experiment_id = 'bench-experiment'),
           (VALUES ('team'), ('stage')) keys(k)`,
      );
      await db.run(
        `INSERT INTO metrics (run_id, key, value, step, timestamp_ms)
         SELECT id, k, CASE k WHEN 'acc' THEN (i % 100) / 100.0 * s / 9 WHEN 'loss' THEN 1.0 / (1 + s + i % 7) ELSE (i % 50) / 50.0 END,
           s, start_ms + s
         FROM (SELECT id, created_seq - 1 AS i, start_ms FROM runs WHERE experiment_id = 'bench-experiment'),
           (VALUES ('acc'), ('loss'), ('f1')) keys(k), range(10) steps(s)`,
      );
      // The chart's run: one metric of POINTS points; started first, so the 10,000 newest are the others.
      await db.run(
        `INSERT INTO runs (id, experiment_id, name, status, start_ms, end_ms, source_type, created_seq, starred, notes)
         VALUES ('00000000-0000-4000-8000-00000000c4a7', 'bench-experiment', 'long', 'finished', ${base - 60_000}, ${base + POINTS}, 'api', ${RUNS + 1}, false, '')`,
      );
      await db.run(
        `INSERT INTO metrics (run_id, key, value, step, timestamp_ms)
         SELECT '00000000-0000-4000-8000-00000000c4a7', 'loss', sin(s / 1000.0) + (hash(s) % 1000) / 5000.0, s, ${base} + s FROM range(${POINTS}) t(s)`,
      );
      await db.run(
        `INSERT INTO metric_summaries
         SELECT run_id, key, count(*), min(value), max(value), arg_max(value, step), max(step), arg_max(timestamp_ms, step)
         FROM metrics GROUP BY run_id, key`,
      );
    });
  } finally {
    await store.close();
  }
}

function startDaemonProcess(workspace, runtime) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'daemon', '--workspace', workspace], {
      env: { ...process.env, JUPYTER_RUNTIME_DIR: runtime },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk.toString();
      if (out.includes('\n')) {
        const discovery = readDiscovery(discoveryPath(workspace, runtime));
        if (!discovery) reject(new Error(`the daemon announced nothing: ${out}`));
        else resolve({ child, discovery });
      }
    });
    child.once('exit', (code) => reject(new Error(`the daemon exited with ${code} before it was ready`)));
  });
}

function runCli(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    let stderr = '';
    child.stdout.on('data', (chunk) => chunks.push(chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk.toString()));
    child.once('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks).toString()) : reject(new Error(`CLI exit ${code}: ${stderr}`))));
  });
}

function runPeers(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [join(root, 'bench', 'tracking', 'peers.py'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk.toString()));
    child.once('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`peers.py exit ${code}`))));
  });
}

async function main() {
  if (options['seed-only'] !== undefined) {
    await seed(options['seed-only']);
    return;
  }
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run make build first`);
  const workspace = mkdtempSync(join(tmpdir(), 'opsbook-bench-tracking-'));
  const runtime = mkdtempSync(join(tmpdir(), 'opsbook-bench-runtime-'));
  let daemon;
  try {
    process.stdout.write(`seeding ${RUNS.toLocaleString('en')} runs and a ${POINTS.toLocaleString('en')}-point metric…\n`);
    await seed(workspace);
    daemon = await startDaemonProcess(workspace, runtime);
    const client = new OpsbookClient({ baseUrl: daemon.discovery.url, token: daemon.discovery.token });
    await client.listRuns({ limit: 10 }); // warm the connection and the daemon's readers

    const rows = [];
    const all = await timed(REPEATS, () => client.listRuns({ limit: RUNS }));
    if (all.last.runs.length !== RUNS || Object.keys(all.last.runs[RUNS - 1].params).length !== 5) {
      throw new Error(`listRuns gave ${all.last.runs.length} runs, not ${RUNS} with their params`);
    }
    rows.push({ what: `API listRuns limit=${RUNS}`, seconds: all.seconds, goal: 0.2, count: all.last.runs.length });
    const filtered = await timed(REPEATS, () => client.listRuns({ limit: RUNS, filter: FILTER }));
    rows.push({ what: `API listRuns filter=${FILTER}`, seconds: filtered.seconds, count: filtered.last.total });
    const sorted = await timed(REPEATS, () => client.listRuns({ limit: RUNS, sort: 'params.lr', order: 'asc' }));
    rows.push({ what: `API listRuns sort=params.lr`, seconds: sorted.seconds, count: sorted.last.runs.length });
    const env = { ...process.env, JUPYTER_RUNTIME_DIR: runtime };
    const cli = await timed(Math.min(REPEATS, 3), () => runCli(['runs', 'list', '--json', '--limit', String(RUNS), '--workspace', workspace], env));
    rows.push({ what: `CLI runs list --json --limit ${RUNS}`, seconds: cli.seconds, goal: 1, count: JSON.parse(cli.last).runs.length });
    const chart = await timed(REPEATS, () =>
      client.metricHistory('00000000-0000-4000-8000-00000000c4a7', { key: 'loss', max_points: 2000 }),
    );
    const series = chart.last.series[0];
    rows.push({ what: `getMetricHistory ${POINTS.toLocaleString('en')} points, max_points=2000`, seconds: chart.seconds, goal: 0.3, count: series.steps.length });

    process.stdout.write('measuring the peers (MLflow search_runs, logging)…\n');
    const peers = await runPeers(['--runs', String(RUNS), '--repeats', String(Math.min(REPEATS, 3)), ...(options['skip-logging'] ? ['--skip-logging'] : [])]);
    rows.push({ what: `peer: MLflow search_runs max_results=${RUNS}`, seconds: peers.search_all, count: peers.search_all_count });
    rows.push({ what: `peer: MLflow search_runs filter=${MLFLOW_FILTER}`, seconds: peers.search_filtered, count: peers.search_filtered_count });
    if (peers.logging) {
      rows.push({ what: 'opsbook.log_metric x 100,000, in-loop (log_metrics.py)', seconds: peers.logging.opsbook_loop, goal: 0.2, count: 100_000 });
      rows.push({ what: `peer: ${peers.logging.mlflow_fastest_name}, in-loop`, seconds: peers.logging.mlflow_fastest_loop, count: 100_000 });
    }

    process.stdout.write(`\nmedian of ${REPEATS} (CLI and MLflow: ${Math.min(REPEATS, 3)}); MLflow ${peers.mlflow_version}, sqlite store\n\n`);
    process.stdout.write(`${'what'.padEnd(66)} ${'ms'.padStart(9)} ${'goal ms'.padStart(8)} ${'rows'.padStart(7)}\n`);
    for (const row of rows) {
      const ms = (row.seconds * 1000).toFixed(1);
      const goal = row.goal === undefined ? '' : String(row.goal * 1000);
      const flag = row.goal !== undefined && row.seconds > row.goal ? ' OVER' : '';
      process.stdout.write(`${row.what.padEnd(66)} ${ms.padStart(9)} ${goal.padStart(8)} ${String(row.count).padStart(7)}${flag}\n`);
    }
    process.stdout.write('\nratios opsbook / MLflow (below 1: opsbook is faster)\n');
    process.stdout.write(`  list all ${RUNS}: API ${(all.seconds / peers.search_all).toFixed(3)}, CLI ${(cli.seconds / peers.search_all).toFixed(3)}\n`);
    process.stdout.write(`  filtered: API ${(filtered.seconds / peers.search_filtered).toFixed(3)}\n`);
    if (peers.logging) {
      process.stdout.write(`  logging 100,000 points in-loop: ${(peers.logging.opsbook_loop / peers.logging.mlflow_fastest_loop).toFixed(3)}\n`);
    }
    if (filtered.last.total !== peers.search_filtered_count) {
      throw new Error(`the filters disagree: opsbook ${filtered.last.total} runs, MLflow ${peers.search_filtered_count}`);
    }
  } finally {
    if (daemon) {
      daemon.child.kill('SIGTERM');
      await new Promise((resolve) => (daemon.child.exitCode !== null ? resolve() : daemon.child.once('exit', resolve)));
    }
    rmSync(workspace, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exitCode = 1;
});
