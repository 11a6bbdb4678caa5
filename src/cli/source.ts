import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Run, RunComparison, RunDetail, RunList, RunUpdate } from '@opsbook/schema';
import { OpsbookApiError, OpsbookClient } from '../client/client';
import { findDaemon } from '../daemon/daemon';
import { DaemonStartError, ensureDaemon } from '../daemon/launch';
import { BadInputError, NotFoundError } from '../store/errors';
import { readTrackingConfig } from '../tracking/mlflow/config';
import { parseFilterParam } from '../tracking/run-filter';
import { checkRunFilter, type RunFilter } from '../tracking/run-store';
import { EnvironmentError } from './errors';

/** Where the read commands get runs from: the workspace's daemon. */
export interface RunSource {
  /** @throws BadInputError on a bad filter. */
  listRuns(filter: RunFilter): Promise<RunList>;
  /**
   * @throws NotFoundError when no run matches.
   * @throws BadInputError when the prefix matches more than one run.
   */
  getRun(idOrPrefix: string): Promise<RunDetail>;
  /**
   * Updates a run named by id or unique prefix (soft-deleted runs included).
   * @throws NotFoundError when no run matches.
   * @throws BadInputError when the prefix matches more than one run.
   */
  updateRun(idOrPrefix: string, update: RunUpdate): Promise<Run>;
  /**
   * Runs side by side, in the order given (ids or unique prefixes).
   * @throws NotFoundError when an id matches no run.
   * @throws BadInputError when a prefix matches more than one run, or more than 1000 runs are given.
   */
  compareRuns(idsOrPrefixes: readonly string[]): Promise<RunComparison>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The workspace's daemon, started when none runs: the CLI never opens the store itself (one
 * writer). A workspace with no store yet has no runs, and needs no daemon to say so.
 * @throws EnvironmentError when no daemon answers and none can be started.
 */
export async function openRunSource(workspace: string): Promise<RunSource> {
  // A workspace tracking to MLflow has runs before it has a local store: start its daemon too.
  const storeExists =
    existsSync(join(workspace, '.opsbook', 'opsbook.duckdb')) || readTrackingConfig(workspace).backend === 'mlflow';
  const running = storeExists ? await connect(workspace) : await findDaemon(workspace);
  if (!running) return emptySource();
  return daemonSource(new OpsbookClient({ baseUrl: running.info.url, token: running.token }));
}

async function connect(workspace: string): ReturnType<typeof ensureDaemon> {
  try {
    return await ensureDaemon(workspace);
  } catch (error) {
    if (error instanceof DaemonStartError) throw new EnvironmentError(error.message);
    throw error;
  }
}

/**
 * A run's full id from its id or a unique prefix (soft-deleted runs included): the API takes full ids only.
 * @throws NotFoundError when no run matches; BadInputError when the prefix matches more than one run.
 */
export async function resolveRunId(client: OpsbookClient, idOrPrefix: string): Promise<string> {
  if (UUID.test(idOrPrefix)) return idOrPrefix;
  const { runs } = await client.listRuns({ limit: 10_000, deleted: 'include' });
  const matches = idOrPrefix.length === 0 ? [] : runs.filter((run) => run.id.startsWith(idOrPrefix.toLowerCase()));
  if (matches.length === 0) throw new NotFoundError('run_id', idOrPrefix, `no run with id ${JSON.stringify(idOrPrefix)}`);
  if (matches.length > 1) {
    throw new BadInputError('run_id', idOrPrefix, `run id prefix ${JSON.stringify(idOrPrefix)} matches more than one run; give more characters`);
  }
  return matches[0].id;
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
  const resolve = (idOrPrefix: string): Promise<string> => resolveRunId(client, idOrPrefix).catch(translate);
  return {
    listRuns: (filter) => client.listRuns(filter).catch(translate),
    getRun: async (idOrPrefix) => client.getRun(await resolve(idOrPrefix)).catch(translate),
    updateRun: async (idOrPrefix, update) => client.updateRun(await resolve(idOrPrefix), update).catch(translate),
    async compareRuns(idsOrPrefixes) {
      // The API takes full ids only; prefixes are resolved against one read of the run list.
      const needsList = idsOrPrefixes.some((id) => !UUID.test(id));
      const listed = needsList ? (await client.listRuns({ limit: 10_000, deleted: 'include' }).catch(translate)).runs : [];
      const ids = idsOrPrefixes.map((idOrPrefix) => {
        if (UUID.test(idOrPrefix)) return idOrPrefix.toLowerCase();
        const matches = idOrPrefix.length === 0 ? [] : listed.filter((run) => run.id.startsWith(idOrPrefix.toLowerCase()));
        if (matches.length === 0) throw new NotFoundError('run_ids', idOrPrefix, `no run with id ${JSON.stringify(idOrPrefix)}`);
        if (matches.length > 1) {
          throw new BadInputError('run_ids', idOrPrefix, `run id prefix ${JSON.stringify(idOrPrefix)} matches more than one run; give more characters`);
        }
        return matches[0].id;
      });
      if (ids.length > 1000) throw new BadInputError('run_ids', ids.length, `at most 1000 runs can be compared, got ${ids.length}`);
      return client.compareRuns(ids).catch(translate);
    },
  };
}

function emptySource(): RunSource {
  return {
    listRuns: async (filter) => {
      checkRunFilter(filter);
      parseFilterParam(filter.filter);
      return { runs: [], total: 0 };
    },
    getRun: (id) => Promise.reject(new NotFoundError('run_id', id, `no run with id ${JSON.stringify(id)}`)),
    updateRun: (id) => Promise.reject(new NotFoundError('run_id', id, `no run with id ${JSON.stringify(id)}`)),
    compareRuns: (ids) => Promise.reject(new NotFoundError('run_ids', ids[0], `no run with id ${JSON.stringify(ids[0])}`)),
  };
}
