import { OpsbookApiError, OpsbookClient } from '../client/client';
import { DaemonStartError, ensureDaemon } from '../daemon/launch';
import { BadInputError, ConflictError, NotFoundError } from '../store/errors';
import { EnvironmentError } from './errors';

/**
 * A client of the workspace's daemon, started when none answers: the CLI never opens the store itself.
 * @throws EnvironmentError when no daemon answers and none can be started.
 */
export async function connectDaemon(workspace: string): Promise<OpsbookClient> {
  try {
    const running = await ensureDaemon(workspace);
    return new OpsbookClient({ baseUrl: running.info.url, token: running.token });
  } catch (error) {
    if (error instanceof DaemonStartError) throw new EnvironmentError(error.message);
    throw error;
  }
}

/**
 * The daemon's error answer as the error the CLI maps to its exit code: 400 → BadInputError,
 * 404 → NotFoundError, 409 → ConflictError (each exit 2, naming the answer's field and value),
 * 503 → EnvironmentError (exit 3). Anything else is given back as it is.
 */
export function fromApiError(error: unknown, field: string): unknown {
  if (!(error instanceof OpsbookApiError)) return error;
  const { message, field: named, value } = error.body.error;
  if (error.status === 400) return new BadInputError(named ?? field, value, message);
  if (error.status === 404) return new NotFoundError(named ?? field, String(value ?? ''), message);
  if (error.status === 409) return new ConflictError(named ?? field, value, message);
  if (error.status === 503) return new EnvironmentError(message);
  return error;
}
