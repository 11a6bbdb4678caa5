import type { MlflowTransfer, Run } from '@opsbook/schema';
import type { OpsbookClient } from '../../client/client';
import type { MlflowClient, MlflowMetric } from './client';
import type { TransferredRun } from './import';
import { filterString, keyValues, MLFLOW_PARENT_TAG, MLFLOW_RUN_NAME_TAG, mlflowMetric, mlflowStatus, OPSBOOK_RUN_ID_TAG, parentsFirst } from './mapping';

/** Most points of one metric the daemon hands out in one history (openapi.json: max_points). */
const MAX_POINTS_PER_KEY = 100_000;
/** Runs one export reads from the daemon (openapi.json: listRuns limit). */
const MAX_RUNS = 10_000;

export interface ExportOptions {
  /** Runs matching this filter (docs/filter.md); all runs when absent. */
  filter?: string;
  /** Put every run into this MLflow experiment instead of one named like its Opsbook experiment. */
  experiment?: string;
  onRun?: (result: TransferredRun) => void;
}

/**
 * Copies the workspace's runs (read through its daemon) to an MLflow tracking server: experiments
 * by name (created when missing), runs with their name, params, tags, every metric point with its
 * step and timestamp (`runs/log-batch`, at most 1000 metrics a call), status, start and end times,
 * and artifacts (through the server's artifact proxy). Each MLflow run carries the tag
 * `opsbook.run_id`; a run whose id is already in the target experiment is skipped, so exporting
 * again adds only new runs.
 * @throws MlflowError when the server refuses a write; OpsbookApiError when the daemon refuses a read
 *   (400 for a bad filter).
 */
export async function exportToMlflow(opsbook: OpsbookClient, mlflow: MlflowClient, options: ExportOptions = {}): Promise<MlflowTransfer> {
  const started = Date.now();
  // Asked first, so a wrong or unreachable server is reported even when there is nothing to copy.
  await mlflow.listExperiments();
  const list = await opsbook.listRuns({ ...(options.filter ? { filter: options.filter } : {}), limit: MAX_RUNS, order: 'asc' });
  const report: MlflowTransfer = { direction: 'export', mlflow: mlflow.baseUrl, runs: [], copied: 0, skipped: 0, seconds: 0 };
  const experimentIds = new Map<string, string>();
  /** Opsbook id → MLflow id of the runs met so far, for their children's mlflow.parentRunId. */
  const exported = new Map<string, string>();
  for (const run of parentsFirst(list.runs, (r) => r.id, (r) => r.parent_run_id)) {
    const experimentName = options.experiment ?? run.experiment;
    let experimentId = experimentIds.get(experimentName);
    if (experimentId === undefined) {
      experimentId = (await mlflow.ensureExperiment(experimentName)).experiment_id;
      experimentIds.set(experimentName, experimentId);
    }
    const result = await exportRun(opsbook, mlflow, run, experimentName, experimentId, exported);
    if (result.mlflow_run_id) exported.set(run.id, result.mlflow_run_id);
    report.runs.push(result);
    report[result.outcome === 'copied' ? 'copied' : 'skipped'] += 1;
    options.onRun?.(result);
  }
  report.seconds = (Date.now() - started) / 1000;
  return report;
}

async function exportRun(
  opsbook: OpsbookClient,
  mlflow: MlflowClient,
  run: Run,
  experimentName: string,
  experimentId: string,
  exported: ReadonlyMap<string, string>,
): Promise<TransferredRun> {
  const result: TransferredRun = {
    run_id: run.id,
    mlflow_run_id: '',
    experiment: experimentName,
    name: run.name,
    outcome: 'copied',
    params: 0,
    tags: 0,
    metric_points: 0,
    artifacts: 0,
  };
  const [already] = await mlflow.searchRuns([experimentId], { filter: `tags.\`${OPSBOOK_RUN_ID_TAG}\` = ${filterString(run.id)}`, limit: 1 });
  if (already) return { ...result, mlflow_run_id: already.info.run_id, outcome: 'skipped', reason: 'already in the MLflow experiment' };

  const detail = await opsbook.getRun(run.id);
  const tags: Record<string, string> = { ...detail.tags, [OPSBOOK_RUN_ID_TAG]: run.id, [MLFLOW_RUN_NAME_TAG]: run.name };
  // A nested run points at its parent's copy (an imported run's tag names the parent it was copied from).
  const parentCopy = detail.parent_run_id ? exported.get(detail.parent_run_id) : undefined;
  if (parentCopy !== undefined) tags[MLFLOW_PARENT_TAG] = parentCopy;
  const created = await mlflow.createRun({
    experimentId,
    name: run.name,
    startTime: Date.parse(run.start_time),
    tags: [{ key: OPSBOOK_RUN_ID_TAG, value: run.id }],
  });
  result.mlflow_run_id = created.info.run_id;
  const params = detail.params.map(({ key, value }) => ({ key, value }));
  const tagList = keyValues(tags);
  await mlflow.logBatch(created.info.run_id, { params, tags: tagList });
  result.params = params.length;
  result.tags = tagList.length;

  const history = await opsbook.metricHistory(run.id, { max_points: MAX_POINTS_PER_KEY, x: 'time' });
  const metrics: MlflowMetric[] = [];
  for (const series of history.series) {
    if (series.count > MAX_POINTS_PER_KEY) {
      throw new RangeError(`run ${run.id} has ${series.count} points of ${JSON.stringify(series.key)}; export takes at most ${MAX_POINTS_PER_KEY} per metric`);
    }
    const timestamps = series.timestamps ?? [];
    series.steps.forEach((step, i) => {
      metrics.push(mlflowMetric({ key: series.key, step, value: series.values[i], timestamp: timestamps[i] ?? Date.parse(run.start_time) }));
    });
  }
  await mlflow.logBatch(created.info.run_id, { metrics });
  result.metric_points = metrics.length;

  for (const artifact of (await opsbook.listArtifacts(run.id)).artifacts) {
    const content = await opsbook.artifactContent(run.id, artifact.name);
    await mlflow.uploadArtifact(created.info, artifact.name, new Uint8Array(await content.arrayBuffer()));
    result.artifacts += 1;
  }

  if (run.status !== 'running') {
    await mlflow.updateRun(created.info.run_id, {
      status: mlflowStatus(run.status),
      ...(run.end_time ? { endTime: Date.parse(run.end_time) } : {}),
    });
  }
  return result;
}
