import { setTimeout as sleep } from 'node:timers/promises';
import type { DaemonInfo } from '@opsbook/schema';
import { findDaemon, PortTakenError, startDaemon, type RunningDaemon } from '../daemon/daemon';
import { StoreLockedError } from '../store/errors';
import type { ParsedCommand } from './args';
import { EnvironmentError, UsageError } from './errors';
import type { CliOutput } from './runs-command';
import { workspaceOf } from './workspace';

/**
 * How long a daemon waits for a store locked by a live process that is not an answering daemon
 * (a daemon that won the start race announces itself within a second; one that is stopping
 * releases the lock when it exits, and the wait ends then).
 */
const LOCK_WAIT_MS = 60_000;
const RETRY_MS = 100;

/**
 * `opsbook daemon`: attaches to the workspace's running daemon (prints its info and exits 0), or runs
 * one in the foreground until SIGTERM/SIGINT. When another process holds the store, it attaches to
 * that process once it announces itself as the daemon, or opens the store once that process exits.
 * @throws UsageError for a bad port or heartbeat timeout, or a missing workspace.
 * @throws EnvironmentError when the port is taken, or the store stays held by a process that is not a daemon.
 */
export async function daemonCommand(parsed: ParsedCommand, out: CliOutput): Promise<number> {
  const workspace = workspaceOf(parsed.values.workspace as string | undefined);
  const port = parsed.values.port as number | undefined;
  if (port !== undefined && (port < 0 || port > 65535)) throw new UsageError(`--port must be from 0 to 65535, not ${port}`);
  const heartbeatTimeoutMs = heartbeatTimeout(parsed.values['heartbeat-timeout'] as number | undefined);
  let lockedSince: number | undefined;
  let daemon: RunningDaemon;
  for (;;) {
    const running = await findDaemon(workspace);
    if (running) return attached(running.info, out);
    try {
      daemon = await startDaemon({ workspace, port, heartbeatTimeoutMs });
      break;
    } catch (error) {
      if (error instanceof PortTakenError) throw new EnvironmentError(error.message);
      if (!(error instanceof StoreLockedError)) throw error;
      const holder = lockHolder(error.message);
      if (lockedSince === undefined) {
        lockedSince = Date.now();
        out.stderr(`opsbook daemon: the store ${error.path} is held by ${holder ?? 'another process'}; waiting for it to exit or to announce itself\n`);
      } else if (Date.now() - lockedSince > LOCK_WAIT_MS) {
        throw new EnvironmentError(
          `the store ${error.path} is locked by ${holder ?? 'another process'}, which is not an answering opsbook daemon`,
        );
      }
      await sleep(RETRY_MS);
    }
  }
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    // The listeners stay: removing the last one restores the default action, and a second signal
    // arriving then (a supervisor's SIGTERM right after ours) would kill the process before the
    // discovery file is removed. A repeated signal joins the stop under way.
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      out.stderr(`opsbook daemon: ${signal}, stopping\n`);
      daemon
        .close()
        .then(() => resolve(0))
        .catch((error: unknown) => {
          out.stderr(`opsbook daemon: stopping failed: ${error instanceof Error ? error.message : String(error)}\n`);
          resolve(1);
        });
    };
    // Listening before the ready line: whoever reads it may send SIGTERM at once.
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  out.stdout(`${JSON.stringify({ event: 'ready', ...daemon.info })}\n`);
  out.stderr(`opsbook daemon: serving ${daemon.info.workspace} at ${daemon.info.url}\n`);
  return stopped;
}

/**
 * Milliseconds of `--heartbeat-timeout`, else of `$OPSBOOK_HEARTBEAT_TIMEOUT_S`, else undefined (the default).
 * @throws UsageError when the value is not a positive number of seconds.
 */
function heartbeatTimeout(option: number | undefined): number | undefined {
  if (option !== undefined) {
    if (option < 1) throw new UsageError(`--heartbeat-timeout must be a positive number of seconds, not ${option}`);
    return option * 1000;
  }
  const fromEnv = process.env.OPSBOOK_HEARTBEAT_TIMEOUT_S;
  if (fromEnv === undefined || fromEnv === '') return undefined;
  const seconds = Number(fromEnv);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new UsageError(`OPSBOOK_HEARTBEAT_TIMEOUT_S must be a positive number of seconds, not ${JSON.stringify(fromEnv)}`);
  }
  return Math.round(seconds * 1000);
}

/** "PID 1234 (/usr/bin/node)" from DuckDB's lock error, when it names the holder. */
function lockHolder(message: string): string | undefined {
  const found = /lock is held in (.+?) \(PID (\d+)\)/.exec(message);
  return found ? `PID ${found[2]} (${found[1]})` : undefined;
}

function attached(info: DaemonInfo, out: CliOutput): number {
  out.stdout(`${JSON.stringify({ event: 'attached', ...info })}\n`);
  return 0;
}
