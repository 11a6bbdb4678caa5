import { Readable } from 'node:stream';
import type {
  CheckRequest,
  CheckResult,
  DataProfile,
  DataSource,
  DriftReport,
  DriftRequest,
  ProfileRequest,
  QualityCancel,
  QualityProgress,
  SuggestRequest,
  SuggestResult,
} from '@opsbook/schema';
import type * as Quality from '../quality';
import type { ProgressStep, QualityHooks, ResolvedSource } from '../quality';
import { ConflictError } from '../store/errors';
import type { ArtifactStore } from '../tracking/artifacts';
import { NotWithMlflowError } from '../tracking/mlflow/backend';
import type { RunStore } from '../tracking/run-store';
import { QUALITY_OPERATIONS } from './handlers';
import { JobRegistry, type JobEnd } from './jobs';

/** Where quality results are recorded against runs. */
export interface QualityRecorder {
  /**
   * Checks, before any work, that results can be recorded against the run.
   * @throws NotFoundError (404) when the run does not exist; ConflictError (409, field status) when it has ended;
   *   BadInputError (400) when the workspace's backend cannot record quality results.
   */
  requireRun(runId: string): Promise<void>;
  /**
   * Records the result: metrics `quality.<suite>.passed` and `.failed` at the keys' next step, and the
   * result as artifact `quality/<suite>.json`.
   * @returns the artifact's name.
   */
  record(runId: string, result: CheckResult): Promise<string>;
}

/** The local store's recorder: metrics through the run store, the report through the artifact store. */
export function storeRecorder(runs: RunStore, artifacts: ArtifactStore): QualityRecorder {
  // One recording at a time, so two results of one suite never take the same step.
  let queue: Promise<unknown> = Promise.resolve();
  return {
    async requireRun(runId) {
      const { run } = await runs.getRun(runId);
      if (run.status !== 'running') {
        throw new ConflictError('status', run.status, `run ${runId} has ended (${run.status}): quality results are recorded against running runs`);
      }
    },
    record(runId, result) {
      const recorded = queue.then(async () => {
        const name = `quality/${result.suite}.json`;
        const report: CheckResult = { ...result, run_id: runId, artifact: name };
        const bytes = Buffer.from(JSON.stringify(report), 'utf8');
        await artifacts.upload(runId, { name, kind: 'file', mediaType: 'application/json', declaredBytes: bytes.length }, Readable.from([bytes]));
        const keys = [`quality.${result.suite}.passed`, `quality.${result.suite}.failed`];
        const { metrics } = await runs.getRun(runId);
        const step = Math.max(0, ...metrics.filter((m) => keys.includes(m.key)).map((m) => m.last_step + 1));
        const passed = result.checks.filter((check) => check.status === 'pass').length;
        const timestamp = Date.now();
        await runs.logMetrics(runId, [
          { key: keys[0], value: passed, step, timestamp },
          { key: keys[1], value: result.checks.length - passed, step, timestamp },
        ]);
        return name;
      });
      queue = recorded.catch(() => undefined);
      return recorded;
    },
  };
}

/** The recorder of a workspace tracking to MLflow: quality work runs locally, recording against a run is refused. */
export function refusingRecorder(): QualityRecorder {
  const refuse = (): Promise<never> => Promise.reject(new NotWithMlflowError('recording a quality result against a run (run_id)'));
  return { requireRun: refuse, record: refuse };
}

let loaded: typeof Quality | undefined;

/**
 * The quality capability, loaded by the first quality request: it brings apache-arrow and the
 * sandbox, which the daemon (and every CLI command, which reaches this module through the launcher)
 * would otherwise load at start for nothing.
 */
function capability(): typeof Quality {
  // A plain require, not import(): webpack keeps it in the one-file bundle and runs it on the first call.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= require('../quality') as typeof Quality;
  return loaded;
}

/** Reports a job's progress (the daemon's EventHub sends it as `event: quality`). */
export type ProgressSink = (progress: QualityProgress) => void;

/**
 * The daemon's quality service: resolves the data sources of a request (relative to the workspace;
 * hand-off files must lie in `<workspace>/.opsbook/handoff/` and are removed after use, whatever
 * happens), keeps a registry of running jobs (job_id → AbortController) so `DELETE
 * /quality/jobs/{job_id}` can cancel one, reports progress, and records check results against runs.
 * The work itself runs in the quality capability's own in-memory DuckDB (its sandbox), never on the
 * store's connections.
 */
export class QualityJobs {
  private readonly jobs: JobRegistry<Exclude<QualityProgress['phase'], JobEnd>>;

  constructor(
    private readonly workspace: string,
    private readonly recorder: QualityRecorder,
    progress: ProgressSink,
  ) {
    this.jobs = new JobRegistry(workspace, 'quality job', (jobId, step) => progress({ job_id: jobId, ...step }));
  }

  /**
   * Runs a suite; with `run_id`, records the result against that run (checked before any work).
   * @throws NotFoundError for an unknown run; BadInputError for a bad suite or source; ConflictError when cancelled,
   *   when the job_id is running already, or when the run has ended.
   */
  check(request: CheckRequest): Promise<CheckResult> {
    return this.run(request.job_id, [request.data, request.reference], async (hooks) => {
      const suite = capability().checkSuiteValue(request.suite);
      if (request.run_id) await this.recorder.requireRun(request.run_id);
      const data = await this.resolve(request.data, 'data');
      const reference = request.reference ? await this.resolve(request.reference, 'reference') : undefined;
      const suiteDir = request.suite_dir === undefined ? this.workspace : this.inWorkspace(request.suite_dir);
      const result = await capability().runSuite({ data, suite, reference, suiteDir, samples: request.samples }, hooks);
      if (!request.run_id) return result;
      // A cancel that came while the last query ran still records nothing.
      if (hooks.signal?.aborted) throw this.cancelled(request.job_id);
      hooks.onProgress?.({ phase: 'record', done: 0, total: 1 });
      const artifact = await this.recorder.record(request.run_id, result);
      return { ...result, run_id: request.run_id, artifact };
    });
  }

  /** Profiles every column. @throws BadInputError for a bad source; ConflictError when cancelled or the job_id is running. */
  profile(request: ProfileRequest): Promise<DataProfile> {
    return this.run(request.job_id, [request.data], async (hooks) =>
      capability().profileTable(await this.resolve(request.data, 'data'), { bins: request.bins, top: request.top }, hooks),
    );
  }

  /** Drift of the shared columns. @throws BadInputError for a bad source; ConflictError when cancelled or the job_id is running. */
  drift(request: DriftRequest): Promise<DriftReport> {
    return this.run(request.job_id, [request.data, request.reference], async (hooks) => {
      const data = await this.resolve(request.data, 'data');
      const reference = await this.resolve(request.reference, 'reference');
      return capability().driftTables(data, reference, { columns: request.columns, bins: request.bins }, hooks);
    });
  }

  /** A starting suite from the profile. @throws BadInputError for a bad source; ConflictError when cancelled or the job_id is running. */
  suggest(request: SuggestRequest): Promise<SuggestResult> {
    return this.run(request.job_id, [request.data], async (hooks) =>
      capability().suggestSuite(await this.resolve(request.data, 'data'), { name: request.suite }, hooks),
    );
  }

  /** Cancels the running job of that id; its request then answers 409 (field job_id). */
  cancel(jobId: string): QualityCancel {
    return this.jobs.cancel(jobId);
  }

  /**
   * Removes the hand-off files named by the body of a quality request that its schema refused (no
   * job runs for it, and the kernel that wrote them counts on the daemon to remove them).
   */
  discard(operationId: string, body: unknown): void {
    if (!(QUALITY_OPERATIONS as readonly string[]).includes(operationId) || typeof body !== 'object' || body === null) return;
    for (const key of ['data', 'reference']) {
      const source = (body as Record<string, unknown>)[key] as { path?: unknown; handoff?: unknown } | null | undefined;
      if (source?.handoff === true && typeof source.path === 'string') this.jobs.removeHandoff(source.path);
    }
  }

  /** Cancels every running job (the daemon is stopping). */
  close(): void {
    this.jobs.close();
  }

  /** Jobs running now. */
  get running(): number {
    return this.jobs.running;
  }

  private run<T>(jobId: string | undefined, sources: (DataSource | undefined)[], work: (hooks: QualityHooks) => Promise<T>): Promise<T> {
    return this.jobs.run(jobId, sources, ({ signal, progress }) => work({ signal, jobId, onProgress: (step: ProgressStep) => progress(step) }));
  }

  private cancelled(jobId: string | undefined): ConflictError {
    return this.jobs.cancelled(jobId);
  }

  private resolve(source: DataSource, field: 'data' | 'reference'): Promise<ResolvedSource> {
    return capability().resolveSource(source, this.workspace, field);
  }

  private inWorkspace(path: string): string {
    return this.jobs.inWorkspace(path);
  }
}

