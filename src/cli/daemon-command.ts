import { setTimeout as sleep } from 'node:timers/promises';
import type { DaemonInfo } from '@opsbook/schema';
import { findDaemon, PortTakenError, startDaemon } from '../daemon/daemon';
import { StoreLockedError } from '../store/errors';
import type { ParsedCommand } from './args';
import { EnvironmentError, UsageError } from './errors';
import { workspaceOf, type CliOutput } from './runs-command';

/** How long a process that lost the race for the store waits for the winner's discovery file. */
const ATTACH_WAIT_MS = 15_000;

/**
 * `opsbook daemon`: attaches to the workspace's running daemon (prints its info and exits 0), or runs
 * one in the foreground until SIGTERM/SIGINT.
 * @throws UsageError for a bad port or missing workspace.
 * @throws EnvironmentError when the port is taken or the store is held by something that is not a daemon.
 */
export async function daemonCommand(parsed: ParsedCommand, out: CliOutput): Promise<number> {
  const workspace = workspaceOf(parsed.values.workspace as string | undefined);
  const port = parsed.values.port as number | undefined;
  if (port !== undefined && (port < 0 || port > 65535)) throw new UsageError(`--port must be from 0 to 65535, not ${port}`);
  const running = await findDaemon(workspace);
  if (running) return attached(running.info, out);
  let daemon;
  try {
    daemon = await startDaemon({ workspace, port });
  } catch (error) {
    if (error instanceof PortTakenError) throw new EnvironmentError(error.message);
    if (error instanceof StoreLockedError) {
      // Another `opsbook daemon` may have won the race for the store; attach once it says so.
      const deadline = Date.now() + ATTACH_WAIT_MS;
      while (Date.now() < deadline) {
        const winner = await findDaemon(workspace);
        if (winner) return attached(winner.info, out);
        await sleep(100);
      }
      throw new EnvironmentError(`the store ${error.path} is locked by another process that is not an answering opsbook daemon`);
    }
    throw error;
  }
  out.stdout(`${JSON.stringify({ event: 'ready', ...daemon.info })}\n`);
  out.stderr(`opsbook daemon: serving ${daemon.info.workspace} at ${daemon.info.url}\n`);
  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.removeListener('SIGTERM', stop);
      process.removeListener('SIGINT', stop);
      out.stderr(`opsbook daemon: ${signal}, stopping\n`);
      daemon
        .close()
        .then(() => resolve(0))
        .catch((error: unknown) => {
          out.stderr(`opsbook daemon: stopping failed: ${error instanceof Error ? error.message : String(error)}\n`);
          resolve(1);
        });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

function attached(info: DaemonInfo, out: CliOutput): number {
  out.stdout(`${JSON.stringify({ event: 'attached', ...info })}\n`);
  return 0;
}
