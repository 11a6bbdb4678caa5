import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** A real `mlflow server` (SQLite backend, artifacts served by the server) that tests start and stop. */
export interface MlflowTestServer {
  /** Tracking URI, e.g. `http://127.0.0.1:PORT`. */
  uri: string;
  /** Seconds from spawn to the first healthy answer. */
  startSeconds: number;
  /** Stops the server and its workers and removes its folder. */
  stop(): Promise<void>;
}

const REPO = resolve(__dirname, '..', '..', '..', '..');

/**
 * The `mlflow` executable tests use: `$OPSBOOK_TEST_MLFLOW`, else the separate venv `make setup`
 * builds (`.venv-mlflow`, kept apart from `.venv` because MLflow pins other pyarrow versions).
 * @throws Error naming the missing path and the make target that installs it.
 */
export function mlflowExecutable(): string {
  const path = process.env.OPSBOOK_TEST_MLFLOW ?? join(REPO, '.venv-mlflow', 'bin', 'mlflow');
  if (!existsSync(path)) throw new Error(`the MLflow tests need ${path}: run \`make setup\` (it installs MLflow into .venv-mlflow)`);
  return path;
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

/**
 * Starts `mlflow server` on a free port with a SQLite store and `--artifacts-destination` in a new
 * temporary folder, and waits for `/health`.
 * @throws Error with the server's log when it exits or is not healthy within `timeoutMs`.
 */
export async function startMlflowServer(timeoutMs = 120_000): Promise<MlflowTestServer> {
  const executable = mlflowExecutable();
  const dir = mkdtempSync(join(tmpdir(), 'opsbook-mlflow-'));
  const port = await freePort();
  const logPath = join(dir, 'server.log');
  const log = openSync(logPath, 'w');
  const started = Date.now();
  // Its own process group: `mlflow server` runs uvicorn workers that must stop with it.
  const child: ChildProcess = spawn(
    executable,
    [
      'server',
      '--backend-store-uri', `sqlite:///${join(dir, 'mlflow.db')}`,
      '--artifacts-destination', join(dir, 'artifacts'),
      '--host', '127.0.0.1',
      '--port', String(port),
      '--workers', '1',
    ],
    { cwd: dir, detached: true, stdio: ['ignore', log, log], env: { ...process.env, MLFLOW_TRACKING_URI: '' } },
  );
  closeSync(log);
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-(child.pid as number), 'SIGKILL');
        } catch {
          // Already gone.
        }
      }, 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const uri = `http://127.0.0.1:${port}`;
  const deadline = started + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const response = await fetch(`${uri}/health`);
      if (response.ok) return { uri, startSeconds: (Date.now() - started) / 1000, stop };
    } catch {
      // Not listening yet.
    }
    await new Promise((done) => setTimeout(done, 250));
  }
  const text = readFileSync(logPath, 'utf8').slice(-3000);
  await stop();
  throw new Error(`mlflow server did not become healthy on ${uri} within ${timeoutMs} ms; its log ends:\n${text}`);
}
