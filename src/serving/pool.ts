/**
 * The worker threads that run onnxruntime (src/serving/worker.ts), one batch at a time each. A worker
 * that stops for any reason but close() is replaced; the requests it held are rejected with
 * InferenceFailure (they are not retried: a request that brought a worker down would bring the next
 * one down too).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Tensor as OrtTensor } from 'onnxruntime-node';
import { InferenceFailure, type Device, type Log, type TensorData, type TensorSpec } from './types';

/** A tensor as it crosses between threads. */
export interface WireTensor {
  name: string;
  type: OrtTensor.Type;
  dims: number[];
  data: TensorData;
}

/** What a worker thread starts with. */
export interface WorkerInit {
  /** The .onnx files, in the executor's model order. */
  models: string[];
  device: Device;
}

export type ToWorker = { t: 'run'; id: number; model: number; inputs: WireTensor[]; outputs: string[] };

export type FromWorker =
  | { t: 'loaded'; model: number; ok: true; inputs: TensorSpec[]; outputs: TensorSpec[]; batchable: boolean }
  | { t: 'loaded'; model: number; ok: false; error: string }
  | { t: 'done'; id: number; outputs: WireTensor[] }
  | { t: 'failed'; id: number; error: string };

export type LoadReport = Extract<FromWorker, { t: 'loaded' }>;

/** One onnxruntime run as the pool carries it. */
export interface Job {
  model: number;
  inputs: WireTensor[];
  outputs: string[];
  /** Buffers handed to the worker with the message (they are detached here afterwards). */
  transfer: ArrayBuffer[];
  resolve(outputs: WireTensor[]): void;
  /** `crashed`: the worker stopped while holding the job (InferenceFailure either way). */
  reject(error: InferenceFailure, crashed: boolean): void;
}

export interface PoolOptions {
  size: number;
  models: string[];
  device: Device;
  log: Log;
  /** Each worker's report for each model, as it loads. */
  onLoaded(report: LoadReport, worker: number): void;
  /** A worker became free (a run ended, a replacement loaded): time to dispatch more. */
  onFree(): void;
  /** The worker script (tests wrap the real one); default: the compiled or bundled worker. */
  workerFile?: string;
}

class PoolWorker {
  readonly thread: Worker;
  /** Models this worker has a session of. */
  readonly loaded: boolean[];
  /** Models it has reported on (loaded or failed). */
  reported = 0;
  /** Stopped and not replaced. */
  gone = false;
  readonly jobs = new Map<number, Job>();
  readonly exited: Promise<void>;

  constructor(
    readonly slot: number,
    readonly generation: number,
    file: string,
    init: WorkerInit,
  ) {
    this.loaded = init.models.map(() => false);
    this.thread = new Worker(file, { workerData: init, stdout: false, stderr: false });
    this.exited = new Promise((resolve) => this.thread.once('exit', () => resolve()));
  }

  get busy(): number {
    return this.jobs.size;
  }
}

/**
 * Worker threads with a session of every model each. Dispatch is the caller's: `free(model, depth)`
 * gives the least busy worker holding the model, `run` hands it one job.
 */
export class Pool {
  private readonly workers: PoolWorker[] = [];
  private nextId = 1;
  private closing = false;
  private readonly file: string;
  private readonly settledAll: Promise<void>;
  private settle!: () => void;
  private firstGeneration: number;

  constructor(private readonly options: PoolOptions) {
    this.file = options.workerFile ?? workerFile();
    this.firstGeneration = options.size;
    this.settledAll = new Promise((resolve) => (this.settle = resolve));
    for (let slot = 0; slot < options.size; slot++) this.workers.push(this.start(slot, 0));
    if (options.models.length === 0) this.settle();
  }

  /** Resolves once every first-generation worker has reported on every model (or stopped). */
  get settled(): Promise<void> {
    return this.settledAll;
  }

  get size(): number {
    return this.workers.length;
  }

  /** Jobs running or waiting in workers. */
  get inFlight(): number {
    let n = 0;
    for (const worker of this.workers) n += worker.busy;
    return n;
  }

  /** The thread of worker `slot` (for tests that stop one). */
  thread(slot: number): Worker {
    return this.workers[slot].thread;
  }

  /**
   * The least busy worker holding `model` with fewer than `depth` runs in hand (ties: the lowest
   * numbered, so at low load one thread stays warm), or undefined when there is none.
   */
  free(model: number, depth = 1): number | undefined {
    let best: number | undefined;
    for (let slot = 0; slot < this.workers.length; slot++) {
      const worker = this.workers[slot];
      if (worker.busy >= depth || !worker.loaded[model]) continue;
      if (worker.busy === 0) return slot;
      if (best === undefined || worker.busy < this.workers[best].busy) best = slot;
    }
    return best;
  }

  /** Whether any worker holds a session of `model`, or may still load one. */
  mayRun(model: number): boolean {
    return this.workers.some((worker) => worker.loaded[model] || (!worker.gone && worker.reported < this.options.models.length));
  }

  run(slot: number, job: Job): void {
    const worker = this.workers[slot];
    const id = this.nextId++;
    worker.jobs.set(id, job);
    const message: ToWorker = { t: 'run', id, model: job.model, inputs: job.inputs, outputs: job.outputs };
    try {
      worker.thread.postMessage(message, job.transfer);
    } catch (error) {
      worker.jobs.delete(id);
      job.reject(new InferenceFailure(`could not hand the request to a worker: ${error instanceof Error ? error.message : String(error)}`), false);
    }
  }

  /** Ends every worker (the caller has drained the jobs first). */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map(async (worker) => {
      await worker.thread.terminate();
      await worker.exited;
    }));
  }

  private start(slot: number, generation: number): PoolWorker {
    const worker = new PoolWorker(slot, generation, this.file, { models: this.options.models, device: this.options.device });
    worker.thread.on('message', (message: FromWorker) => this.onMessage(worker, message));
    // An 'error' is followed by 'exit'; the exit handler does the work.
    worker.thread.on('error', (error) => this.options.log({ level: 'error', msg: `serving worker ${slot} failed: ${error.message}`, worker: slot }));
    worker.thread.on('exit', (code) => this.onExit(worker, code));
    return worker;
  }

  private onMessage(worker: PoolWorker, message: FromWorker): void {
    if (message.t === 'loaded') {
      worker.loaded[message.model] = message.ok;
      worker.reported++;
      this.options.onLoaded(message, worker.slot);
      if (worker.reported === this.options.models.length) this.firstReported(worker);
      if (message.ok) this.options.onFree();
      return;
    }
    const job = worker.jobs.get(message.id);
    if (!job) return;
    worker.jobs.delete(message.id);
    if (message.t === 'done') job.resolve(message.outputs);
    else job.reject(new InferenceFailure(`onnxruntime failed: ${message.error}`), false);
    this.options.onFree();
  }

  private firstReported(worker: PoolWorker): void {
    if (worker.generation !== 0) return;
    if (--this.firstGeneration === 0) this.settle();
  }

  private onExit(worker: PoolWorker, code: number): void {
    if (this.workers[worker.slot] !== worker) return;
    const jobs = [...worker.jobs.values()];
    worker.jobs.clear();
    worker.loaded.fill(false);
    // A worker that stops before it has loaded every model is not replaced: its successor would most
    // likely stop the same way, over and over.
    const finishedLoading = worker.reported === this.options.models.length;
    worker.gone = !finishedLoading;
    if (!finishedLoading) {
      worker.reported = this.options.models.length;
      this.firstReported(worker);
    }
    if (this.closing) return;
    for (const job of jobs) job.reject(new InferenceFailure(`the worker thread running this request stopped (exit code ${code})`), true);
    this.options.log({
      level: 'error',
      msg: `serving worker ${worker.slot} stopped (exit code ${code}); ${finishedLoading ? 'starting another' : 'not replaced: it stopped while loading the models'}`,
      worker: worker.slot,
      code,
      requests_failed: jobs.length,
    });
    if (finishedLoading) this.workers[worker.slot] = this.start(worker.slot, worker.generation + 1);
    this.options.onFree();
  }
}

/**
 * The worker's file: compiled beside this module (dist/serving/worker.js), the bundle's
 * (serve-worker.cjs beside opsbook.cjs), or — for this module run from its TypeScript source, as
 * jest does — the compiled one in src/dist.
 */
export function workerFile(): string {
  const candidates = [join(__dirname, 'worker.js'), join(__dirname, 'serve-worker.cjs'), join(__dirname, '..', 'dist', 'serving', 'worker.js')];
  return candidates.find((file) => existsSync(file)) ?? candidates[0];
}
