import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DaemonInfo } from '@opsbook/schema';
import { findDaemon } from './daemon';

/** How long a caller waits for a daemon it started to announce itself, unless `$OPSBOOK_START_TIMEOUT_S` says otherwise. */
export const START_TIMEOUT_MS = 20_000;

/** A daemon could not be started or did not announce itself; the message says why and where its log is. */
export class DaemonStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DaemonStartError';
  }
}

let registeredEntry: string | undefined;

/** Records the script that runs the `opsbook` CLI (its `main`), so a daemon is started with the same code. */
export function setCliEntry(path: string): void {
  registeredEntry = path;
}

/** The CLI script this process starts daemons and inference servers with. */
export function cliEntry(): string {
  return process.env.OPSBOOK_CLI || registeredEntry || join(__dirname, '..', 'cli', 'main.js');
}

function startTimeoutMs(): number {
  const configured = Number(process.env.OPSBOOK_START_TIMEOUT_S);
  return Number.isFinite(configured) && configured > 0 ? configured * 1000 : START_TIMEOUT_MS;
}

/**
 * The live daemon of `workspace`, started (detached, logging to `<workspace>/.opsbook/daemon.log`)
 * when none answers. The caller never opens the store: the daemon is its one writer.
 * @throws DaemonStartError when the started daemon exits with an error or does not announce itself in time.
 */
export async function ensureDaemon(workspace: string, runtimeDir?: string): Promise<{ info: DaemonInfo; token: string }> {
  const running = await findDaemon(workspace, runtimeDir);
  if (running) return running;
  const logPath = join(workspace, '.opsbook', 'daemon.log');
  mkdirSync(join(workspace, '.opsbook'), { recursive: true });
  const log = openSync(logPath, 'a');
  const env = runtimeDir === undefined ? process.env : { ...process.env, JUPYTER_RUNTIME_DIR: runtimeDir };
  const exited: { code: number | null } = { code: null };
  try {
    const child = spawn(process.execPath, [cliEntry(), 'daemon', '--workspace', workspace], {
      cwd: workspace,
      detached: true,
      env,
      stdio: ['ignore', log, log],
    });
    child.once('exit', (code) => (exited.code = code ?? 1));
    child.unref();
  } finally {
    closeSync(log);
  }
  const deadline = Date.now() + startTimeoutMs();
  while (Date.now() < deadline) {
    const found = await findDaemon(workspace, runtimeDir);
    if (found) return found;
    if (exited.code !== null && exited.code !== 0) {
      throw new DaemonStartError(`the opsbook daemon exited with code ${exited.code}: ${logTail(logPath)} (log: ${logPath})`);
    }
    await sleep(100);
  }
  throw new DaemonStartError(
    `no opsbook daemon announced itself for ${workspace} within ${Math.round(startTimeoutMs() / 1000)} s: ${logTail(logPath)} (log: ${logPath})`,
  );
}

function logTail(path: string): string {
  try {
    const lines = readFileSync(path, 'utf8').trim().split('\n').slice(-3);
    return lines.join(' | ') || '(empty log)';
  } catch {
    return '(no log)';
  }
}
