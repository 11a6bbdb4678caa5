import { ConflictError } from '../store/errors';

/** The error every quality job rejects with once its signal is aborted (HTTP 409, field job_id). */
export function cancelled(jobId?: string): ConflictError {
  return new ConflictError('job_id', jobId ?? null, 'cancelled');
}

/**
 * Stops between steps of a job once its signal is aborted.
 * @throws ConflictError (field job_id) when `signal` is aborted.
 */
export function throwIfCancelled(signal: AbortSignal | undefined, jobId?: string): void {
  if (signal?.aborted) throw cancelled(jobId);
}
