// Metric ingestion into the DuckDB store: opsbook's two paths against plain DuckDB peers, all on
// the same 100,000 points, the same `metrics` table (created by the store's own migrations) and a
// fresh workspace per measurement, in one run.
//
//   opsbook RunStore.logMetrics  10 calls of 10,000 points (appender, one transaction each)
//   opsbook HTTP                 10 POST /runs/{id}/metrics of 10,000 to a real daemon (in this
//                                process, on 127.0.0.1), JSON encoding and validation included
//   peer: INSERT ... SELECT range  DuckDB generating the rows itself: the database floor
//   peer: INSERT from a JSON file  the same points written as NDJSON, loaded by one INSERT
//   peer: prepared INSERT loop     one bound INSERT per point, in one transaction (about 100 µs a
//                                point, so measured on the first tenth of the points and scaled)
//
// Uses the built modules in src/dist (run `make build` first). Prints medians of --repeats (3).
//   node bench/ingest.mjs [--points 100000] [--repeats 3]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const { Store, RunStore, startDaemon, OpsbookClient } = require('../src/dist/index.js');

const { values: args } = parseArgs({
  options: { points: { type: 'string', default: '100000' }, repeats: { type: 'string', default: '3' } },
});
const N = Number(args.points);
const REPEATS = Number(args.repeats);
const BATCH = 10_000;
const SLOW = Math.ceil(N / 10);

const points = Array.from({ length: N }, (_, i) => ({ key: `m${i % 4}`, value: Math.sin(i), step: i, timestamp: Date.now() }));
const batches = [];
for (let offset = 0; offset < N; offset += BATCH) batches.push(points.slice(offset, offset + BATCH));

/** A fresh workspace with its store and one run; `measure` gets both and returns elapsed ms. */
async function withStore(measure, expected = N) {
  const workspace = mkdtempSync(join(tmpdir(), 'opsbook-bench-'));
  const store = await Store.open(workspace);
  try {
    const runs = new RunStore(store);
    const run = await runs.createRun({});
    const ms = await measure(store, runs, run.id, workspace);
    await check(store, run.id, expected);
    return ms;
  } finally {
    await store.close();
    rmSync(workspace, { recursive: true, force: true });
  }
}

async function check(store, runId, expected) {
  const [row] = await store.exclusive((db) => db.all('SELECT count(*) AS n FROM metrics WHERE run_id = $1', [runId]));
  if (Number(row.n) !== expected) throw new Error(`stored ${row.n} points, expected ${expected}`);
}

const paths = {
  'opsbook RunStore.logMetrics': () =>
    withStore(async (_store, runs, runId) => {
      const started = performance.now();
      for (const batch of batches) await runs.logMetrics(runId, batch);
      return performance.now() - started;
    }),

  'opsbook HTTP (10 POSTs)': async () => {
    const workspace = mkdtempSync(join(tmpdir(), 'opsbook-bench-'));
    const runtimeDir = mkdtempSync(join(tmpdir(), 'opsbook-bench-runtime-'));
    const daemon = await startDaemon({ workspace, runtimeDir });
    try {
      const client = new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token });
      const run = await client.createRun({});
      const started = performance.now();
      for (const batch of batches) await client.logMetrics(run.id, batch);
      const ms = performance.now() - started;
      const detail = await client.getRun(run.id);
      const stored = detail.metrics.reduce((sum, m) => sum + m.count, 0);
      if (stored !== N) throw new Error(`stored ${stored} points over HTTP, expected ${N}`);
      return ms;
    } finally {
      await daemon.close();
      rmSync(workspace, { recursive: true, force: true });
      rmSync(runtimeDir, { recursive: true, force: true });
    }
  },

  'peer: INSERT ... SELECT FROM range()': () =>
    withStore((store, _runs, runId) =>
      store.exclusive(async (db) => {
        const started = performance.now();
        await db.run(
          `INSERT INTO metrics SELECT $1, 'm' || (i % 4), sin(i), i, epoch_ms(now()) FROM range(${N}) t(i)`,
          [runId],
        );
        return performance.now() - started;
      }),
    ),

  'peer: INSERT from a JSON file': () =>
    withStore((store, _runs, runId, workspace) =>
      store.exclusive(async (db) => {
        const file = join(workspace, 'points.ndjson');
        const started = performance.now();
        writeFileSync(file, points.map((p) => JSON.stringify(p)).join('\n'));
        await db.run(
          `INSERT INTO metrics SELECT $1, key, value, step, timestamp FROM read_json($2,
             columns = {key: 'VARCHAR', value: 'DOUBLE', step: 'BIGINT', timestamp: 'DOUBLE'})`,
          [runId, file],
        );
        return performance.now() - started;
      }),
    ),

  [`peer: prepared INSERT loop *${SLOW.toLocaleString('en-US')}`]: () =>
    withStore((store, _runs, runId) =>
      store.exclusive(async (db) => {
        const started = performance.now();
        const insert = await db.connection.prepare('INSERT INTO metrics VALUES ($1, $2, $3, $4, $5)');
        await db.run('BEGIN TRANSACTION');
        for (const p of points.slice(0, SLOW)) {
          insert.bindVarchar(1, runId);
          insert.bindVarchar(2, p.key);
          insert.bindDouble(3, p.value);
          insert.bindBigInt(4, BigInt(p.step));
          insert.bindDouble(5, p.timestamp);
          await insert.run();
        }
        await db.run('COMMIT');
        insert.destroySync();
        return ((performance.now() - started) * N) / SLOW;
      }),
    SLOW,
    ),
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = {};
for (const [name, measure] of Object.entries(paths)) {
  const times = [];
  for (let r = 0; r < REPEATS; r++) times.push(await measure());
  results[name] = median(times);
}

const pad = (s, n) => String(s).padEnd(n);
const num = (x, digits = 1) => x.toFixed(digits).padStart(10);
const count = (x) => x.toLocaleString('en-US');
console.log(`points: ${count(N)} (4 keys), median of ${REPEATS} runs, fresh workspace per run, DuckDB file store`);
console.log(`* measured on the first ${count(SLOW)} points, scaled linearly to ${count(N)}`);
console.log(`${pad('path', 40)}${'ms'.padStart(10)}${'ns/point'.padStart(10)}${'points/s'.padStart(12)}`);
for (const [name, ms] of Object.entries(results)) {
  console.log(`${pad(name, 40)}${num(ms)}${num((ms * 1e6) / N, 0)}${count(Math.round(N / (ms / 1000))).padStart(12)}`);
}
const ours = { RunStore: 'opsbook RunStore.logMetrics', HTTP: 'opsbook HTTP (10 POSTs)' };
console.log('ratios opsbook / peer (above 1: opsbook is slower than the peer)');
console.log(`${pad('peer', 40)}${Object.keys(ours).map((k) => k.padStart(10)).join('')}`);
for (const peer of Object.keys(results).filter((name) => !Object.values(ours).includes(name))) {
  const cells = Object.values(ours).map((name) => `${(results[name] / results[peer]).toFixed(3)}x`.padStart(10));
  console.log(`${pad(peer, 40)}${cells.join('')}`);
}
