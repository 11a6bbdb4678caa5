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
  MetricSeries,
  MetricSummary,
  Provenance,
  Run,
  RunComparison,
  RunCreate,
  RunDetail,
  RunList,
  RunUpdate,
} from '@opsbook/schema';
import { BadInputError, ConflictError, NotFoundError } from '../store/errors';
import { compareRuns } from './compare';
import { DEFAULT_MAX_POINTS, readDownsampled, type SeriesX } from './downsample';
import type { SqlParams, SqlRow, SqlTypes, Store, StoreSession } from '../store/store';
import { buildRunCountQuery, buildRunListQuery, type RunListQuery } from './run-filter';
import type { TrackingService } from './tracking-service';

export type RunStatus = Run['status'];

/** What {@link RunStore.listRuns} lists: the query of `listRuns` (see `run-filter.ts`). */
export interface RunFilter extends Omit<RunListQuery, 'limit' | 'status'> {
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

const RUN_COLUMNS = `r.id, r.experiment_id, e.name AS experiment, r.name, r.status, r.start_ms, r.end_ms,
  r.source_type, r.source_code, r.source_error`;

/**
 * What one committed write changed, as {@link RunStore.onChange} tells it: a run was created, updated,
 * ended or annotated, or took params (`run`); a metrics batch was stored (`metrics`: its keys, its
 * largest step and its number of points).
 */
export type RunChange =
  | { kind: 'run'; runId: string }
  | { kind: 'metrics'; runId: string; keys: string[]; lastStep: number; count: number };

/** Told of each committed change; it must not throw (a write that committed stays committed). */
export type RunChangeListener = (change: RunChange) => void;

/** Statuses a run can end with; a run moves from `running` to one of them once. */
const ENDED: readonly RunStatus[] = ['finished', 'failed', 'killed'];

/**
 * Experiments, runs, params, tags and metric points, kept in the workspace store.
 * Every method validates what the schemas cannot (conflicts, unknown runs) before writing anything.
 * A run's status moves once, `running → finished | failed | killed`; after that the run takes no
 * new status, params or metrics (only its name and tags may change).
 */
export class RunStore implements TrackingService {
  private readonly listeners = new Set<RunChangeListener>();

  constructor(private readonly store: Store) {}

  /**
   * Subscribes to the changes of committed writes (never of writes that were refused or rolled back).
   * Listeners run synchronously after the commit, in subscription order.
   * @returns a function that unsubscribes
   */
  onChange(listener: RunChangeListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Tells the listeners of a committed change, then hands the write's result on. */
  private committed<T>(result: T, change: RunChange): T {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch {
        // A listener's failure is its own: the write it hears about has committed and must not fail.
      }
    }
    return result;
  }

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
    }).then((run) => this.committed(run, { kind: 'run', runId: run.id }));
  }

  /**
   * Ends, renames, re-tags (a null tag value removes the tag), stars, annotates, soft-deletes
   * (`deleted: true`) or restores a run. Setting a final status without `end_time` ends it now.
   * @returns the run as {@link listRuns} lists it.
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
      if (update.starred !== undefined) set('starred', update.starred);
      if (update.notes !== undefined) set('notes', update.notes);
      if (update.deleted === false) sets.push('deleted_ms = NULL');
      if (update.deleted === true) {
        // Deleting a deleted run again keeps the time it was first deleted.
        values.push(BigInt(Date.now()));
        sets.push(`deleted_ms = coalesce(deleted_ms, $${values.length})`);
      }
      if (sets.length > 0) {
        values.push(runId);
        await db.run(`UPDATE runs SET ${sets.join(', ')} WHERE id = $${values.length}`, values);
      }
      const tags = Object.entries(update.tags ?? {});
      await upsertTags(db, runId, Object.fromEntries(tags.filter((entry): entry is [string, string] => entry[1] !== null)));
      const removed = tags.filter(([, value]) => value === null).map(([key]) => key);
      if (removed.length > 0) {
        await db.run('DELETE FROM tags WHERE run_id = $1 AND list_contains($2, key)', [runId, listValue(removed)], [VARCHAR, LIST(VARCHAR)]);
      }
      return readListedRun(db, runId);
    }).then((run) => this.committed(run, { kind: 'run', runId }));
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
    }).then((detail) => this.committed(detail, { kind: 'run', runId }));
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
    let stored = false;
    return this.store.transaction(async (db) => {
      const run = await readRun(db, runId);
      if (batchId !== undefined) {
        const [seen] = await db.all('SELECT points FROM metric_batches WHERE run_id = $1 AND batch_id = $2', [runId, batchId]);
        if (seen) return Number(seen.points);
      }
      stored = true;
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
    }).then((count) => (stored && count > 0 ? this.committed(count, { kind: 'metrics', runId, ...batchExtent(points), count }) : count));
  }

  /**
   * Runs matching a filter (docs/filter.md), sorted (newest first by default), one page of them,
   * each with its params, tags, annotations, child count and the last value of each metric;
   * `total` counts the matching runs before the page. Soft-deleted runs are left out unless
   * `deleted` is `include` or `only`. One statement, however many runs.
   * @throws BadInputError when the limit is not an integer from 1 to {@link MAX_LIST_LIMIT}, the
   *   offset is negative, or the filter (field `filter`, with the position) or sort does not parse.
   */
  async listRuns(filter: RunFilter = {}): Promise<RunList> {
    return JSON.parse(await this.listRunsText(filter)) as RunList;
  }

  /**
   * {@link listRuns} as the JSON text of its `run-list.schema.json` document, written by DuckDB:
   * what the API sends, with no objects built in between.
   * @throws BadInputError as {@link listRuns} does.
   */
  listRunsText(filter: RunFilter = {}): Promise<string> {
    let query: RunListQuery;
    try {
      query = { ...filter, limit: checkRunFilter(filter) };
      buildRunListQuery(query);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.store.read(async (db) => {
      const { sql, values, types } = buildRunListQuery(query);
      const rows = await db.all(sql, values, types);
      if (rows.length > 0) return `{"runs":[${rows.map((row) => row.run_json as string).join(',')}],"total":${Number(rows[0].total)}}`;
      let total = 0;
      if ((query.offset ?? 0) > 0) {
        const count = buildRunCountQuery(query);
        total = Number((await db.all(count.sql, count.values, count.types))[0].total);
      }
      return `{"runs":[],"total":${total}}`;
    });
  }

  /**
   * One run as {@link listRuns} gives it (same query, same shape), or null when it does not exist.
   * @throws Error only when the store fails.
   */
  async listItem(runId: string): Promise<Run | null> {
    const { runs } = await this.listRuns({ runId, limit: 1 });
    return runs[0] ?? null;
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
   * Metric series of one run for charts, each downsampled in the store to at most `maxPoints` points
   * (default 2000) keeping its extremes and its first and last point (see `downsample.ts`); with
   * `x: 'time'` ordered and bucketed by time, and carrying timestamps.
   * @throws NotFoundError when the run does not exist.
   * @throws BadInputError when `maxPoints` is not an integer ≥ 2.
   */
  metricHistory(runId: string, options: { key?: string; maxPoints?: number; x?: SeriesX } = {}): Promise<MetricHistory> {
    const maxPoints = options.maxPoints ?? DEFAULT_MAX_POINTS;
    const x = options.x ?? 'step';
    if (!Number.isInteger(maxPoints) || maxPoints < 2) {
      return Promise.reject(new BadInputError('max_points', maxPoints, `max_points must be an integer of at least 2: ${maxPoints}`));
    }
    return this.store.read(async (db) => {
      await readRun(db, runId);
      const sql = `SELECT key AS series, step, timestamp_ms, value, rowid AS r FROM metrics
        WHERE run_id = $1 ${options.key === undefined ? '' : 'AND key = $2'}`;
      const source = options.key === undefined ? { sql, params: [runId], types: [VARCHAR] } : { sql, params: [runId, options.key], types: [VARCHAR, VARCHAR] };
      const series = await readDownsampled(db, source, maxPoints, x);
      return { run_id: runId, series: [...series].map(([key, points]) => ({ key, ...points })) };
    });
  }

  /**
   * One metric of several runs, each series downsampled as in {@link metricHistory}, for overlay
   * charts. A run that never logged the key gets an empty series.
   * @returns one series per run, in the order of `runIds` (an id given twice is answered once)
   * @throws NotFoundError naming the first id that is no run.
   * @throws BadInputError when `maxPoints` is not an integer ≥ 2.
   */
  metricSeries(runIds: readonly string[], key: string, options: { maxPoints?: number; x?: SeriesX } = {}): Promise<MetricSeries> {
    const maxPoints = options.maxPoints ?? DEFAULT_MAX_POINTS;
    const x = options.x ?? 'step';
    if (!Number.isInteger(maxPoints) || maxPoints < 2) {
      return Promise.reject(new BadInputError('max_points', maxPoints, `max_points must be an integer of at least 2: ${maxPoints}`));
    }
    const ids = [...new Set(runIds)];
    return this.store.read(async (db) => {
      const found = await db.all('SELECT id FROM runs WHERE list_contains($1, id)', [listValue(ids)], [LIST(VARCHAR)]);
      const known = new Set(found.map((row) => row.id as string));
      const missing = ids.find((id) => !known.has(id));
      if (missing !== undefined) throw new NotFoundError('runs', missing, `no run with id ${JSON.stringify(missing)}`);
      const source = {
        sql: `SELECT run_id AS series, step, timestamp_ms, value, rowid AS r FROM metrics
          WHERE key = $2 AND run_id IN (SELECT unnest($1))`,
        params: [listValue(ids), key],
        types: [LIST(VARCHAR), VARCHAR],
      };
      const series = await readDownsampled(db, source, maxPoints, x);
      const empty = (): MetricSeries['series'][number] => ({ run_id: '', count: 0, steps: [], values: [], ...(x === 'time' ? { timestamps: [] } : {}) });
      return { key, x, series: ids.map((id) => ({ ...(series.get(id) ?? empty()), run_id: id })) };
    });
  }

  /**
   * Runs side by side: params, metric summaries, and which params differ (see `compare.ts`).
   * @throws NotFoundError naming the first id that is no run.
   */
  compareRuns(runIds: readonly string[]): Promise<RunComparison> {
    return this.store.read((db) => compareRuns(db, runIds));
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
    }).then((ids) => {
      for (const runId of ids) this.committed(undefined, { kind: 'run', runId });
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
  const offset = filter.offset ?? 0;
  if (!Number.isInteger(offset) || offset < 0) throw new BadInputError('offset', offset, `offset must be an integer of 0 or more: ${offset}`);
  return limit;
}

/** The keys of a batch and its largest step, for the change it makes. */
function batchExtent(points: readonly MetricPoint[]): { keys: string[]; lastStep: number } {
  const keys = new Set<string>();
  let lastStep = -Infinity;
  for (const point of points) {
    keys.add(point.key);
    if (point.step > lastStep) lastStep = point.step;
  }
  return { keys: [...keys].sort(), lastStep };
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

/** A run as the list gives it, read in the session of a write (its answer). */
async function readListedRun(db: StoreSession, runId: string): Promise<Run> {
  const { sql, values, types } = buildRunListQuery({ runId, limit: 1 });
  const [row] = await db.all(sql, values, types);
  if (!row) throw new NotFoundError('run_id', runId, `no run with id ${JSON.stringify(runId)}`);
  return toListedRun(row);
}

/** A row of {@link buildRunListQuery} as a list item of `run.schema.json`. */
function toListedRun(row: SqlRow): Run {
  return JSON.parse(row.run_json as string) as Run;
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
