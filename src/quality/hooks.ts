import type { QualityProgress } from '@opsbook/schema';

/** One step of a quality job, as its progress events report it. */
export interface ProgressStep {
  phase: QualityProgress['phase'];
  done: number;
  total: number;
  message?: string;
}

/** How a caller follows and stops a quality job. */
export interface QualityHooks {
  /** Aborting it interrupts the DuckDB query in flight; the job rejects with `cancelled()`. */
  signal?: AbortSignal;
  /** Named in the ConflictError of a cancelled job. */
  jobId?: string;
  /** Called at each step (load, scan, samples, sql, drift, done). */
  onProgress?: (step: ProgressStep) => void;
}
