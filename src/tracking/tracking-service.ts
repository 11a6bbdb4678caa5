import type { ExperimentList, MetricHistory, MetricPoint, Run, RunCreate, RunDetail, RunList, RunUpdate } from '@opsbook/schema';
import type { SeriesX } from './downsample';
import type { RunFilter } from './run-store';

/**
 * The core tracking operations the daemon serves from whichever backend the workspace is set to:
 * the local store ({@link RunStore}) or an MLflow tracking server (`MlflowBackend`). Every other
 * operation (compare, series, artifacts, registry, events …) exists only on the local store.
 * Errors are the store's: NotFoundError, ConflictError and BadInputError.
 */
export interface TrackingService {
  /** @throws ConflictError when a run with the client-chosen id exists. */
  createRun(input: RunCreate): Promise<Run>;
  /** @throws NotFoundError when no run matches. */
  getRun(idOrPrefix: string): Promise<RunDetail>;
  /** @throws BadInputError on a bad filter. */
  listRuns(filter?: RunFilter): Promise<RunList>;
  /** @throws NotFoundError; ConflictError when an ended run would change status, end time, error or code. */
  updateRun(runId: string, update: RunUpdate): Promise<Run>;
  /** @throws NotFoundError; ConflictError when the run has ended or a key changes value. */
  logParams(runId: string, params: Record<string, string>): Promise<RunDetail>;
  /**
   * @returns the number of points the batch holds.
   * @throws NotFoundError; ConflictError when the run has ended and the batch is new.
   */
  logMetrics(runId: string, points: readonly MetricPoint[], batchId?: string): Promise<number>;
  /** @throws NotFoundError when the run does not exist. */
  metricHistory(runId: string, options?: { key?: string; maxPoints?: number; x?: SeriesX }): Promise<MetricHistory>;
  listExperiments(): Promise<ExperimentList>;
}
