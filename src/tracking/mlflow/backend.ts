import { randomUUID } from 'node:crypto';
import type {
  Experiment,
  ExperimentList,
  MetricHistory,
  MetricPoint,
  MetricSummary,
  Run,
  RunCreate,
  RunDetail,
  RunList,
  RunUpdate,
} from '@opsbook/schema';
import { BadInputError, ConflictError, NotFoundError } from '../../store/errors';
import { DEFAULT_MAX_POINTS, type SeriesX } from '../downsample';
import { DEFAULT_EXPERIMENT, MAX_LIST_LIMIT, MAX_METRICS_PER_BATCH, type RunFilter, type RunStatus } from '../run-store';
import { DEFAULT_HEARTBEAT_TIMEOUT_MS } from '../run-supervisor';
import type { TrackingService } from '../tracking-service';
import { MlflowError, type MlflowClient, type MlflowExperiment, type MlflowRun } from './client';
import {
  filterString,
  isUuid,
  keyValues,
  MLFLOW_PARENT_TAG,
  MLFLOW_RUN_NAME_TAG,
  mlflowMetric,
  mlflowStatus,
  OPSBOOK_RUN_ID_TAG,
  opsbookIdFor,
  opsbookPoint,
  opsbookStatus,
  recordOf,
} from './mapping';

/** Tags the backend keeps on MLflow runs for what MLflow has no field of its own for. */
const SOURCE_TYPE_TAG = 'opsbook.source_type';
const SOURCE_CODE_TAG = 'opsbook.source_code';
const SOURCE_ERROR_TAG = 'opsbook.source_error';
const PARENT_TAG = 'opsbook.parent_run_id';
const STARRED_TAG = 'opsbook.starred';
/** MLflow's own tag for a run's notes (its UI shows it as the description). */
const NOTE_TAG = 'mlflow.note.content';
/** Tags the backend reads into fields and so leaves out of a run's tags. */
const FIELD_TAGS = new Set([OPSBOOK_RUN_ID_TAG, SOURCE_TYPE_TAG, SOURCE_CODE_TAG, SOURCE_ERROR_TAG, PARENT_TAG, STARRED_TAG, NOTE_TAG]);
/** MLflow refuses longer tag values (MAX_TAG_VAL_LENGTH). */
const MAX_TAG_VALUE = 8000;
/** Batch ids remembered per run, for a sender's retries. */
const REMEMBERED_BATCHES = 1000;
const ENDED: readonly RunStatus[] = ['finished', 'failed', 'killed'];

/** Asked of the MLflow backend for something only the local store does. */
export class NotWithMlflowError extends BadInputError {
  constructor(what: string) {
    super('tracking.backend', 'mlflow', `${what} is not available with tracking.backend mlflow (the workspace's runs live on an MLflow server)`);
    this.name = 'NotWithMlflowError';
  }
}

/**
 * The core tracking operations on an MLflow tracking server (`tracking.backend: mlflow`). Opsbook's
 * run ids are UUIDs its clients choose before a run exists, MLflow picks its own: each MLflow run the
 * backend creates carries its Opsbook id in the tag `opsbook.run_id`, and a run created in MLflow by
 * anything else is known by the UUID spelled with its MLflow id's 32 hex digits. Experiments are
 * matched by name. Runs created with `heartbeat: true` are supervised in memory ({@link beat}): a
 * kernel that dies has its MLflow run ended KILLED once the daemon next hears a beat or reads runs
 * (a daemon that restarts forgets them, and leaves them RUNNING).
 * Errors of the server become NotFoundError (unknown run), BadInputError (MLflow refused a value)
 * or, when it cannot be reached, {@link MlflowError} with status 0 (the daemon answers 503).
 */
export class MlflowBackend implements TrackingService {
  /** Opsbook id → MLflow run id, for runs seen. */
  private readonly mlflowIds = new Map<string, string>();
  /** Final statuses this backend has seen or set, so a late batch gets its 409 without a round trip. */
  private readonly endedRuns = new Map<string, RunStatus>();
  private readonly batches = new Map<string, string[]>();
  /** Batches being sent, by run and batch id: a retry that comes while the first is in flight waits for it. */
  private readonly sending = new Map<string, Promise<number>>();
  private readonly experiments = new Map<string, MlflowExperiment>();
  /** Runs created with `heartbeat: true` and still running here → when their process last beat. */
  private readonly beats = new Map<string, number>();
  /** The daemon's heartbeat timeout, as its supervisor tells it with each beat. */
  private heartbeatTimeoutMs = DEFAULT_HEARTBEAT_TIMEOUT_MS;

  constructor(readonly client: MlflowClient) {}

  /** @throws ConflictError when a run with the client-chosen id exists. */
  async createRun(input: RunCreate): Promise<Run> {
    const id = input.id ?? randomUUID();
    // Only the tag can name a client-chosen id: a UUID the client drew never spells an MLflow id.
    if ((await this.findMlflowId(id, false)) !== null) throw new ConflictError('/id', id, `a run with id ${id} already exists`);
    const startMs = input.start_time === undefined ? Date.now() : parseTime('/start_time', input.start_time);
    const experiment = await this.experimentNamed(input.experiment ?? DEFAULT_EXPERIMENT);
    const name = input.name ?? `run-${id.slice(0, 8)}`;
    const tags: Record<string, string> = { ...(input.tags ?? {}), [OPSBOOK_RUN_ID_TAG]: id, [MLFLOW_RUN_NAME_TAG]: name };
    tags[SOURCE_TYPE_TAG] = input.source?.type ?? 'api';
    if (input.source?.code !== undefined) tags[SOURCE_CODE_TAG] = clip(input.source.code);
    if (input.source?.error !== undefined) tags[SOURCE_ERROR_TAG] = clip(input.source.error);
    const parent = (input as { parent_run_id?: string | null }).parent_run_id;
    if (parent) {
      const parentMlflowId = await this.findMlflowId(parent);
      if (parentMlflowId === null) throw new NotFoundError('/parent_run_id', parent, `no run with id ${JSON.stringify(parent)} to nest under`);
      tags[PARENT_TAG] = parent;
      tags[MLFLOW_PARENT_TAG] = parentMlflowId;
    }
    const created = await this.client.createRun({ experimentId: experiment.experiment_id, name, startTime: startMs, tags: keyValues(tags) });
    this.mlflowIds.set(id, created.info.run_id);
    if (input.heartbeat === true) this.beats.set(id, Date.now());
    if (input.params && Object.keys(input.params).length > 0) await this.client.logBatch(created.info.run_id, { params: keyValues(input.params) });
    return toRun(await this.client.getRun(created.info.run_id), experiment.name);
  }

  /** @throws NotFoundError when no run has this id. */
  async getRun(id: string): Promise<RunDetail> {
    await this.killSilentRuns();
    const run = await this.mlflowRun(id);
    const experiment = await this.experimentById(run.info.experiment_id);
    const summaries: MetricSummary[] = [];
    for (const key of metricKeys(run)) {
      const points = sortPoints((await this.client.metricHistory(run.info.run_id, key)).map(opsbookPoint), 'step');
      const values = points.map((p) => p.value).filter((v): v is number => v !== null);
      const last = points[points.length - 1];
      summaries.push({
        key,
        count: points.length,
        last: last?.value ?? null,
        min: values.length ? Math.min(...values) : null,
        max: values.length ? Math.max(...values) : null,
        last_step: last?.step ?? 0,
      });
    }
    const tags = recordOf(run.data.tags);
    const source: RunDetail['source'] = { type: sourceType(tags) };
    if (tags[SOURCE_CODE_TAG] !== undefined) source.code = tags[SOURCE_CODE_TAG];
    if (tags[SOURCE_ERROR_TAG] !== undefined) source.error = tags[SOURCE_ERROR_TAG];
    const item = toRun(run, experiment.name);
    return {
      run: item,
      params: keyValues(recordOf(run.data.params)),
      metrics: summaries,
      tags: item.tags ?? {},
      source,
      parent_run_id: item.parent_run_id ?? null,
      child_count: 0,
    };
  }

  /**
   * Runs newest first, filtered by experiment and status.
   * @throws NotWithMlflowError for the filter grammar, another sort, an offset, deleted runs or a parent.
   * @throws BadInputError when the limit is not an integer from 1 to 10,000.
   */
  async listRuns(filter: RunFilter = {}): Promise<RunList> {
    const limit = filter.limit ?? 1000;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw new BadInputError('limit', limit, `limit must be an integer from 1 to ${MAX_LIST_LIMIT}: ${limit}`);
    }
    const extra = filter as { filter?: string; sort?: string; order?: string; offset?: number; deleted?: string; parent?: string };
    if (extra.filter) throw new NotWithMlflowError('filtering runs with a filter expression');
    if (extra.sort !== undefined && extra.sort !== 'start_time') throw new NotWithMlflowError(`sorting runs by ${extra.sort}`);
    if (extra.offset) throw new NotWithMlflowError('an offset into the run list');
    if (extra.deleted !== undefined && extra.deleted !== 'exclude') throw new NotWithMlflowError('listing deleted runs');
    if (extra.parent) throw new NotWithMlflowError('listing the runs nested under a run');
    await this.killSilentRuns();
    let experiments: MlflowExperiment[];
    if (filter.experiment !== undefined) {
      const found = await this.client.getExperimentByName(filter.experiment);
      experiments = found ? [found] : [];
    } else {
      experiments = await this.client.listExperiments();
    }
    if (experiments.length === 0) return { runs: [], total: 0 };
    const names = new Map(experiments.map((e) => [e.experiment_id, e.name]));
    const status = filter.status === undefined ? undefined : `attributes.status = ${filterString(mlflowStatus(filter.status))}`;
    const runs = await this.client.searchRuns([...names.keys()], {
      filter: status,
      limit,
      orderBy: [`attributes.start_time ${extra.order === 'asc' ? 'ASC' : 'DESC'}`],
    });
    for (const run of runs) this.remember(run);
    const total = runs.length < limit ? runs.length : (await this.client.searchRuns([...names.keys()], { filter: status })).length;
    return { runs: runs.map((run) => toRun(run, names.get(run.info.experiment_id) ?? '')), total };
  }

  /**
   * @throws NotFoundError when no run has this id.
   * @throws ConflictError when the run has ended and the update would change its status, end time, error or code.
   * @throws NotWithMlflowError for a soft delete or restore.
   */
  async updateRun(id: string, update: RunUpdate): Promise<Run> {
    const extra = update as RunUpdate & { starred?: boolean; notes?: string; deleted?: boolean };
    if (extra.deleted !== undefined) throw new NotWithMlflowError('deleting or restoring a run');
    const run = await this.mlflowRun(id);
    const status = opsbookStatus(run.info.status);
    const ending = update.status !== undefined || update.end_time !== undefined || update.error !== undefined || update.code !== undefined;
    if (ending && ENDED.includes(status)) {
      throw new ConflictError('status', status, `run ${id} has ended (${status}) and cannot change its status, end time, error or code`);
    }
    const runId = run.info.run_id;
    const setTags: Record<string, string> = {};
    const removeTags: string[] = [];
    for (const [key, value] of Object.entries((update.tags ?? {}) as Record<string, string | null>)) {
      if (value === null) removeTags.push(key);
      else setTags[key] = value;
    }
    if (update.error !== undefined) setTags[SOURCE_ERROR_TAG] = clip(update.error);
    if (update.code !== undefined) setTags[SOURCE_CODE_TAG] = clip(update.code);
    if (extra.notes !== undefined) setTags[NOTE_TAG] = clip(extra.notes);
    if (extra.starred !== undefined) setTags[STARRED_TAG] = String(extra.starred);
    if (Object.keys(setTags).length > 0) await this.client.logBatch(runId, { tags: keyValues(setTags) });
    for (const key of removeTags) {
      try {
        await this.client.deleteTag(runId, key);
      } catch (error) {
        // Removing a tag the run does not have is no change.
        if (!(error instanceof MlflowError && error.errorCode === 'RESOURCE_DOES_NOT_EXIST')) throw error;
      }
    }
    const endMs = update.end_time === undefined ? (update.status !== undefined ? Date.now() : undefined) : parseTime('/end_time', update.end_time);
    if (endMs !== undefined && endMs < Number(run.info.start_time ?? 0)) {
      throw new BadInputError('/end_time', update.end_time, `/end_time is before the run's start ${new Date(Number(run.info.start_time)).toISOString()}`);
    }
    if (update.status !== undefined || endMs !== undefined || update.name !== undefined) {
      await this.client.updateRun(runId, {
        status: update.status === undefined ? undefined : mlflowStatus(update.status),
        endTime: endMs,
        name: update.name,
      });
    }
    if (update.status !== undefined) {
      this.endedRuns.set(id, update.status);
      this.beats.delete(id);
    }
    const after = await this.client.getRun(runId);
    return toRun(after, (await this.experimentById(after.info.experiment_id)).name);
  }

  /** @throws NotFoundError; ConflictError when the run has ended or a key is already logged with another value. */
  async logParams(id: string, params: Record<string, string>): Promise<RunDetail> {
    const run = await this.mlflowRun(id);
    const status = opsbookStatus(run.info.status);
    if (ENDED.includes(status)) throw new ConflictError('status', status, `run ${id} has ended (${status}) and takes no more params`);
    const before = recordOf(run.data.params);
    for (const [key, value] of Object.entries(params)) {
      if (before[key] !== undefined && before[key] !== value) {
        throw new ConflictError(
          `/params/${key}`,
          value,
          `param ${JSON.stringify(key)} is already logged as ${JSON.stringify(before[key])}; it cannot change to ${JSON.stringify(value)}`,
        );
      }
    }
    const fresh = Object.fromEntries(Object.entries(params).filter(([key]) => before[key] === undefined));
    if (Object.keys(fresh).length > 0) await this.client.logBatch(run.info.run_id, { params: keyValues(fresh) });
    return this.getRun(id);
  }

  /**
   * Sends the points in `runs/log-batch` calls of at most 1000; a batch id seen before for the run is
   * not sent again.
   * @throws NotFoundError; ConflictError when the run has ended and the batch is new; BadInputError for too many points.
   */
  async logMetrics(id: string, points: readonly MetricPoint[], batchId?: string): Promise<number> {
    if (points.length > MAX_METRICS_PER_BATCH) {
      throw new BadInputError('/metrics', points.length, `a batch holds at most ${MAX_METRICS_PER_BATCH} points, not ${points.length}`);
    }
    if (batchId !== undefined && this.batches.get(id)?.includes(batchId)) return points.length;
    const key = `${id} ${batchId ?? randomUUID()}`;
    const inFlight = this.sending.get(key);
    if (inFlight) return inFlight;
    const sent = this.sendMetrics(id, points, batchId).finally(() => this.sending.delete(key));
    this.sending.set(key, sent);
    return sent;
  }

  private async sendMetrics(id: string, points: readonly MetricPoint[], batchId: string | undefined): Promise<number> {
    let ended = this.endedRuns.get(id);
    const mlflowId = await this.mlflowIdOf(id);
    if (ended === undefined) {
      const status = opsbookStatus((await this.client.getRun(mlflowId)).info.status);
      if (ENDED.includes(status)) ended = status;
    }
    if (ended !== undefined) throw new ConflictError('status', ended, `run ${id} has ended (${ended}) and takes no more metrics`);
    await this.client.logBatch(mlflowId, { metrics: points.map(mlflowMetric) });
    if (batchId !== undefined) {
      const seen = this.batches.get(id) ?? [];
      seen.push(batchId);
      if (seen.length > REMEMBERED_BATCHES) seen.shift();
      this.batches.set(id, seen);
    }
    return points.length;
  }

  /**
   * Every point of each key (or of `key`) from MLflow, ordered by `x`, downsampled to `maxPoints`
   * per key keeping the first and last point and each bucket's lowest and highest value.
   * @throws NotFoundError when the run does not exist.
   */
  async metricHistory(id: string, options: { key?: string; maxPoints?: number; x?: SeriesX } = {}): Promise<MetricHistory> {
    const run = await this.mlflowRun(id);
    const x = options.x ?? 'step';
    const maxPoints = options.maxPoints ?? DEFAULT_MAX_POINTS;
    const keys = metricKeys(run).filter((key) => options.key === undefined || key === options.key);
    const series: MetricHistory['series'] = [];
    for (const key of keys) {
      const all = sortPoints((await this.client.metricHistory(run.info.run_id, key)).map(opsbookPoint), x);
      const kept = downsample(all, maxPoints, x);
      const entry: MetricHistory['series'][number] = { key, count: all.length, steps: kept.map((p) => p.step), values: kept.map((p) => p.value) };
      if (x === 'time') entry.timestamps = kept.map((p) => p.timestamp);
      series.push(entry);
    }
    return { run_id: id, series };
  }

  /** Active MLflow experiments with their run counts, oldest first. */
  async listExperiments(): Promise<ExperimentList> {
    const experiments: Experiment[] = [];
    for (const experiment of await this.client.listExperiments()) {
      experiments.push({
        id: experiment.experiment_id,
        name: experiment.name,
        created_at: new Date(Number(experiment.creation_time ?? 0)).toISOString(),
        run_count: (await this.client.searchRuns([experiment.experiment_id])).length,
      });
    }
    experiments.sort((a, b) => a.created_at.localeCompare(b.created_at) || a.name.localeCompare(b.name));
    return { experiments };
  }

  /**
   * A beat, made at `nowMs`, for the runs its process holds open; then ends as `killed` every
   * supervised run whose beats stopped for `timeoutMs` (the daemon's heartbeat timeout). The daemon
   * has no timer for MLflow runs: silent runs are also ended whenever runs are listed or read.
   * @returns the status of each named run this backend supervises or has seen end.
   */
  async beat(runIds: readonly string[], timeoutMs: number, nowMs: number = Date.now()): Promise<{ id: string; status: RunStatus }[]> {
    this.heartbeatTimeoutMs = timeoutMs;
    for (const id of runIds) if (this.beats.has(id)) this.beats.set(id, nowMs);
    await this.killSilentRuns(nowMs);
    return runIds
      .filter((id) => this.beats.has(id) || this.endedRuns.has(id))
      .map((id) => ({ id, status: this.endedRuns.get(id) ?? 'running' }));
  }

  private async killSilentRuns(nowMs: number = Date.now()): Promise<void> {
    for (const [id, last] of [...this.beats]) {
      if (nowMs - last <= this.heartbeatTimeoutMs) continue;
      this.beats.delete(id);
      const error = `killed: no heartbeat from the process that ran it for ${Math.round(this.heartbeatTimeoutMs / 1000)} s (its kernel stopped or died)`;
      try {
        await this.updateRun(id, { status: 'killed', error });
      } catch (failure) {
        // Ended meanwhile by its own process or by MLflow: nothing to kill.
        if (!(failure instanceof ConflictError || failure instanceof NotFoundError)) throw failure;
      }
    }
  }

  private remember(run: MlflowRun): void {
    const id = opsbookIdOf(run);
    this.mlflowIds.set(id, run.info.run_id);
    const status = opsbookStatus(run.info.status);
    if (ENDED.includes(status)) this.endedRuns.set(id, status);
  }

  /** @throws NotFoundError when no MLflow run has this Opsbook id. */
  private async mlflowIdOf(id: string): Promise<string> {
    const found = await this.findMlflowId(id);
    if (found === null) throw new NotFoundError('run_id', id, `no run with id ${JSON.stringify(id)}`);
    return found;
  }

  private async mlflowRun(id: string): Promise<MlflowRun> {
    const run = await this.client.getRun(await this.mlflowIdOf(id));
    this.remember(run);
    return run;
  }

  /** The MLflow run id of an Opsbook id: by its `opsbook.run_id` tag, else (`spelled`) an MLflow run spelled so. */
  private async findMlflowId(id: string, spelled = true): Promise<string | null> {
    if (!isUuid(id)) return null;
    const cached = this.mlflowIds.get(id);
    if (cached !== undefined) return cached;
    const experimentIds = (await this.client.listExperiments()).map((e) => e.experiment_id);
    const [tagged] = await this.client.searchRuns(experimentIds, { filter: `tags.\`${OPSBOOK_RUN_ID_TAG}\` = ${filterString(id)}`, limit: 1 });
    if (tagged) {
      this.mlflowIds.set(id, tagged.info.run_id);
      return tagged.info.run_id;
    }
    if (!spelled) return null;
    const mlflowId = id.replace(/-/g, '').toLowerCase();
    try {
      const run = await this.client.getRun(mlflowId);
      if (opsbookIdOf(run) !== id) return null;
      this.mlflowIds.set(id, mlflowId);
      return mlflowId;
    } catch (error) {
      if (error instanceof MlflowError && (error.errorCode === 'RESOURCE_DOES_NOT_EXIST' || error.status === 404)) return null;
      throw error;
    }
  }

  private async experimentNamed(name: string): Promise<MlflowExperiment> {
    const cached = this.experiments.get(name);
    if (cached) return cached;
    const experiment = await this.client.ensureExperiment(name);
    this.experiments.set(name, experiment);
    return experiment;
  }

  private async experimentById(id: string): Promise<MlflowExperiment> {
    for (const experiment of this.experiments.values()) if (experiment.experiment_id === id) return experiment;
    const experiment = await this.client.getExperiment(id);
    this.experiments.set(experiment.name, experiment);
    return experiment;
  }
}

/** The Opsbook id of an MLflow run: its `opsbook.run_id` tag, else its MLflow id spelled as a UUID. */
export function opsbookIdOf(run: MlflowRun): string {
  const tagged = run.data.tags?.find((tag) => tag.key === OPSBOOK_RUN_ID_TAG)?.value;
  return tagged !== undefined && isUuid(tagged) ? tagged.toLowerCase() : opsbookIdFor(run.info.run_id);
}

function toRun(run: MlflowRun, experiment: string): Run {
  const tags = recordOf(run.data.tags);
  const startMs = Number(run.info.start_time ?? 0);
  const status = opsbookStatus(run.info.status);
  const endMs = status === 'running' || run.info.end_time === undefined ? null : Number(run.info.end_time);
  const latest: Record<string, number | null> = {};
  for (const metric of run.data.metrics ?? []) latest[metric.key] = opsbookPoint(metric).value;
  const parent = tags[PARENT_TAG];
  return {
    id: opsbookIdOf(run),
    experiment_id: run.info.experiment_id,
    experiment,
    name: (run.info.run_name ?? tags[MLFLOW_RUN_NAME_TAG] ?? '').slice(0, 250),
    status,
    start_time: new Date(startMs).toISOString(),
    end_time: endMs === null ? null : new Date(endMs).toISOString(),
    duration_ms: endMs === null ? null : Math.max(0, endMs - startMs),
    source_type: sourceType(tags),
    metrics_latest: latest,
    parent_run_id: parent !== undefined && isUuid(parent) ? parent : null,
    child_count: 0,
    starred: tags[STARRED_TAG] === 'true',
    notes: tags[NOTE_TAG] ?? '',
    deleted: run.info.lifecycle_stage === 'deleted',
    tags: Object.fromEntries(Object.entries(tags).filter(([key]) => !FIELD_TAGS.has(key))),
    params: recordOf(run.data.params),
  };
}

function sourceType(tags: Record<string, string>): Run['source_type'] {
  const type = tags[SOURCE_TYPE_TAG];
  return type === 'cell' || type === 'script' || type === 'cli' ? type : 'api';
}

function metricKeys(run: MlflowRun): string[] {
  return [...new Set((run.data.metrics ?? []).map((m) => m.key))].sort();
}

function sortPoints(points: MetricPoint[], x: SeriesX): MetricPoint[] {
  return points.sort((a, b) => (x === 'time' ? a.timestamp - b.timestamp || a.step - b.step : a.step - b.step || a.timestamp - b.timestamp));
}

/**
 * At most `maxPoints` of ordered points: all when they fit, else the first and the last and, of
 * each of floor((maxPoints − 2) / 2) equal x ranges, the lowest and the highest value (as the local
 * store does, so extremes survive).
 */
export function downsample(points: readonly MetricPoint[], maxPoints: number, x: SeriesX): MetricPoint[] {
  if (points.length <= maxPoints) return [...points];
  const first = points[0];
  const last = points[points.length - 1];
  const buckets = Math.floor((maxPoints - 2) / 2);
  if (buckets < 1) return [first, last];
  const at = (p: MetricPoint): number => (x === 'time' ? p.timestamp : p.step);
  const low = at(first);
  const span = at(last) - low || 1;
  const keep = new Set<number>([0, points.length - 1]);
  const lowest = new Map<number, number>();
  const highest = new Map<number, number>();
  const firstOf = new Map<number, number>();
  points.forEach((point, i) => {
    const bucket = Math.min(buckets - 1, Math.floor(((at(point) - low) / span) * buckets));
    if (!firstOf.has(bucket)) firstOf.set(bucket, i);
    if (point.value === null) return;
    const lo = lowest.get(bucket);
    if (lo === undefined || (points[lo].value as number) > point.value) lowest.set(bucket, i);
    const hi = highest.get(bucket);
    if (hi === undefined || (points[hi].value as number) < point.value) highest.set(bucket, i);
  });
  for (const [bucket, i] of firstOf) {
    if (!lowest.has(bucket)) keep.add(i);
  }
  for (const i of lowest.values()) keep.add(i);
  for (const i of highest.values()) keep.add(i);
  return [...keep].sort((a, b) => a - b).map((i) => points[i]);
}

function clip(text: string): string {
  return text.length <= MAX_TAG_VALUE ? text : `${text.slice(0, MAX_TAG_VALUE - 1)}…`;
}

function parseTime(field: string, text: string): number {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new BadInputError(field, text, `${field} is not a date-time: ${JSON.stringify(text)}`);
  return ms;
}
