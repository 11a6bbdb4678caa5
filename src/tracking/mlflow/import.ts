import type { MetricPoint, MlflowTransfer, RunCreate } from '@opsbook/schema';
import { OpsbookApiError, type OpsbookClient } from '../../client/client';
import type { MlflowExperiment, MlflowFileInfo, MlflowMetric, MlflowRun, MlflowRunInfo } from './client';
import {
  isUuid,
  MLFLOW_PARENT_TAG,
  MLFLOW_RUN_ID_TAG,
  MLFLOW_RUN_NAME_TAG,
  OPSBOOK_RUN_ID_TAG,
  opsbookIdFor,
  opsbookPoint,
  opsbookStatus,
  parentsFirst,
  recordOf,
} from './mapping';

/** Points per `logMetrics` call (the API takes up to 50,000). */
const POINTS_PER_CALL = 10_000;
/** Tags `createRun` and `updateRun` take per call (run-create.schema.json). */
const TAGS_PER_CALL = 100;
/** Params one call takes (params-batch.schema.json). */
const PARAMS_PER_CALL = 1000;

/**
 * Where runs are imported from: an MLflow tracking server (`MlflowClient`, client.ts) or a local
 * mlruns folder read directly (`FileStoreReader`, filestore.ts).
 */
export interface MlflowSource {
  /** The tracking URI read from (`http(s)://…` or `file://…`), as the report names it. */
  readonly baseUrl: string;
  /** Where that is, in words, for messages (default: "the MLflow server at <baseUrl>"). */
  readonly description?: string;
  /** Active experiments. */
  listExperiments(): Promise<MlflowExperiment[]>;
  getExperimentByName(name: string): Promise<MlflowExperiment | null>;
  /** Active runs of the experiments, with every param and tag and the keys of their metrics. */
  searchRuns(experimentIds: readonly string[], options?: { orderBy?: string[] }): Promise<MlflowRun[]>;
  /** Every point of one metric of a run. */
  metricHistory(runId: string, key: string): Promise<MlflowMetric[]>;
  /** Whether the source can read this run's artifacts (a server only those it proxies). */
  canReadArtifacts(run: MlflowRunInfo): boolean;
  /** Every file under a run's artifact root, paths relative to it. */
  listArtifactFiles(runId: string): Promise<MlflowFileInfo[]>;
  downloadArtifact(run: MlflowRunInfo, path: string): Promise<Uint8Array>;
}

/** What became of one run. */
export type TransferredRun = MlflowTransfer['runs'][number];

export interface ImportOptions {
  /** Only these experiments (by name); all active ones when empty. */
  experiments?: readonly string[];
  /** Called after each run, for progress lines. */
  onRun?: (result: TransferredRun) => void;
}

/**
 * Copies runs of an MLflow tracking server (or a local mlruns folder) into the workspace through its daemon: experiments by
 * name, runs with their params, every tag (MLflow's system tags too), every metric point with its
 * step and timestamp, status, start and end times, and artifacts. The Opsbook id of a run is
 * derived from its MLflow id (see {@link opsbookIdFor}) and the MLflow id is kept in the tag
 * `opsbook.mlflow_run_id`, so importing again skips the runs already there. A run still RUNNING in
 * MLflow stays running in Opsbook (nothing supervises it; an import of it is a snapshot).
 * @throws MlflowError when the server cannot be read; BadInputError-like OpsbookApiError from the daemon.
 * @throws Error naming an experiment asked for that the server does not have.
 */
export async function importFromMlflow(mlflow: MlflowSource, opsbook: OpsbookClient, options: ImportOptions = {}): Promise<MlflowTransfer> {
  const started = Date.now();
  const experiments = await selectExperiments(mlflow, options.experiments ?? []);
  /** MLflow id → Opsbook id of the runs met so far, for their children. */
  const known = new Map<string, string>();
  const report: MlflowTransfer = { direction: 'import', mlflow: mlflow.baseUrl, runs: [], copied: 0, skipped: 0, seconds: 0 };
  for (const experiment of experiments) {
    const found = await mlflow.searchRuns([experiment.experiment_id], { orderBy: ['attributes.start_time ASC'] });
    const runs = parentsFirst(found, (run) => run.info.run_id, (run) => recordOf(run.data.tags)[MLFLOW_PARENT_TAG]);
    for (const run of runs) {
      const result = await importRun(mlflow, opsbook, experiment, run, known);
      known.set(result.mlflow_run_id, result.run_id);
      report.runs.push(result);
      report[result.outcome === 'copied' ? 'copied' : 'skipped'] += 1;
      options.onRun?.(result);
    }
  }
  report.seconds = (Date.now() - started) / 1000;
  return report;
}

/** @throws Error naming the first experiment the server does not have. */
export async function selectExperiments(mlflow: MlflowSource, names: readonly string[]): Promise<MlflowExperiment[]> {
  if (names.length === 0) return mlflow.listExperiments();
  const found: MlflowExperiment[] = [];
  for (const name of names) {
    const experiment = await mlflow.getExperimentByName(name);
    if (!experiment) throw new NoSuchExperimentError(name, mlflow.description ?? `the MLflow server at ${mlflow.baseUrl}`);
    found.push(experiment);
  }
  return found;
}

/** An experiment asked for by name is not on the MLflow server (or in the mlruns folder). */
export class NoSuchExperimentError extends Error {
  constructor(
    readonly experiment: string,
    /** Where it was looked for, in words: "the MLflow server at …". */
    source: string,
  ) {
    super(`${source} has no experiment named ${JSON.stringify(experiment)}`);
    this.name = 'NoSuchExperimentError';
  }
}

async function importRun(
  mlflow: MlflowSource,
  opsbook: OpsbookClient,
  experiment: MlflowExperiment,
  run: MlflowRun,
  known: ReadonlyMap<string, string>,
): Promise<TransferredRun> {
  const tags = recordOf(run.data.tags);
  const params = recordOf(run.data.params);
  // A run exported from Opsbook comes back under its own id.
  const runId = isUuid(tags[OPSBOOK_RUN_ID_TAG] ?? '') ? tags[OPSBOOK_RUN_ID_TAG].toLowerCase() : opsbookIdFor(run.info.run_id);
  const name = run.info.run_name ?? tags[MLFLOW_RUN_NAME_TAG] ?? '';
  const result: TransferredRun = {
    mlflow_run_id: run.info.run_id,
    run_id: runId,
    experiment: experiment.name,
    name,
    outcome: 'copied',
    params: Object.keys(params).length,
    tags: 0,
    metric_points: 0,
    artifacts: 0,
  };
  if (await exists(opsbook, runId)) return { ...result, outcome: 'skipped', reason: 'already in the workspace' };

  const allTags: Record<string, string> = { ...tags, [MLFLOW_RUN_ID_TAG]: run.info.run_id };
  delete allTags[OPSBOOK_RUN_ID_TAG];
  const tagEntries = Object.entries(allTags);
  const paramEntries = Object.entries(params);
  result.tags = tagEntries.length;
  // A nested run (MLflow's tag mlflow.parentRunId) nests under its parent when that is in the workspace.
  const parentMlflowId = tags[MLFLOW_PARENT_TAG];
  const parentId = parentMlflowId === undefined ? undefined : (known.get(parentMlflowId) ?? opsbookIdFor(parentMlflowId));
  const create: RunCreate = {
    ...(parentId !== undefined && (await exists(opsbook, parentId)) ? { parent_run_id: parentId } : {}),
    id: runId,
    experiment: experiment.name,
    name: name.slice(0, 250),
    start_time: new Date(Number(run.info.start_time ?? Date.now())).toISOString(),
    params: Object.fromEntries(paramEntries.slice(0, PARAMS_PER_CALL)),
    tags: Object.fromEntries(tagEntries.slice(0, TAGS_PER_CALL)),
    source: { type: 'api' },
  };
  await opsbook.createRun(create);
  for (let i = PARAMS_PER_CALL; i < paramEntries.length; i += PARAMS_PER_CALL) {
    await opsbook.logParams(runId, Object.fromEntries(paramEntries.slice(i, i + PARAMS_PER_CALL)));
  }
  for (let i = TAGS_PER_CALL; i < tagEntries.length; i += TAGS_PER_CALL) {
    await opsbook.updateRun(runId, { tags: Object.fromEntries(tagEntries.slice(i, i + TAGS_PER_CALL)) });
  }

  const keys = [...new Set((run.data.metrics ?? []).map((m) => m.key))].sort();
  for (const key of keys) {
    const points: MetricPoint[] = (await mlflow.metricHistory(run.info.run_id, key)).map(opsbookPoint);
    for (let i = 0; i < points.length; i += POINTS_PER_CALL) {
      await opsbook.logMetrics(runId, points.slice(i, i + POINTS_PER_CALL));
    }
    result.metric_points += points.length;
  }

  const skippedArtifacts: string[] = [];
  if (mlflow.canReadArtifacts(run.info)) {
    for (const file of await mlflow.listArtifactFiles(run.info.run_id)) {
      const bytes = await mlflow.downloadArtifact(run.info, file.path);
      try {
        await opsbook.uploadArtifact(runId, file.path, bytes);
        result.artifacts += 1;
      } catch (error) {
        // A name outside Opsbook's allow-list: the run is still worth having.
        if (!(error instanceof OpsbookApiError && error.status === 400)) throw error;
        skippedArtifacts.push(file.path);
      }
    }
  }
  if (skippedArtifacts.length > 0) result.reason = `artifacts left out (names Opsbook refuses): ${skippedArtifacts.join(', ')}`;

  const status = opsbookStatus(run.info.status);
  if (status !== 'running') {
    const startMs = Number(run.info.start_time ?? 0);
    const endMs = Math.max(Number(run.info.end_time ?? startMs), startMs);
    await opsbook.updateRun(runId, { status, end_time: new Date(endMs).toISOString() });
  }
  return result;
}

async function exists(opsbook: OpsbookClient, runId: string): Promise<boolean> {
  try {
    await opsbook.getRun(runId);
    return true;
  } catch (error) {
    if (error instanceof OpsbookApiError && error.status === 404) return false;
    throw error;
  }
}
