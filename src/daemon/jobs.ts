import { randomUUID } from 'node:crypto';
import { realpathSync, rmSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { DataSource } from '@opsbook/schema';
import { HANDOFF_SIDECAR_SUFFIX, inHandoffFolder } from '../quality/source';
import { ConflictError } from '../store/errors';

/** What a job reports when it ends; every other phase is the job's own. */
export type JobEnd = 'done' | 'cancelled' | 'failed';

/** A progress report of a job, without its id. */
export interface JobStep<Phase extends string> {
  phase: Phase | JobEnd;
  done: number;
  total: number;
  message?: string;
}

interface Job {
  controller: AbortController;
  jobId?: string;
}

/**
 * The running jobs of one kind (quality, explanation): job_id → AbortController, so that a DELETE
 * can cancel one; each job's end reported once (done, cancelled, failed); and the hand-off files a
 * request named removed after it, whatever happened — only files whose real path lies in the
 * workspace's hand-off folder.
 */
export class JobRegistry<Phase extends string> {
  private readonly jobs = new Map<string, Job>();

  /**
   * @param noun how errors name a job ('quality job', 'explanation job').
   * @param report where progress of jobs that named a job_id goes.
   */
  constructor(
    private readonly workspace: string,
    private readonly noun: string,
    private readonly report: (jobId: string, step: JobStep<Phase>) => void,
  ) {}

  /**
   * Runs `work` as a job. Its own progress goes through `progress` (its end is reported here, once).
   * @throws ConflictError (field job_id) when the job_id is running already, or when the job is cancelled.
   */
  async run<T>(
    jobId: string | undefined,
    sources: (DataSource | undefined)[],
    work: (hooks: { signal: AbortSignal; jobId?: string; progress: (step: JobStep<Phase>) => void }) => Promise<T>,
  ): Promise<T> {
    try {
      const key = jobId ?? `anonymous-${randomUUID()}`;
      if (this.jobs.has(key)) throw new ConflictError('job_id', jobId, `${this.noun} ${jobId} is running already`);
      const job: Job = { controller: new AbortController(), jobId };
      this.jobs.set(key, job);
      const report = (step: JobStep<Phase>): void => {
        if (jobId !== undefined) this.report(jobId, step.message ? step : { phase: step.phase, done: step.done, total: step.total });
      };
      try {
        const progress = (step: JobStep<Phase>): void => {
          if (!ENDS.has(step.phase)) report(step);
        };
        const result = await work({ signal: job.controller.signal, jobId, progress });
        report({ phase: 'done', done: 1, total: 1 });
        return result;
      } catch (error) {
        if (job.controller.signal.aborted) {
          report({ phase: 'cancelled', done: 0, total: 1 });
          throw this.cancelled(jobId);
        }
        report({ phase: 'failed', done: 0, total: 1, message: error instanceof Error ? error.message : String(error) });
        throw error;
      } finally {
        this.jobs.delete(key);
      }
    } finally {
      for (const source of sources) if (source?.handoff) this.removeHandoff(source.path);
    }
  }

  /** Cancels the running job of that id; its request then answers 409 (field job_id). */
  cancel(jobId: string): { job_id: string; cancelled: boolean } {
    const job = this.jobs.get(jobId);
    if (!job || job.controller.signal.aborted) return { job_id: jobId, cancelled: false };
    job.controller.abort();
    return { job_id: jobId, cancelled: true };
  }

  /** Cancels every running job (the daemon is stopping). */
  close(): void {
    for (const job of this.jobs.values()) job.controller.abort();
  }

  /** Jobs running now. */
  get running(): number {
    return this.jobs.size;
  }

  /** The error of a cancelled job. */
  cancelled(jobId: string | undefined): ConflictError {
    return new ConflictError('job_id', jobId ?? null, jobId ? `${this.noun} ${jobId} was cancelled` : `the ${this.noun} was cancelled`);
  }

  /** A path of a request, relative to the workspace. */
  inWorkspace(path: string): string {
    return isAbsolute(path) ? path : join(this.workspace, path);
  }

  /** Removes a hand-off file and its sidecar, but only one whose real path lies in the workspace's hand-off folder. */
  removeHandoff(path: string): void {
    let real: string;
    try {
      real = realpathSync(this.inWorkspace(path));
    } catch {
      return;
    }
    if (!inHandoffFolder(real, this.workspace)) return;
    rmSync(real, { force: true });
    rmSync(`${real}${HANDOFF_SIDECAR_SUFFIX}`, { force: true });
  }
}

const ENDS = new Set<string>(['done', 'cancelled', 'failed']);
