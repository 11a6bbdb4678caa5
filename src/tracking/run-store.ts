import { randomUUID } from 'node:crypto';
import {
  DOUBLE,
  BIGINT,
  LIST,
  VARCHAR,
  DuckDBDataChunk,
  listValue,
  type DuckDBValue,
} from '@duckdb/node-api';
import type {
  Experiment,
  ExperimentList,
  HeartbeatReply,
  MetricHistory,
  MetricPoint,
  MetricSummary,
  Provenance,
  Run,
  RunCreate,
  RunDetail,
  RunList,
  RunUpdate,
} from '@opsbook/schema';
import { BadInputError, ConflictError, NotFoundError } from '../store/errors';
import type { SqlParams, SqlRow, SqlTypes, Store, StoreSession } from '../store/store';
import type { TrackingService } from './tracking-service';

export type RunStatus = Run['status'];

/** Filters of {@link RunStore.listRuns}. */
export interface RunFilter {
  experiment?: string;
  status?: RunStatus;
  /** Defaults to 1000. */
  limit?: number;
}

export const DEFAULT_EXPERIMENT = 'Default';
/** Upper bound of one metrics batch, as in `metrics-batch.schema.json`. */
export const MAX_METRICS_PER_BATCH = 50_000;
/** Most runs one list returns, as in `openapi.json`. */
export const MAX_LIST_LIMIT = 10_000;

/** Rows per data chunk: DuckDB's vector size. */
const CHUNK_ROWS = 2048;
const METRIC_COLUMN_TYPES = [VARCHAR, VARCHAR, DOUBLE, BIGINT, DOUBLE];
/** Orders points of one key: by step, then time, then arrival. */
const POINT_ORDER = '(step, timestamp_ms, rowid)';

const RUN_COLUMNS = `r.id, r.experiment_id, e.name AS experiment, r.name, r.status, r.start_ms, r.end_ms,
  r.source_type, r.source_code, r.source_error`;

/** Statuses a run can end with; a run moves from `running` to one of them once. */
const ENDED: readonly RunStatus[] = ['finished', 'failed', 'killed'];

/**
 * Experiments, runs, params, tags and metric points, kept in the workspace store.
 * Every method validates what the schemas cannot (conflicts, unknown runs) before writing anything.
 * A run's status moves once, `running → finished | failed | killed`; after that the run takes no
 * new status, params or metrics (only its name and tags may change).
 */
export class RunStore implements TrackingService {
  constructor(private readonly store: Store) {}

  /**
   * Starts a run, creating its experiment on first use; nested under `parent_run_id` when given.
   * @throws ConflictError when a run with the client-chosen id exists.
   * @throws BadInputError when `start_time` is not a date, or `parent_run_id` names no run.
   */
  createRun(input: RunCreate): Promise<Run> {
    return this.store.transaction(async (db) => {
      const id = input.id ?? randomUUID();
      const existing = await db.all('SELECT id FROM runs WHERE id = $1', [id]);
      if (existing.length > 0) throw new ConflictError('/id', id, `a run with id ${id} already exists`);
      const startMs = input.start_time === undefined ? Date.now() : parseTime('/start_time', input.start_time);
      if (input.parent_run_id !== undefined) await refuseUnknownParent(db, input.parent_run_id);
      const experimentId = await experimentIdFor(db, input.experiment ?? DEFAULT_EXPERIMENT);
      const [seq] = await db.all('SELECT coalesce(max(created_seq), 0) + 1 AS seq FROM runs');
      await db.run(
        `INSERT INTO runs (id, experiment_id, name, status, start_ms, end_ms, source_type, source_code, source_error, created_seq,
           parent_run_id, provenance)
         VALUES ($1, $2, $3, 'running', $4, NULL, $5, $6, $7, $8, $9, $10)`,
        [
          id,
          experimentId,
          input.name ?? `run-${id.slice(0, 8)}`,
          BigInt(startMs),
          input.source?.type ?? 'api',
          input.source?.code ?? null,
          input.source?.error ?? null,
          seq.seq as bigint,
          input.parent_run_id ?? null,
          input.provenance === undefined ? null : JSON.stringify(input.provenance),
        ],
      );
      await insertParams(db, id, input.params ?? {});
      await upsertTags(db, id, input.tags ?? {});
      if (input.heartbeat === true) {
        await db.run('INSERT INTO run_heartbeats (run_id, last_beat_ms) VALUES ($1, $2)', [id, BigInt(Date.now())]);
      }
      return readRun(db, id);
    });
  }

  /**
   * Ends, renames or re-tags a run. Setting a final status without `end_time` ends it now.
   * @throws NotFoundError when the run does not exist.
   * @throws ConflictError when the run has ended and the update would change its status, end time,
   *   error or code (the error's value is the run's status).
   * @throws BadInputError when `end_time` is not a date or lies before the start.
   */
  updateRun(runId: string, update: RunUpdate): Promise<Run> {
    return this.store.transaction(async (db) => {
      const run = await readRun(db, runId);
      const ending = update.status !== undefined || update.end_time !== undefined || update.error !== undefined || update.code !== undefined;
      if (ending) refuseIfEnded(run, 'cannot change its status, end time, error or code');
      const sets: string[] = [];
      const values: SqlParams = [];
      const set = (column: string, value: DuckDBValue): void => {
        values.push(value);
        sets.push(`${column} = $${values.length}`);
      };
      if (update.status !== undefined) set('status', update.status);
      if (update.end_time !== undefined || update.status !== undefined) {
        const endMs = update.end_time === undefined ? Date.now() : parseTime('/end_time', update.end_time);
        const startMs = Date.parse(run.start_time);
        if (endMs < startMs) {
          throw new BadInputError('/end_time', update.end_time, `/end_time is before the run's start ${run.start_time}`);
        }
        set('end_ms', BigInt(endMs));
      }
      if (update.name !== undefined) set('name', update.name);
      if (update.error !== undefined) set('source_error', update.error);
      if (update.code !== undefined) set('source_code', update.code);
      if (sets.length > 0) {
        values.push(runId);
        await db.run(`UPDATE runs SET ${sets.join(', ')} WHERE id = $${values.length}`, values);
      }
      await upsertTags(db, runId, update.tags ?? {});
      return readRun(db, runId);
    });
  }

  /**
   * Logs params; re-logging a key with the same value is fine.
   * @throws NotFoundError when the run does not exist.
   * @throws ConflictError when the run has ended (value: its status), or naming the first key
   *   already logged with a different value (nothing is written).
   */
  logParams(runId: string, params: Record<string, string>): Promise<RunDetail> {
    return this.store.transaction(async (db) => {
      refuseIfEnded(await readRun(db, runId), 'takes no more params');
      await insertParams(db, runId, params);
      return readDetail(db, runId);
    });
  }

  /**
   * Appends metric points (non-finite values are stored as null) through an appender, and folds
   * them into the run's metric summaries in the same transaction. A batch with a `batchId` the run
   * has already stored is not stored again (a sender's retry after a lost answer).
   * @returns the number of points the batch holds in the store.
   * @throws NotFoundError when the run does not exist.
   * @throws ConflictError when the run has ended (value: its status) and the batch is new.
   * @throws BadInputError when the batch is larger than {@link MAX_METRICS_PER_BATCH}.
   */
  logMetrics(runId: string, points: readonly MetricPoint[], batchId?: string): Promise<number> {
    if (points.length > MAX_METRICS_PER_BATCH) {
      return Promise.reject(
        new BadInputError('/metrics', points.length, `/metrics holds ${points.length} points; at most ${MAX_METRICS_PER_BATCH} per batch`),
      );
    }
    return this.store.transaction(async (db) => {
      const run = await readRun(db, runId);
      if (batchId !== undefined) {
        const [seen] = await db.all('SELECT points FROM metric_batches WHERE run_id = $1 AND batch_id = $2', [runId, batchId]);
        if (seen) return Number(seen.points);
      }
      refuseIfEnded(run, 'takes no more metrics');
      if (batchId !== undefined) {
        await db.run('INSERT INTO metric_batches VALUES ($1, $2, $3)', [runId, batchId, points.length]);
      }
      await foldIntoSummaries(db, runId, points);
      const appender = await db.connection.createAppender('metrics');
      try {
        for (let offset = 0; offset < points.length; offset += CHUNK_ROWS) {
          const slice = points.slice(offset, offset + CHUNK_ROWS);
          const chunk = DuckDBDataChunk.create(METRIC_COLUMN_TYPES, slice.length);
          chunk.setColumns([
            slice.map(() => runId),
            slice.map((p) => p.key),
            slice.map((p) => (p.value !== null && Number.isFinite(p.value) ? p.value : null)),
            slice.map((p) => BigInt(p.step)),
            slice.map((p) => p.timestamp),
          ]);
          appender.appendDataChunk(chunk);
        }
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
      return points.length;
    });
  }

  /**
   * Runs, newest first, each with the last value of each of its metrics.
   * @throws BadInputError when the limit is not an integer from 1 to {@link MAX_LIST_LIMIT}.
   */
  listRuns(filter: RunFilter = {}): Promise<RunList> {
    let limit: number;
    try {
      limit = checkRunFilter(filter);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.store.read(async (db) => {
      const where: string[] = [];
      const values: SqlParams = [];
      if (filter.experiment !== undefined) {
        values.push(filter.experiment);
        where.push(`e.name = $${values.length}`);
      }
      if (filter.status !== undefined) {
        values.push(filter.status);
        where.push(`r.status = $${values.length}`);
      }
      values.push(limit);
      const selected = `SELECT ${RUN_COLUMNS} FROM runs r JOIN experiments e ON e.id = r.experiment_id
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY r.start_ms DESC, r.created_seq DESC LIMIT $${values.length}`;
      const rows = await db.all(selected, values);
      const latest = await db.all(
        `WITH selected AS (${selected})
         SELECT m.run_id, m.key, m.last_value
         FROM metric_summaries m JOIN selected s ON s.id = m.run_id ORDER BY m.key`,
        values,
      );
      const byRun = new Map<string, Record<string, number | null>>();
      for (const row of latest) {
        const runId = row.run_id as string;
        const entry = byRun.get(runId) ?? {};
        entry[row.key as string] = row.last_value as number | null;
        byRun.set(runId, entry);
      }
      return { runs: rows.map((row) => ({ ...toRun(row), metrics_latest: byRun.get(row.id as string) ?? {} })) };
    });
  }

  /**
   * A run with params, metric summaries, tags and source, by id or unique id prefix.
   * @throws NotFoundError when no run matches.
   * @throws BadInputError when the prefix matches more than one run.
   */
  getRun(idOrPrefix: string): Promise<RunDetail> {
    return this.store.read(async (db) => readDetail(db, await resolveRunId(db, idOrPrefix)));
  }

  /**
   * The full id of the run an id or unique id prefix names.
   * @throws NotFoundError when no run matches.
   * @throws BadInputError when the prefix matches more than one run.
   */
  resolveRunId(idOrPrefix: string): Promise<string> {
    return this.store.read((db) => resolveRunId(db, idOrPrefix));
  }

  /**
   * Metric series for charts, downsampled to at most `maxPoints` per key (first and last kept).
   * @throws NotFoundError when the run does not exist.
   */
  metricHistory(runId: string, options: { key?: string; maxPoints?: number } = {}): Promise<MetricHistory> {
    const maxPoints = Math.max(2, options.maxPoints ?? 2000);
    return this.store.read(async (db) => {
      await readRun(db, runId);
      const values: SqlParams = [runId, maxPoints];
      let keyFilter = '';
      if (options.key !== undefined) {
        values.push(options.key);
        keyFilter = 'AND key = $3';
      }
      // Keeps, of n ordered points, each first point whose index k lands in a new bucket of
      // floor(k·(m−1)/(n−1)): exactly m points, the first (k = 0) and the last (k = n−1) among them.
      const rows = await db.all(
        `WITH points AS (
           SELECT key, step, value,
             row_number() OVER (PARTITION BY key ORDER BY ${POINT_ORDER}) - 1 AS k,
             count(*) OVER (PARTITION BY key) AS n
           FROM metrics WHERE run_id = $1 ${keyFilter}
         )
         SELECT key, step, value, n FROM points
         WHERE n <= $2 OR k = 0
            OR (k * ($2 - 1)) // (n - 1) <> ((k - 1) * ($2 - 1)) // (n - 1)
         ORDER BY key, k`,
        values,
      );
      const series = new Map<string, MetricHistory['series'][number]>();
      for (const row of rows) {
        const key = row.key as string;
        let entry = series.get(key);
        if (!entry) {
          entry = { key, count: Number(row.n), steps: [], values: [] };
          series.set(key, entry);
        }
        entry.steps.push(Number(row.step));
        entry.values.push(row.value as number | null);
      }
      return { run_id: runId, series: [...series.values()] };
    });
  }

  /**
   * Experiments with their run counts, oldest first.
   * @throws Error only when the store fails.
   */
  listExperiments(): Promise<ExperimentList> {
    return this.store.read(async (db) => {
      const rows = await db.all(
        `SELECT e.id, e.name, e.created_ms, count(r.id) AS run_count
         FROM experiments e LEFT JOIN runs r ON r.experiment_id = e.id
         GROUP BY e.id, e.name, e.created_ms ORDER BY e.created_ms, e.name`,
      );
      const experiments: Experiment[] = rows.map((row) => ({
        id: row.id as string,
        name: row.name as string,
        created_at: new Date(Number(row.created_ms)).toISOString(),
        run_count: Number(row.run_count),
      }));
      return { experiments };
    });
  }

  /**
   * Records a beat, made at `nowMs`, for the supervised runs among `runIds` that are still running.
   * @returns the status of each named run the store knows (unknown ids are left out).
   */
  heartbeat(runIds: readonly string[], nowMs: number = Date.now()): Promise<HeartbeatReply['runs']> {
    if (runIds.length === 0) return Promise.resolve([]);
    const ids = listValue([...runIds]);
    return this.store.transaction(async (db) => {
      await db.run(
        `UPDATE run_heartbeats SET last_beat_ms = $2
         WHERE list_contains($1, run_id) AND run_id IN (SELECT id FROM runs WHERE status = 'running')`,
        [ids, BigInt(nowMs)],
        [LIST(VARCHAR), BIGINT],
      );
      const rows = await db.all('SELECT id, status FROM runs WHERE list_contains($1, id) ORDER BY id', [ids], [LIST(VARCHAR)]);
      return rows.map((row) => ({ id: row.id as string, status: row.status as RunStatus }));
    });
  }

  /**
   * Ends as `killed`, at `nowMs`, every supervised run still running whose last beat is older than
   * `timeoutMs`. Beats before `notBeforeMs` count as made then (a daemon that was down saw none).
   * @returns the ids of the runs it ended.
   */
  killSilentRuns(timeoutMs: number, notBeforeMs: number, nowMs: number = Date.now()): Promise<string[]> {
    return this.store.transaction(async (db) => {
      const rows = await db.all(
        `UPDATE runs SET status = 'killed', end_ms = $1, source_error = $2
         WHERE status = 'running' AND id IN (
           SELECT run_id FROM run_heartbeats WHERE greatest(last_beat_ms, $3) < $1 - $4)
         RETURNING id`,
        [
          BigInt(nowMs),
          `killed: no heartbeat from the process that ran it for ${Math.round(timeoutMs / 1000)} s (its kernel stopped or died)`,
          BigInt(notBeforeMs),
          BigInt(timeoutMs),
        ],
      );
      const ids = rows.map((row) => row.id as string);
      if (ids.length > 0) await db.run('DELETE FROM run_heartbeats WHERE list_contains($1, run_id)', [listValue(ids)], [LIST(VARCHAR)]);
      return ids;
    });
  }
}

/**
 * Checks a run filter before any query runs.
 * @returns the limit to use.
 * @throws BadInputError when the limit is not an integer from 1 to {@link MAX_LIST_LIMIT}.
 */
export function checkRunFilter(filter: RunFilter): number {
  const limit = filter.limit ?? 1000;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new BadInputError('limit', limit, `limit must be an integer from 1 to ${MAX_LIST_LIMIT}: ${limit}`);
  }
  return limit;
}

/** @throws ConflictError naming the run's status when it has ended. */
function refuseIfEnded(run: Run, what: string): void {
  if (ENDED.includes(run.status)) {
    throw new ConflictError('status', run.status, `run ${run.id} has ended (${run.status}) and ${what}`);
  }
}

/** Per key of a batch: how many points, the extremes, and the last point by (step, time, arrival). */
async function foldIntoSummaries(db: StoreSession, runId: string, points: readonly MetricPoint[]): Promise<void> {
  const byKey = new Map<string, { count: number; min: number | null; max: number | null; last: MetricPoint }>();
  for (const point of points) {
    const value = point.value !== null && Number.isFinite(point.value) ? point.value : null;
    const entry = byKey.get(point.key);
    if (!entry) {
      byKey.set(point.key, { count: 1, min: value, max: value, last: point });
      continue;
    }
    entry.count += 1;
    if (value !== null) {
      entry.min = entry.min === null ? value : Math.min(entry.min, value);
      entry.max = entry.max === null ? value : Math.max(entry.max, value);
    }
    if (point.step > entry.last.step || (point.step === entry.last.step && point.timestamp >= entry.last.timestamp)) entry.last = point;
  }
  const later = 'excluded.last_step > last_step OR (excluded.last_step = last_step AND excluded.last_timestamp_ms >= last_timestamp_ms)';
  // One statement for every key of the batch: each upsert statement costs milliseconds.
  const rows: string[] = [];
  const values: SqlParams = [];
  const types: SqlTypes = [];
  for (const [key, entry] of byKey) {
    const lastValue = entry.last.value !== null && Number.isFinite(entry.last.value) ? entry.last.value : null;
    const first = values.length;
    rows.push(`(${Array.from({ length: 8 }, (_, i) => `$${first + i + 1}`).join(', ')})`);
    values.push(runId, key, entry.count, entry.min, entry.max, lastValue, BigInt(entry.last.step), entry.last.timestamp);
    types.push(VARCHAR, VARCHAR, BIGINT, DOUBLE, DOUBLE, DOUBLE, BIGINT, DOUBLE);
  }
  if (rows.length === 0) return;
  await db.run(
    `INSERT INTO metric_summaries VALUES ${rows.join(', ')}
     ON CONFLICT (run_id, key) DO UPDATE SET
       count = count + excluded.count,
       min_value = least(min_value, excluded.min_value),
       max_value = greatest(max_value, excluded.max_value),
       last_value = CASE WHEN ${later} THEN excluded.last_value ELSE last_value END,
       last_timestamp_ms = CASE WHEN ${later} THEN excluded.last_timestamp_ms ELSE last_timestamp_ms END,
       last_step = greatest(last_step, excluded.last_step)`,
    values,
    types,
  );
}

function parseTime(field: string, text: string): number {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new BadInputError(field, text, `${field} is not a date-time: ${JSON.stringify(text)}`);
  return ms;
}

async function experimentIdFor(db: StoreSession, name: string): Promise<string> {
  const [found] = await db.all('SELECT id FROM experiments WHERE name = $1', [name]);
  if (found) return found.id as string;
  const id = randomUUID();
  await db.run('INSERT INTO experiments (id, name, created_ms) VALUES ($1, $2, $3)', [id, name, BigInt(Date.now())]);
  return id;
}

async function insertParams(db: StoreSession, runId: string, params: Record<string, string>): Promise<void> {
  const entries = Object.entries(params);
  if (entries.length === 0) return;
  const existing = new Map(
    (await db.all('SELECT key, value FROM params WHERE run_id = $1', [runId])).map((r) => [r.key as string, r.value as string]),
  );
  for (const [key, value] of entries) {
    const before = existing.get(key);
    if (before !== undefined && before !== value) {
      throw new ConflictError(
        `/params/${key}`,
        value,
        `param ${JSON.stringify(key)} is already logged as ${JSON.stringify(before)}; it cannot change to ${JSON.stringify(value)}`,
      );
    }
  }
  for (const [key, value] of entries) {
    if (existing.has(key)) continue;
    await db.run('INSERT INTO params (run_id, key, value) VALUES ($1, $2, $3)', [runId, key, value]);
  }
}

async function upsertTags(db: StoreSession, runId: string, tags: Record<string, string>): Promise<void> {
  for (const [key, value] of Object.entries(tags)) {
    await db.run(
      `INSERT INTO tags (run_id, key, value) VALUES ($1, $2, $3)
       ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value`,
      [runId, key, value],
    );
  }
}

/** @throws BadInputError naming `parent_run_id` when no run has that id. */
async function refuseUnknownParent(db: StoreSession, parentId: string): Promise<void> {
  const [parent] = await db.all('SELECT id FROM runs WHERE id = $1', [parentId]);
  if (!parent) throw new BadInputError('/parent_run_id', parentId, `/parent_run_id names no run: ${JSON.stringify(parentId)}`);
}

async function resolveRunId(db: StoreSession, idOrPrefix: string): Promise<string> {
  const [exact] = await db.all('SELECT id FROM runs WHERE id = $1', [idOrPrefix]);
  if (exact) return exact.id as string;
  const matches = idOrPrefix.length === 0 ? [] : await db.all('SELECT id FROM runs WHERE starts_with(id, $1) LIMIT 2', [idOrPrefix]);
  if (matches.length === 0) throw new NotFoundError('run_id', idOrPrefix, `no run with id ${JSON.stringify(idOrPrefix)}`);
  if (matches.length > 1) {
    throw new BadInputError('run_id', idOrPrefix, `run id prefix ${JSON.stringify(idOrPrefix)} matches more than one run; give more characters`);
  }
  return matches[0].id as string;
}

async function readRun(db: StoreSession, runId: string): Promise<Run> {
  const [row] = await db.all(`SELECT ${RUN_COLUMNS} FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE r.id = $1`, [runId]);
  if (!row) throw new NotFoundError('run_id', runId, `no run with id ${JSON.stringify(runId)}`);
  return toRun(row);
}

async function readDetail(db: StoreSession, runId: string): Promise<RunDetail> {
  const [row] = await db.all(`SELECT ${RUN_COLUMNS} FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE r.id = $1`, [runId]);
  if (!row) throw new NotFoundError('run_id', runId, `no run with id ${JSON.stringify(runId)}`);
  const params = await db.all('SELECT key, value FROM params WHERE run_id = $1 ORDER BY key', [runId]);
  const [nesting] = await db.all(
    'SELECT parent_run_id, provenance, (SELECT count(*) FROM runs c WHERE c.parent_run_id = r.id) AS child_count FROM runs r WHERE id = $1',
    [runId],
  );
  const tags = await db.all('SELECT key, value FROM tags WHERE run_id = $1 ORDER BY key', [runId]);
  const summaries = await db.all(
    'SELECT key, count, last_value, min_value, max_value, last_step FROM metric_summaries WHERE run_id = $1 ORDER BY key',
    [runId],
  );
  const metrics: MetricSummary[] = summaries.map((s) => ({
    key: s.key as string,
    count: Number(s.count),
    last: s.last_value as number | null,
    min: s.min_value as number | null,
    max: s.max_value as number | null,
    last_step: Number(s.last_step),
  }));
  const source: RunDetail['source'] = { type: row.source_type as RunDetail['source']['type'] };
  if (row.source_code !== null) source.code = row.source_code as string;
  if (row.source_error !== null) source.error = row.source_error as string;
  return {
    run: toRun(row),
    params: params.map((p) => ({ key: p.key as string, value: p.value as string })),
    metrics,
    tags: Object.fromEntries(tags.map((t) => [t.key as string, t.value as string])),
    source,
    parent_run_id: nesting.parent_run_id as string | null,
    child_count: Number(nesting.child_count),
    ...(nesting.provenance === null ? {} : { provenance: JSON.parse(nesting.provenance as string) as Provenance }),
  };
}

function toRun(row: SqlRow): Run {
  const startMs = Number(row.start_ms);
  const endMs = row.end_ms === null ? null : Number(row.end_ms);
  return {
    id: row.id as string,
    experiment_id: row.experiment_id as string,
    experiment: row.experiment as string,
    name: row.name as string,
    status: row.status as RunStatus,
    start_time: new Date(startMs).toISOString(),
    end_time: endMs === null ? null : new Date(endMs).toISOString(),
    duration_ms: endMs === null ? null : endMs - startMs,
    source_type: row.source_type as Run['source_type'],
  };
}
