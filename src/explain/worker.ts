import { parentPort, workerData } from 'node:worker_threads';
import { computeExplanation, type WorkerRequest, type WorkerMessage } from './compute';

/**
 * The explanation worker thread: runs one {@link computeExplanation} and posts its progress and its
 * result (or its error) to the daemon's thread, which terminates the worker to cancel it.
 */
if (parentPort) {
  const port = parentPort;
  const post = (message: WorkerMessage): void => port.postMessage(message);
  computeExplanation(workerData as WorkerRequest, (done, total, phase) => post({ type: 'progress', done, total, phase }))
    .then((result) => post({ type: 'result', result }))
    .catch((error: unknown) =>
      post({
        type: 'error',
        name: error instanceof Error ? error.name : 'Error',
        field: (error as { field?: string }).field,
        message: error instanceof Error ? error.message : String(error),
      }),
    );
}
