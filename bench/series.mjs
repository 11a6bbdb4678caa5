// Reads for charts and compare, against the reads they replace, in one run on one store:
//
//   getMetricHistory   one metric of 1,000,000 points downsampled in the store to 2000 (min/max
//                      buckets plus first and last), through HTTP to a real daemon (in this process,
//                      on 127.0.0.1, JSON included; also with x=time and with max_points=100,000),
//                      then through RunStore on the same store
//   peer: every point  the same metric read whole (SELECT ... ORDER BY step): what a chart pays
//                      without downsampling
//   getMetricSeries    one key of 20 runs of 50,000 points each, in one request
//   compareRuns        500 runs of 10 params and 5 metrics, through RunStore and HTTP
//   peer: getRun × 500 the same 500 runs read one by one over HTTP (what a compare view pays without it)
//
// Uses the built modules in src/dist (run `make build` first). Prints medians of --repeats (5): wall
// time, and the CPU time of this process (the daemon runs in it), which others' load does not move.
//   node bench/series.mjs [--points 1000000] [--runs 500] [--repeats 5]
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const { Store, RunStore, startDaemon, OpsbookClient } = require('../src/dist/index.js');

const { values: args } = parseArgs({
  options: {
    points: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '500' },
    repeats: { type: 'string', default: '5' },
  },
});
const POINTS = Number(args.points);
const RUNS = Number(args.runs);
const REPEATS = Number(args.repeats);
const BATCH = 50_000;

/** CPU time of this process (DuckDB's threads and the in-process daemon included), in ms. */
function cpuMs() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * Median wall time of `measure`, in ms, with the median CPU time of this process beside it: on a
 * machine others load, the CPU time is the figure that does not move with them.
 */
async function median(measure) {
  const times = [];
  const cpus = [];
  for (let i = 0; i < REPEATS; i += 1) {
    const cpu = cpuMs();
    const started = performance.now();
    await measure();
    times.push(performance.now() - started);
    cpus.push(cpuMs() - cpu);
  }
  const middle = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
  return { wall: middle(times), cpu: middle(cpus) };
}

function line(name, { wall, cpu }, peer) {
  const ratio = peer === undefined ? '' : `  (${(peer.wall / wall).toFixed(1)}× faster than the peer)`;
  process.stdout.write(`${name.padEnd(52)} ${wall.toFixed(1).padStart(9)} ms wall ${cpu.toFixed(1).padStart(9)} ms CPU${ratio}\n`);
}

const workspace = mkdtempSync(join(tmpdir(), 'opsbook-bench-series-'));
const runtime = mkdtempSync(join(tmpdir(), 'opsbook-bench-series-runtime-'));
const daemon = await startDaemon({ workspace, port: 0, runtimeDir: runtime });
try {
  // The daemon owns the store while it runs; the RunStore measurements come after it stops.
  const client = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token });
  process.stdout.write(`store: ${workspace}\nlogging ${POINTS} points…\n`);
  const big = await client.createRun({ experiment: 'bench', name: 'big' });
  // Logged over HTTP in batches of 50,000, as a kernel would.
  for (let offset = 0; offset < POINTS; offset += BATCH) {
    const size = Math.min(BATCH, POINTS - offset);
    await client.logMetrics(
      big.id,
      Array.from({ length: size }, (_, i) => {
        const step = offset + i;
        return { key: 'loss', value: Math.sin(step / 1000) + (step === Math.floor(POINTS / 3) ? 5 : 0), step, timestamp: 1_700_000_000_000 + step };
      }),
    );
  }
  const history = await client.metricHistory(big.id, { key: 'loss' });
  const series = history.series[0];
  if (series.count !== POINTS || series.steps.length > 2000 || Math.max(...series.values) < 5) {
    throw new Error(`downsampled series is wrong: count ${series.count}, ${series.steps.length} points, max ${Math.max(...series.values)}`);
  }
  // The API caps max_points at 100,000; the peer that reads every point is measured on the store below.
  const peer = await median(() => client.metricHistory(big.id, { key: 'loss', max_points: 100_000 }));
  const http = await median(() => client.metricHistory(big.id, { key: 'loss' }));
  const httpTime = await median(() => client.metricHistory(big.id, { key: 'loss', x: 'time' }));
  line(`getMetricHistory ${POINTS} → ≤2000 (HTTP)`, http);
  line(`getMetricHistory ${POINTS} → ≤2000, x=time (HTTP)`, httpTime);
  line(`getMetricHistory ${POINTS} → ≤100,000 (HTTP)`, peer);

  process.stdout.write(`logging ${RUNS} runs for compare and 20 × 50,000 points for overlays…\n`);
  const overlayIds = [];
  for (let r = 0; r < 20; r += 1) {
    const run = await client.createRun({ experiment: 'bench-overlay', name: `o${r}` });
    overlayIds.push(run.id);
    await client.logMetrics(
      run.id,
      Array.from({ length: 50_000 }, (_, step) => ({ key: 'loss', value: Math.cos(step / (r + 1)), step, timestamp: 1_700_000_000_000 + step })),
    );
  }
  const overlay = await median(() => client.metricSeries(overlayIds, 'loss'));
  line('getMetricSeries 20 runs × 50,000 → ≤2000 each (HTTP)', overlay);

  const ids = [];
  for (let r = 0; r < RUNS; r += 1) {
    const params = Object.fromEntries(Array.from({ length: 10 }, (_, p) => [`p${p}`, String(p < 3 ? r % 7 : 1)]));
    const run = await client.createRun({ id: randomUUID(), experiment: 'bench-compare', name: `c${r}`, params });
    ids.push(run.id);
    await client.logMetrics(
      run.id,
      Array.from({ length: 5 }, (_, k) => ({ key: `m${k}`, value: r + k, step: 0, timestamp: 1_700_000_000_000 })),
    );
  }
  const compared = await client.compareRuns(ids);
  if (compared.runs.length !== RUNS || compared.differing_params.join() !== 'p0,p1,p2') {
    throw new Error(`compare is wrong: ${compared.runs.length} runs, differing ${compared.differing_params.join()}`);
  }
  const oneByOne = await median(async () => {
    for (const id of ids) await client.getRun(id);
  });
  const compare = await median(() => client.compareRuns(ids));
  line(`compareRuns ${RUNS} runs (HTTP)`, compare, oneByOne);
  line(`peer: getRun × ${RUNS} (HTTP)`, oneByOne);
} finally {
  await daemon.close();
}

// The same reads on the store itself, without HTTP and JSON.
const store = await Store.open(workspace);
try {
  const runs = new RunStore(store);
  const [big] = (await runs.listRuns({ experiment: 'bench' })).runs;
  const direct = await median(() => runs.metricHistory(big.id, { key: 'loss' }));
  const whole = await median(() =>
    store.read((db) => db.all('SELECT step, value FROM metrics WHERE run_id = $1 AND key = $2 ORDER BY step', [big.id, 'loss'])),
  );
  line(`RunStore.metricHistory ${POINTS} → ≤2000`, direct, whole);
  line(`peer: SELECT all ${POINTS} points ORDER BY step`, whole);
  const ids = (await runs.listRuns({ experiment: 'bench-compare', limit: RUNS })).runs.map((run) => run.id);
  line(`RunStore.compareRuns ${ids.length} runs`, await median(() => runs.compareRuns(ids)));
} finally {
  await store.close();
  rmSync(workspace, { recursive: true, force: true });
  rmSync(runtime, { recursive: true, force: true });
}
