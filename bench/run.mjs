// Runs every benchmark in bench/ one after another (never in parallel: they time each other's
// peers in the same run), streaming their output. Exits non-zero when any of them fails, after
// running them all. Python benchmarks run with the repo's .venv; MLflow, the peer of
// log_metrics.py, is installed into it here on first use, so that `make test` never needs it.
// outage_rss.py holds a 10-minute daemon outage: the whole run takes about 13 minutes more.
//   node bench/run.mjs
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = dirname(benchDir);
const python = join(root, '.venv', 'bin', 'python');
// The version the README's numbers were taken with; the sqlite store needs SQLAlchemy and Alembic,
// which mlflow-skinny leaves out (the full `mlflow` package would also pull Flask, pandas, docker…).
const MLFLOW = ['mlflow-skinny==3.17.2', 'sqlalchemy>=1.4,<3', 'alembic<2,!=1.10.0'];

function run(command, args) {
  const program = command === process.execPath ? 'node' : relative(root, command);
  const shown = [program, ...args.map((a) => relative(root, a))].join(' ');
  process.stdout.write(`\n=== ${shown}\n`);
  const started = Date.now();
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const ok = result.status === 0;
  const why = result.error ? result.error.message : result.signal ? `signal ${result.signal}` : `exit ${result.status}`;
  process.stdout.write(`=== ${ok ? 'ok' : `FAILED (${why})`} in ${seconds} s\n`);
  return ok;
}

function ensureMlflow() {
  const probe = spawnSync(python, ['-c', 'import mlflow, sqlalchemy, alembic'], { cwd: root, stdio: 'ignore' });
  if (probe.status === 0) return true;
  process.stdout.write('MLflow (the peer of bench/log_metrics.py) is missing from .venv: installing it there\n');
  return run(python, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', ...MLFLOW]);
}

if (!existsSync(python)) {
  process.stderr.write(`no Python venv at ${python}: run \`make build\` first\n`);
  process.exit(2);
}

const benchmarks = readdirSync(benchDir)
  .filter((name) => (name.endsWith('.mjs') && name !== 'run.mjs') || name.endsWith('.py'))
  .sort();
// What a benchmark needs installed before it runs (its peer), by file name. tracking.mjs measures
// MLflow's search_runs and reuses log_metrics.py's measurements (bench/tracking/peers.py).
const prerequisites = { 'log_metrics.py': ensureMlflow, 'tracking.mjs': ensureMlflow };
const failed = [];
for (const name of benchmarks) {
  const file = join(benchDir, name);
  const ready = (prerequisites[name] ?? (() => true))();
  const ok = ready && (name.endsWith('.py') ? run(python, [file]) : run(process.execPath, [file]));
  if (!ok) failed.push(name);
}
process.stdout.write(`\n${benchmarks.length - failed.length} of ${benchmarks.length} benchmarks ran${failed.length ? `; failed: ${failed.join(', ')}` : ''}\n`);
process.exitCode = failed.length ? 1 : 0;
