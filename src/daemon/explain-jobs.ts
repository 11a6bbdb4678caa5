import { Readable } from 'node:stream';
import type { ExplainProgress, ExplainRequest, Explanation, QualityCancel } from '@opsbook/schema';
import type * as Explain from '../explain';
import type * as Quality from '../quality';
import type { ArtifactStore } from '../tracking/artifacts';
import type { ModelRegistry } from '../tracking/registry';
import { JobRegistry, type JobEnd } from './jobs';

let explainModule: typeof Explain | undefined;
let qualityModule: typeof Quality | undefined;

/**
 * The explain capability, loaded by the first explanation request: it brings onnxruntime-node, which
 * the daemon (and every CLI command) would otherwise load at start for nothing.
 */
function capability(): { explain: typeof Explain; quality: typeof Quality } {
  // Plain requires, not import(): webpack keeps them in the one-file bundle and runs them on the first call.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  explainModule ??= require('../explain') as typeof Explain;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  qualityModule ??= require('../quality') as typeof Quality;
  return { explain: explainModule, quality: qualityModule };
}

/**
 * The daemon's explanation service: resolves the model through the registry (or a path in the
 * workspace) and the data sources (hand-off files are removed after use), runs the explanation in a
 * worker thread as a job that `DELETE /explain/jobs/{job_id}` cancels, reports progress as
 * `event: explain`, and records the result against the model's run as artifact
 * `explanations/<name>.json`.
 */
export class ExplainJobs {
  private readonly jobs: JobRegistry<Exclude<ExplainProgress['phase'], JobEnd>>;
  // One recording at a time: two explanations never race for one artifact name.
  private recording: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly workspace: string,
    private readonly registry: ModelRegistry,
    private readonly artifacts: ArtifactStore,
    progress: (progress: ExplainProgress) => void,
  ) {
    this.jobs = new JobRegistry(workspace, 'explanation job', (jobId, step) => progress({ job_id: jobId, ...step }));
  }

  /**
   * Explains the model's output for the rows asked.
   * @throws BadInputError for a model that is not ONNX, a method the model cannot take, data whose columns
   *   do not fit, bad rows or output; NotFoundError for an unknown model; ConflictError when cancelled or
   *   when the job_id is running.
   */
  explain(request: ExplainRequest): Promise<Explanation> {
    return this.jobs.run(request.job_id, [request.data, request.background], async ({ signal, jobId, progress }) => {
      const { explain, quality } = capability();
      const resolved = await this.registry.resolve(request.model);
      const version = resolved.version;
      const data = await quality.resolveSource(request.data, this.workspace, 'data');
      const background = request.background ? await quality.resolveSource(request.background, this.workspace, 'background') : undefined;
      const result = await explain.explainModel(
        {
          model: {
            ref: request.model,
            path: resolved.path,
            ...(version ? { name: version.name, version: version.version, featureNames: version.signature.feature_names } : {}),
            ...(version?.run_id ? { run_id: version.run_id } : {}),
          },
          data,
          background,
          rows: request.rows,
          method: request.method,
          treeMode: request.tree_mode,
          output: request.output,
          featureNames: request.feature_names,
          nsamples: request.nsamples,
          seed: request.seed,
        },
        { signal, jobId, onProgress: (step) => progress(step) },
      );
      if (request.record === false || !version?.run_id) return result;
      if (signal.aborted) throw this.jobs.cancelled(jobId);
      progress({ phase: 'record', done: 0, total: 1 });
      const artifact = await this.record(version.run_id, result, request.artifact_name);
      return { ...result, run_id: version.run_id, artifact };
    });
  }

  /** Cancels the running job of that id; its request then answers 409 (field job_id). */
  cancel(jobId: string): QualityCancel {
    return this.jobs.cancel(jobId);
  }

  /** Removes the hand-off files of an explanation request that its schema refused. */
  discard(operationId: string, body: unknown): void {
    if (operationId !== 'explainModel' || typeof body !== 'object' || body === null) return;
    for (const key of ['data', 'background']) {
      const source = (body as Record<string, unknown>)[key] as { path?: unknown; handoff?: unknown } | null | undefined;
      if (source?.handoff === true && typeof source.path === 'string') this.jobs.removeHandoff(source.path);
    }
  }

  /** Cancels every running job (the daemon is stopping). */
  close(): void {
    this.jobs.close();
  }

  private record(runId: string, result: Explanation, name: string | undefined): Promise<string> {
    const recorded = this.recording.then(async () => {
      const stem = name ?? `${result.method}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      const artifact = `explanations/${stem}.json`;
      const bytes = Buffer.from(JSON.stringify({ ...result, run_id: runId, artifact }), 'utf8');
      await this.artifacts.upload(runId, { name: artifact, kind: 'file', mediaType: 'application/json', declaredBytes: bytes.length }, Readable.from([bytes]));
      return artifact;
    });
    this.recording = recorded.catch(() => undefined);
    return recorded;
  }
}
