// Data-quality checks at scale (issue 7), each measured beside its peers in the same run, on one
// Parquet file of 10,000,000 rows x 10 columns with planted defects (generated once with DuckDB
// into --data-dir and reused):
//  - the Opsbook suite: the 13 checks of the issue's example suite, through the CLI
//    `opsbook check DATA --suite FILE --json` against a warm daemon process (wall time of the
//    child process, and the `seconds` the daemon reports), and through runSuite in this process;
//  - Great Expectations 1.x, pandas engine, on the equivalent expectations (bench/quality/ge_peer.py
//    in .venv-bench: `make bench-setup`), its Parquet load timed apart from the validation;
//  - one bare DuckDB aggregate scan: count(*), and count, min, max of every column, which is what
//    one hand-written query would do;
//  - the frame hand-off: a 1,000,000 x 20 pandas frame written by the opsbook package's push_frame
//    code, then one DuckDB query over the file (bench/quality/handoff.py; goal <= 1.5 s).
// Goals: Opsbook / GE <= 0.1 (10x faster), Opsbook / bare scan <= 2. Prints the load average
// beside the numbers: the ratios within one run are what count on a shared machine.
// Uses the built modules in src/dist (run `make build` first).
//   node bench/quality.mjs [--rows 10000000] [--repeats 3] [--data-dir DIR] [--skip-ge] [--skip-handoff] [--queries]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { DuckDBInstance } = require('@duckdb/node-api');
const CLI = join(root, 'src', 'dist', 'cli', 'main.js');
const QUALITY = join(root, 'src', 'dist', 'quality', 'index.js');
const BENCH_PYTHON = join(root, '.venv-bench', 'bin', 'python');
const PYTHON = join(root, '.venv', 'bin', 'python');

const { values: options } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000000' },
    'reference-rows': { type: 'string', default: '1000000' },
    repeats: { type: 'string', default: '3' },
    'data-dir': { type: 'string' },
    'skip-ge': { type: 'boolean', default: false },
    'skip-handoff': { type: 'boolean', default: false },
    // Once more, after the timings: runSuite with each sandbox query's time and SQL printed.
    queries: { type: 'boolean', default: false },
  },
});
const ROWS = Number(options.rows);
const REFERENCE_ROWS = Number(options['reference-rows']);
const REPEATS = Number(options.repeats);
// The generator's version is in the folder's name: change it when the data changes.
const DATA_DIR = options['data-dir'] ?? join(tmpdir(), `opsbook-bench-quality-v1-${ROWS}-${REFERENCE_ROWS}`);
// Rows appended as exact copies of earlier ones: duplicate_rows and unique fail by this many.
const DUPLICATES = Math.max(1, Math.floor(ROWS / 10_000));

/**
 * Row i of the table, as SQL over `i`, with planted defects: 1 % of ages null (null_fraction fails),
 * ages out of 0..120, emails without an @ and some null, countries outside {DE, FR, US}, negative
 * prices (the sql check fails), and timestamps from early 2025 (freshness fails). `ageShift` moves
 * the reference's ages so that drift fails. Deterministic: hash(i), never random().
 */
function rowSql(ageShift) {
  return `SELECT
    (i + 1)::BIGINT AS id,
    CASE WHEN i % 50000 = 7 THEN NULL
         WHEN i % 10007 = 3 THEN 'user' || i || ' at example.com'
         ELSE 'user' || i || '@example.com' END AS email,
    (CASE WHEN i % 97 = 0 THEN NULL
          WHEN i % 100003 = 5 THEN 150
          WHEN i % 100019 = 11 THEN -1
          ELSE ${18 + ageShift} + hash(i) % 60 END)::INTEGER AS age,
    CASE WHEN i % 200003 = 17 THEN -1.5 ELSE 5 + (hash(i * 31 + 1) % 5000) / 100.0 END AS price,
    CASE WHEN i % 25013 = 9 THEN 'XX' ELSE ['DE', 'FR', 'US', 'DE'][1 + (hash(i + 7) % 4)::INTEGER] END AS country,
    TIMESTAMP '2025-01-01 00:00:00' + to_seconds(i) AS created_at,
    (1 + hash(i + 3) % 10)::INTEGER AS quantity,
    ['new', 'paid', 'shipped', 'returned'][1 + (hash(i + 11) % 4)::INTEGER] AS status,
    CASE WHEN i % 13 = 0 THEN NULL ELSE (hash(i + 13) % 50) / 100.0 END AS discount,
    hash(i + 5) % 10 = 0 AS is_gift`;
}

const COLUMNS = ['id', 'email', 'age', 'price', 'country', 'created_at', 'quantity', 'status', 'discount', 'is_gift'];

/** Writes data.parquet (ROWS rows) and ref.parquet (REFERENCE_ROWS rows, ages shifted) once. */
async function generate() {
  const data = join(DATA_DIR, 'data.parquet');
  const reference = join(DATA_DIR, 'ref.parquet');
  if (existsSync(data) && existsSync(reference)) return { data, reference, seconds: null };
  mkdirSync(DATA_DIR, { recursive: true });
  const started = performance.now();
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const base = ROWS - DUPLICATES;
    const step = Math.floor(base / DUPLICATES);
    const partial = `${data}.partial`;
    await connection.run(
      `COPY (${rowSql(0)} FROM range(${base}) t(i)
             UNION ALL ${rowSql(0)} FROM (SELECT j * ${step} AS i FROM range(${DUPLICATES}) d(j)))
       TO '${partial}' (FORMAT parquet)`,
    );
    renameSync(partial, data);
    await connection.run(`COPY (${rowSql(10)} FROM range(${REFERENCE_ROWS}) t(i)) TO '${reference}.partial' (FORMAT parquet)`);
    renameSync(`${reference}.partial`, reference);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  return { data, reference, seconds: (performance.now() - started) / 1000 };
}

/** The issue's example suite, its bounds fitted to this table (row_count up to 20,000,000). */
function suiteFor() {
  return {
    suite: 'orders',
    checks: [
      { check: 'row_count', min: 1000, max: 20_000_000 },
      { check: 'columns', expect: { id: 'BIGINT', email: 'VARCHAR' } },
      { check: 'not_null', column: 'id' },
      { check: 'unique', column: 'id' },
      { check: 'between', column: 'age', min: 0, max: 120 },
      { check: 'null_fraction', column: 'age', max: 0.01 },
      { check: 'matches', column: 'email', pattern: '^[^@ ]+@[^@ ]+$' },
      { check: 'in_set', column: 'country', values: ['DE', 'FR', 'US'] },
      { check: 'duplicate_rows' },
      { check: 'mean_between', column: 'price', min: 10, max: 50 },
      { check: 'freshness', column: 'created_at', max_age: '2d' },
      { check: 'sql', query: 'select count(*) from data where price < 0', expect: 0 },
      { check: 'drift', column: 'age', reference: 'ref.parquet', method: 'psi', max: 0.2 },
    ],
  };
}

/** The suite as the YAML a user writes (one flow mapping per check, as in the issue). */
function suiteYaml(suite) {
  const lines = [`suite: ${suite.suite}`, 'checks:'];
  for (const check of suite.checks) lines.push(`  - ${JSON.stringify(check)}`);
  return `${lines.join('\n')}\n`;
}

const each = (seconds) => `each: ${seconds.map((s) => s.toFixed(2)).join(', ')}`;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function timed(repeats, action) {
  const seconds = [];
  const results = [];
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    results.push(await action());
    seconds.push((performance.now() - started) / 1000);
  }
  return { seconds: median(seconds), all: seconds, results, last: results[results.length - 1] };
}

/** One aggregate scan: count(*), and count, min and max of every column, in a fresh in-memory DuckDB. */
async function bareScan(data) {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const aggregates = COLUMNS.flatMap((c) => [`count("${c}")`, `min("${c}")`, `max("${c}")`]);
    const reader = await connection.runAndReadAll(`SELECT count(*), ${aggregates.join(', ')} FROM read_parquet('${data}')`);
    return Number(reader.getRows()[0][0]);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

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

/** The last line of a child's output as JSON, failing with its stderr when it did not exit 0. */
async function jsonOf(command, args) {
  const { code, stdout, stderr } = await runChild(command, args);
  if (code !== 0) throw new Error(`${args[0]} exit ${code}: ${stderr.slice(-3000)}`);
  return JSON.parse(stdout.trim().split('\n').pop());
}

const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');

/**
 * Runs the suite once in-process with the sandbox's queries timed one by one, and prints them
 * slowest first: where runSuite's time goes. The wrapping is undone after.
 */
async function traceQueries(files) {
  const quality = require(QUALITY);
  const { Sandbox } = require('../src/dist/quality/sandbox.js');
  const traced = [];
  const originals = { read: Sandbox.prototype.read, runSelect: Sandbox.prototype.runSelect };
  for (const [method, original] of Object.entries(originals)) {
    Sandbox.prototype[method] = async function (...args) {
      const started = performance.now();
      try {
        return await original.apply(this, args);
      } finally {
        const sql = typeof args[0] === 'string' ? args[0] : '(a prepared sql check)';
        traced.push({ seconds: (performance.now() - started) / 1000, sql: sql.replace(/\s+/g, ' ') });
      }
    };
  }
  try {
    const data = await quality.resolveSource({ path: files.data }, DATA_DIR);
    const started = performance.now();
    await quality.runSuite({ data, suite: suiteFor(), suiteDir: DATA_DIR });
    const total = (performance.now() - started) / 1000;
    process.stdout.write(`\nrunSuite's ${traced.length} queries, slowest first (${total.toFixed(2)} s in all; load ${load()})\n`);
    for (const query of traced.sort((a, b) => b.seconds - a.seconds)) {
      process.stdout.write(`${query.seconds.toFixed(2).padStart(8)} s  ${query.sql.slice(0, 150)}\n`);
    }
  } finally {
    Object.assign(Sandbox.prototype, originals);
  }
}

/** Stops the daemon `ensureDaemon` started (detached) and waits until its process is gone. */
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

/** `opsbook check` as a user runs it, against the warm daemon; exit 1 (a check failed) is expected here. */
async function cliCheck(files, workspace, runtime) {
  const env = { ...process.env, JUPYTER_RUNTIME_DIR: runtime, OPSBOOK_RUN_ID: '' };
  const args = [CLI, 'check', files.data, '--suite', files.suite, '--json', '--workspace', workspace];
  const { code, stdout, stderr } = await runChild(process.execPath, args, env);
  const result = code === 0 || code === 1 ? JSON.parse(stdout) : undefined;
  if (!result?.checks) throw new Error(`opsbook check exit ${code}: ${stderr.slice(-3000) || stdout.slice(0, 3000)}`);
  return result;
}

function summary(result) {
  const counts = { pass: 0, fail: 0, error: 0 };
  for (const check of result.checks) counts[check.status] += 1;
  return `${counts.pass} pass, ${counts.fail} fail, ${counts.error} error`;
}

/**
 * Opsbook in-process, then through the CLI, into `measured` as each is done; a failure is reported,
 * and the peers are still measured.
 */
async function measureOpsbook(files, rows, measured) {
  if (!existsSync(QUALITY) || !existsSync(CLI)) {
    throw new Error(`${QUALITY} or ${CLI} is missing: run make build first`);
  }
  const quality = require(QUALITY);
  const { ensureDaemon } = require('../src/dist/daemon/launch.js');
  const suite = suiteFor();
  const inProcess = await timed(REPEATS, async () => {
    const data = await quality.resolveSource({ path: files.data }, DATA_DIR);
    return quality.runSuite({ data, suite, suiteDir: DATA_DIR });
  });
  rows.push({ what: 'Opsbook runSuite, in-process (13 checks)', seconds: inProcess.seconds, note: `${summary(inProcess.last)}; ${each(inProcess.all)}` });
  measured.inProcess = inProcess;
  const workspace = mkdtempSync(join(tmpdir(), 'opsbook-bench-quality-ws-'));
  const runtime = mkdtempSync(join(tmpdir(), 'opsbook-bench-runtime-'));
  let daemon;
  try {
    // The daemon process the CLI would start itself, started first so that no timing includes its start.
    daemon = await ensureDaemon(workspace, runtime);
    await cliCheck(files, workspace, runtime); // warm: the daemon's first request, Node's file cache
    const cli = await timed(REPEATS, () => cliCheck(files, workspace, runtime));
    rows.push({ what: 'Opsbook CLI `opsbook check --json` (13 checks)', seconds: cli.seconds, note: `${summary(cli.last)}; ${each(cli.all)}` });
    const reported = cli.results.map((result) => result.seconds);
    rows.push({ what: '  of which the daemon reports (result.seconds)', seconds: median(reported), note: each(reported) });
    measured.cli = { ...cli, reported: median(reported) };
  } finally {
    if (daemon) await stopDaemon(daemon.info.pid);
    rmSync(workspace, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  }
}

/**
 * The kernel writes the frame (bench/quality/handoff.py, through the bridge's push_frame), then one
 * DuckDB query reads the file as the daemon would; the file is removed after, as the daemon does.
 * Median of REPEATS hand-offs.
 */
async function measureHandoff() {
  const folder = mkdtempSync(join(tmpdir(), 'opsbook-bench-handoff-'));
  try {
    const runs = [];
    for (let i = 0; i < REPEATS; i++) {
      const pushed = await jsonOf(PYTHON, [join(root, 'bench', 'quality', 'handoff.py'), '--folder', folder]);
      const started = performance.now();
      const instance = await DuckDBInstance.create(':memory:');
      const connection = await instance.connect();
      try {
        const reader = await connection.runAndReadAll(
          `SELECT count(*), avg(f0), max(i3), count(DISTINCT s0), max(t0) FROM read_parquet('${pushed.path.replaceAll("'", "''")}')`,
        );
        const counted = Number(reader.getRows()[0][0]);
        if (counted !== pushed.rows) throw new Error(`the hand-off file holds ${counted} rows, push_frame said ${pushed.rows}`);
      } finally {
        connection.closeSync();
        instance.closeSync();
      }
      runs.push({ ...pushed, query_seconds: (performance.now() - started) / 1000 });
      rmSync(pushed.path, { force: true });
    }
    const total = (r) => r.write_seconds + r.query_seconds;
    return [...runs].sort((a, b) => total(a) - total(b))[Math.floor(runs.length / 2)];
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** Suite checks whose failing rows (for sql: its count) must equal GE's unexpected_count (same definition on both sides). */
const SAME_COUNT = new Set(['not_null', 'unique', 'between', 'matches', 'in_set', 'sql']);

/**
 * Each check of the suite beside GE's result for it: status and failing rows (Opsbook) or
 * unexpected count (GE). duplicate_rows differs by definition: Opsbook counts the copies
 * (count(*) − distinct rows), GE's compound uniqueness every row of a repeated group.
 * @returns the checks whose counts should agree and do not.
 */
function printChecks(suite, result, ge) {
  const disagree = [];
  if (!result && !ge) return disagree;
  // The sql check's count is its observed value; GE's peer for it counts the same rows (price < 0).
  const count = (c) => c.failing_rows ?? (c.check === 'sql' && typeof c.observed === 'number' ? c.observed : undefined);
  const outcome = (c) => (c ? `${c.status}${count(c) !== undefined ? ` ${count(c)}` : ''}` : '-');
  const geOutcome = (r) => `${r.error ? 'error' : r.success ? 'pass' : 'fail'}${r.unexpected_count != null ? ` ${r.unexpected_count}` : ''}`;
  process.stdout.write(`\n${'check'.padEnd(26)} ${'Opsbook'.padEnd(16)} GE\n`);
  suite.checks.forEach((check, index) => {
    const mine = result?.checks[index];
    const theirs = ge ? ge.results.filter((r) => r.check === index) : [];
    const name = `${check.check}${check.column ? `(${check.column})` : ''}`;
    const peer = theirs.map((r) => `${r.expectation.replace(/^expect_/, '')} ${geOutcome(r)}`).join(', ');
    process.stdout.write(`${name.padEnd(26)} ${outcome(mine).padEnd(16)} ${peer}${mine?.message ? `  [${mine.message}]` : ''}\n`);
    if (mine && theirs.length === 1 && SAME_COUNT.has(check.check) && count(mine) !== theirs[0].unexpected_count) {
      disagree.push(`${name}: Opsbook ${count(mine)}, GE ${theirs[0].unexpected_count}`);
    }
  });
  return disagree;
}

async function main() {
  const fmt = (s) => (s === null || s === undefined ? '-' : s.toFixed(2));
  process.stdout.write(`load average at start: ${load()} (${cpus().length} CPUs)\n`);
  process.stdout.write(`data: ${ROWS.toLocaleString('en')} rows x ${COLUMNS.length} columns in ${DATA_DIR}\n`);
  const generated = await generate();
  if (generated.seconds !== null) process.stdout.write(`generated in ${fmt(generated.seconds)} s\n`);
  const suite = suiteFor();
  const files = { data: generated.data, reference: generated.reference, suite: join(DATA_DIR, 'suite.yaml') };
  writeFileSync(files.suite, suiteYaml(suite));
  const gePeerSuite = join(DATA_DIR, 'suite-ge.json');
  writeFileSync(gePeerSuite, JSON.stringify({ ...suite, _all_columns: COLUMNS }));

  const rows = [];
  const failures = [];
  const bare = await timed(REPEATS, () => bareScan(files.data));
  if (bare.last !== ROWS) throw new Error(`the bare scan counted ${bare.last} rows, not ${ROWS}`);
  rows.push({ what: 'bare DuckDB scan: count(*), count/min/max of 10 columns', seconds: bare.seconds, note: `${bare.last} rows; ${each(bare.all)}` });
  process.stdout.write(`bare scan done (load ${load()})\n`);

  const opsbook = {};
  try {
    await measureOpsbook(files, rows, opsbook);
    process.stdout.write(`Opsbook done (load ${load()})\n`);
  } catch (error) {
    failures.push(`Opsbook: ${error.message}`);
  }

  let ge;
  if (!options['skip-ge']) {
    if (!existsSync(BENCH_PYTHON)) {
      failures.push(`Great Expectations: no ${BENCH_PYTHON}: run \`make bench-setup\``);
    } else {
      const now = new Date().toISOString();
      ge = await jsonOf(BENCH_PYTHON, [
        join(root, 'bench', 'quality', 'ge_peer.py'),
        '--data', files.data, '--reference', files.reference, '--suite', gePeerSuite, '--now', now,
      ]);
      const failed = ge.results.filter((r) => !r.success).length;
      const errors = ge.results.filter((r) => r.error).length;
      rows.push({ what: `GE ${ge.ge_version} (pandas ${ge.pandas_version}): pd.read_parquet`, seconds: ge.load_seconds });
      rows.push({
        what: `GE: validate ${ge.results.length} expectations`,
        seconds: ge.validate_seconds,
        note: `${ge.results.length - failed} pass, ${failed - errors} fail, ${errors} error`,
      });
      rows.push({ what: 'GE: load + validate', seconds: ge.load_seconds + ge.validate_seconds });
      process.stdout.write(`Great Expectations done (load ${load()})\n`);
    }
  }

  let handoff;
  if (!options['skip-handoff']) {
    try {
      handoff = await measureHandoff();
      rows.push({ what: `frame hand-off ${handoff.rows.toLocaleString('en')} x ${handoff.columns}: push_frame`, seconds: handoff.write_seconds });
      rows.push({ what: '  then one DuckDB query over the file', seconds: handoff.query_seconds });
      rows.push({ what: '  push_frame + query (goal <= 1.5 s)', seconds: handoff.write_seconds + handoff.query_seconds, goal: 1.5 });
      process.stdout.write(`frame hand-off done (load ${load()})\n`);
    } catch (error) {
      failures.push(`frame hand-off: ${error.message}`);
    }
  }

  process.stdout.write(`\nmedian of ${REPEATS} (GE: one run); load average at end: ${load()}\n\n`);
  process.stdout.write(`${'what'.padEnd(62)} ${'s'.padStart(8)}  result\n`);
  for (const row of rows) {
    const flag = row.goal !== undefined && row.seconds > row.goal ? ' OVER' : '';
    process.stdout.write(`${row.what.padEnd(62)} ${fmt(row.seconds).padStart(8)}  ${row.note ?? ''}${flag}\n`);
  }
  process.stdout.write('\nratios (below 1: Opsbook is faster)\n');
  const geAll = ge ? ge.load_seconds + ge.validate_seconds : undefined;
  const ratio = (label, mine, theirs, goal) => {
    if (mine === undefined || theirs === undefined) return;
    process.stdout.write(`  ${label.padEnd(32)} ${(mine / theirs).toFixed(3)}${goal ? `  (goal <= ${goal})` : ''}\n`);
  };
  ratio('Opsbook CLI / GE load+validate', opsbook.cli?.seconds, geAll, 0.1);
  ratio('Opsbook CLI / GE validate only', opsbook.cli?.seconds, ge?.validate_seconds);
  ratio('runSuite / GE load+validate', opsbook.inProcess?.seconds, geAll, 0.1);
  ratio('Opsbook CLI / bare scan', opsbook.cli?.seconds, bare.seconds, 2);
  ratio('daemon-side seconds / bare scan', opsbook.cli?.reported, bare.seconds, 2);
  ratio('runSuite / bare scan', opsbook.inProcess?.seconds, bare.seconds, 2);
  const disagree = printChecks(suite, (opsbook.cli ?? opsbook.inProcess)?.last, ge);
  if (disagree.length) failures.push(`failing rows disagree with GE's unexpected counts: ${disagree.join('; ')}`);
  if (options.queries) await traceQueries(files);
  if (failures.length) {
    process.stdout.write(`\nFAILED: ${failures.join('\n  ')}\n`);
    process.exitCode = 1;
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exitCode = 1;
});
