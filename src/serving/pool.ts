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
  /** SLOTS slots of SLOT_BYTES each, shared with the pool (see writeShared). */
  shared: SharedArrayBuffer;
}

/**
 * A run, either as an object (its tensors cloned or transferred with the message) or, when its
 * tensors fit a shared slot, as a flat list of plain values:
 * ['r', id, model, slot, inputs, (name, type, rank, ...dims, offset, length) per input, outputs, ...names].
 * Structured cloning of typed arrays is what a message costs most (measured: a message of plain
 * values takes a tenth of the time of one holding two small typed arrays).
 */
export type ToWorker = { t: 'run'; id: number; model: number; inputs: WireTensor[]; outputs: string[] } | FlatMessage;

/** Also: a run's answer in its slot, ['d', id, outputs, (type, rank, ...dims, offset, length) per output]. */
export type FromWorker =
  | { t: 'loaded'; model: number; ok: true; inputs: TensorSpec[]; outputs: TensorSpec[]; batchable: boolean }
  | { t: 'loaded'; model: number; ok: false; error: string }
  | { t: 'done'; id: number; outputs: WireTensor[] }
  | { t: 'failed'; id: number; error: string }
  | FlatMessage;

export type FlatMessage = (string | number)[];

/** Bytes of one shared slot; runs whose inputs or outputs are larger go as objects. */
export const SLOT_BYTES = 64 * 1024;
/** Slots per worker: as many as the runs a worker may hold at once (the batcher's pipeline). */
export const SLOTS = 2;

type TypedArray = Exclude<TensorData, string[]>;
type TypedArrayConstructor = { new (length: number): TypedArray; new (buffer: ArrayBufferLike, offset: number, length: number): TypedArray };
const ARRAYS: Readonly<Record<string, TypedArrayConstructor>> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
};

/**
 * Copies tensors into slot `slot` of a shared buffer and describes them as plain values
 * ([name,] type, rank, ...dims, offset, length per tensor); null when one is a string tensor or they
 * do not fit (the caller then sends them as objects).
 */
export function writeShared(bytes: Uint8Array, slot: number, tensors: { name: string; type: string; dims: readonly number[]; data: TensorData }[], names: boolean): FlatMessage | null {
  let size = 0;
  for (const tensor of tensors) {
    if (Array.isArray(tensor.data) || !ARRAYS[tensor.type]) return null;
    size += (tensor.data as TypedArray).byteLength + 7 - (((tensor.data as TypedArray).byteLength + 7) % 8);
  }
  if (size > SLOT_BYTES) return null;
  const flat: FlatMessage = [];
  let offset = slot * SLOT_BYTES;
  for (const tensor of tensors) {
    const view = tensor.data as TypedArray;
    bytes.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength), offset);
    if (names) flat.push(tensor.name);
    flat.push(tensor.type, tensor.dims.length, ...tensor.dims, offset, view.length);
    offset += view.byteLength + 7 - ((view.byteLength + 7) % 8);
  }
  return flat;
}

/**
 * Reads `count` tensors described from `flat[start]` on (as writeShared wrote them), each copied
 * out of the shared buffer into its own array (the slot is reused). Returns them and where the
 * description ended.
 */
export function readShared(shared: SharedArrayBuffer, flat: FlatMessage, start: number, count: number, names: readonly string[] | null): { tensors: WireTensor[]; end: number } {
  const tensors: WireTensor[] = [];
  let at = start;
  for (let i = 0; i < count; i++) {
    const name = names ? names[i] : (flat[at++] as string);
    const type = flat[at++] as OrtTensor.Type;
    const rank = flat[at++] as number;
    const dims = flat.slice(at, at + rank) as number[];
    at += rank;
    const offset = flat[at++] as number;
    const length = flat[at++] as number;
    const Ctor = ARRAYS[type];
    const data = new Ctor(length);
    (data as Float32Array).set(new Ctor(shared, offset, length) as Float32Array);
    tensors.push({ name, type, dims, data });
  }
  return { tensors, end: at };
}

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
  /** The shared slot each job holds (-1: it went as an object). */
  readonly jobSlot = new Map<number, number>();
  readonly slotBusy: boolean[] = Array.from({ length: SLOTS }, () => false);
  readonly shared = new SharedArrayBuffer(SLOT_BYTES * SLOTS);
  readonly bytes = new Uint8Array(this.shared);
  readonly exited: Promise<void>;

  constructor(
    readonly slot: number,
    readonly generation: number,
    file: string,
    init: Omit<WorkerInit, 'shared'>,
  ) {
    this.loaded = init.models.map(() => false);
    this.thread = new Worker(file, { workerData: { ...init, shared: this.shared } satisfies WorkerInit, stdout: false, stderr: false });
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
    let message: ToWorker = { t: 'run', id, model: job.model, inputs: job.inputs, outputs: job.outputs };
    let transfer = job.transfer;
    const free = worker.slotBusy.indexOf(false);
    const described = free === -1 ? null : writeShared(worker.bytes, free, job.inputs, true);
    if (described) {
      worker.slotBusy[free] = true;
      worker.jobSlot.set(id, free);
      message = ['r', id, job.model, free, job.inputs.length, ...described, job.outputs.length, ...job.outputs];
      transfer = [];
    }
    try {
      worker.thread.postMessage(message, transfer);
    } catch (error) {
      worker.jobs.delete(id);
      this.releaseSlot(worker, id);
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
    if (!Array.isArray(message) && message.t === 'loaded') {
      worker.loaded[message.model] = message.ok;
      worker.reported++;
      this.options.onLoaded(message, worker.slot);
      if (worker.reported === this.options.models.length) this.firstReported(worker);
      if (message.ok) this.options.onFree();
      return;
    }
    const id = Array.isArray(message) ? (message[1] as number) : message.id;
    const job = worker.jobs.get(id);
    if (!job) return;
    worker.jobs.delete(id);
    if (Array.isArray(message)) {
      const outputs = readShared(worker.shared, message, 3, message[2] as number, job.outputs).tensors;
      this.releaseSlot(worker, id);
      job.resolve(outputs);
    } else {
      this.releaseSlot(worker, id);
      if (message.t === 'done') job.resolve(message.outputs);
      else job.reject(new InferenceFailure(`onnxruntime failed: ${message.error}`), false);
    }
    this.options.onFree();
  }

  private releaseSlot(worker: PoolWorker, id: number): void {
    const slot = worker.jobSlot.get(id);
    if (slot === undefined) return;
    worker.jobSlot.delete(id);
    worker.slotBusy[slot] = false;
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
