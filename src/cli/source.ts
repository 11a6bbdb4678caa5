import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RunDetail, RunList } from '@opsbook/schema';
import { OpsbookApiError, OpsbookClient } from '../client/client';
import { findDaemon } from '../daemon/daemon';
import { BadInputError, NotFoundError, StoreLockedError } from '../store/errors';
import { Store } from '../store/store';
import { checkRunFilter, RunStore, type RunFilter } from '../tracking/run-store';
import { EnvironmentError } from './errors';

/** Where the read commands get runs from: the live daemon, or the store itself when none runs. */
export interface RunSource {
  /** `daemon` or `store`, for messages. */
  readonly kind: 'daemon' | 'store';
  /** @throws BadInputError on a bad filter. */
  listRuns(filter: RunFilter): Promise<RunList>;
  /**
   * @throws NotFoundError when no run matches.
   * @throws BadInputError when the prefix matches more than one run.
   */
  getRun(idOrPrefix: string): Promise<RunDetail>;
  close(): Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Uses the workspace's daemon when its discovery file names one that answers; otherwise opens the
 * store (one writer: never both).
 * @throws EnvironmentError when the store is locked by a process that is not an answering daemon.
 */
export async function openRunSource(workspace: string): Promise<RunSource> {
  const daemon = await findDaemon(workspace);
  if (daemon) return daemonSource(new OpsbookClient({ baseUrl: daemon.info.url, token: daemon.token }));
  if (!existsSync(join(workspace, '.opsbook', 'opsbook.duckdb'))) return emptySource();
  try {
    const store = await Store.open(workspace);
    const runs = new RunStore(store);
    return {
      kind: 'store',
      listRuns: (filter) => runs.listRuns(filter),
      getRun: (id) => runs.getRun(id),
      close: () => store.close(),
    };
  } catch (error) {
    if (error instanceof StoreLockedError) {
      throw new EnvironmentError(
        `the store ${error.path} is locked by another process that is not an answering opsbook daemon`,
      );
    }
    throw error;
  }
}

function daemonSource(client: OpsbookClient): RunSource {
  const translate = (error: unknown): never => {
    if (error instanceof OpsbookApiError) {
      const { message, field, value } = error.body.error;
      if (error.status === 404) throw new NotFoundError(field ?? 'run_id', String(value ?? ''), message);
      if (error.status === 400) throw new BadInputError(field ?? '', value, message);
    }
    throw error;
  };
  return {
    kind: 'daemon',
    listRuns: (filter) => client.listRuns(filter).catch(translate),
    async getRun(idOrPrefix) {
      let id = idOrPrefix;
      if (!UUID.test(idOrPrefix)) {
        // The API takes full ids only; a prefix is resolved against the run list.
        const { runs } = await client.listRuns({ limit: 10_000 }).catch(translate);
        const matches = idOrPrefix.length === 0 ? [] : runs.filter((run) => run.id.startsWith(idOrPrefix.toLowerCase()));
        if (matches.length === 0) throw new NotFoundError('run_id', idOrPrefix, `no run with id ${JSON.stringify(idOrPrefix)}`);
        if (matches.length > 1) {
          throw new BadInputError('run_id', idOrPrefix, `run id prefix ${JSON.stringify(idOrPrefix)} matches more than one run; give more characters`);
        }
        id = matches[0].id;
      }
      return client.getRun(id).catch(translate);
    },
    close: () => Promise.resolve(),
  };
}

function emptySource(): RunSource {
  return {
    kind: 'store',
    listRuns: async (filter) => {
      checkRunFilter(filter);
      return { runs: [] };
    },
    getRun: (id) => Promise.reject(new NotFoundError('run_id', id, `no run with id ${JSON.stringify(id)}`)),
    close: () => Promise.resolve(),
  };
}
