import { LIST, VARCHAR, listValue } from '@duckdb/node-api';
import type { RunComparison } from '@opsbook/schema';
import { NotFoundError } from '../store/errors';
import type { StoreSession } from '../store/store';

type ComparedRun = RunComparison['runs'][number];

/**
 * Runs side by side, in three queries whatever their number (runs, params, metric summaries): each
 * run's params and metric summaries {last, min, max, count}, the union of their param and metric
 * keys, and the params whose values are not the same in every run (a run without the key counts as
 * one more value, so a key only some runs have differs).
 * @param runIds full run ids; an id given twice is answered once, in its first place
 * @throws NotFoundError naming the first id that is no run
 */
export async function compareRuns(db: StoreSession, runIds: readonly string[]): Promise<RunComparison> {
  const ids = [...new Set(runIds)];
  const bound = [listValue(ids)];
  const types = [LIST(VARCHAR)];
  const rows = await db.all(
    `SELECT r.id, r.name, e.name AS experiment, r.status, r.start_ms, r.end_ms
     FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE r.id IN (SELECT unnest($1))`,
    bound,
    types,
  );
  const byId = new Map<string, ComparedRun>();
  for (const row of rows) {
    const startMs = Number(row.start_ms);
    byId.set(row.id as string, {
      id: row.id as string,
      name: row.name as string,
      experiment: row.experiment as string,
      status: row.status as ComparedRun['status'],
      start_time: new Date(startMs).toISOString(),
      duration_ms: row.end_ms === null ? null : Number(row.end_ms) - startMs,
      params: {},
      metrics: {},
    });
  }
  const missing = ids.find((id) => !byId.has(id));
  if (missing !== undefined) throw new NotFoundError('/run_ids', missing, `no run with id ${JSON.stringify(missing)}`);

  const paramKeys = new Set<string>();
  for (const row of await db.all('SELECT run_id, key, value FROM params WHERE run_id IN (SELECT unnest($1)) ORDER BY key', bound, types)) {
    byId.get(row.run_id as string)!.params[row.key as string] = row.value as string;
    paramKeys.add(row.key as string);
  }
  const metricKeys = new Set<string>();
  const summaries = await db.all(
    'SELECT run_id, key, count, min_value, max_value, last_value FROM metric_summaries WHERE run_id IN (SELECT unnest($1)) ORDER BY key',
    bound,
    types,
  );
  for (const row of summaries) {
    byId.get(row.run_id as string)!.metrics[row.key as string] = {
      last: row.last_value as number | null,
      min: row.min_value as number | null,
      max: row.max_value as number | null,
      count: Number(row.count),
    };
    metricKeys.add(row.key as string);
  }

  const runs = ids.map((id) => byId.get(id)!);
  const sortedParamKeys = [...paramKeys].sort();
  return {
    runs,
    param_keys: sortedParamKeys,
    metric_keys: [...metricKeys].sort(),
    differing_params: sortedParamKeys.filter((key) => new Set(runs.map((run) => run.params[key])).size > 1),
  };
}
