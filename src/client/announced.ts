import type { DaemonInfo } from '@opsbook/schema';
import { OpsbookClient } from './client';

/** How long a daemon named in a discovery file gets to answer `/health` before it counts as gone. */
const HEALTH_TIMEOUT_MS = 2000;

/**
 * A client of the daemon a discovery file announces, when that daemon answers `/health` for
 * `workspace` (a real path). Browser-safe: the host reads the file, this asks the daemon.
 * @returns a client (without a deadline) and the daemon's info, or `null` when it does not answer, answers with an
 *   error, or serves another workspace.
 */
export async function announcedDaemon(
  announced: { url: string; token: string },
  workspace: string,
): Promise<{ client: OpsbookClient; info: DaemonInfo } | null> {
  const probe = new OpsbookClient({
    baseUrl: announced.url,
    token: announced.token,
    fetch: (request) => fetch(request, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) }),
  });
  try {
    const info = await probe.health();
    // The client handed out has no deadline of its own: a deploy that watches a rollout, or a long
    // check, takes minutes; only the health probe is bounded.
    return info.workspace === workspace ? { client: new OpsbookClient({ baseUrl: announced.url, token: announced.token }), info } : null;
  } catch {
    return null;
  }
}
