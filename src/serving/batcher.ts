/**
 * Dynamic batching: requests of one model wait in that model's queue, and whenever a worker is free
 * the oldest queue hands it a batch. Requests are stacked along the first dimension into one
 * onnxruntime run (up to max_batch rows) when the model is batchable (every input and output has a
 * dynamic first dimension) and the requests agree on everything else: the same inputs with the same
 * other dimensions, and the same outputs asked for. The run's outputs are split back by rows.
 *
 * When to run: a request that finds its model idle and a worker free runs at once (nobody to wait
 * for). When the model already has a run in flight — there is traffic — a free worker waits up to
 * max_delay_us from the oldest request's arrival for max_batch rows to gather, or until that run
 * ends, whichever comes first (a timer cannot wait less than a millisecond, so a hold's end is seen
 * at the next arrival, the run's end, or that timer). When every worker is busy, whatever queued
 * meanwhile forms the next batch as soon as one frees up, without waiting.
 *
 * A worker holds one batch at a time, so requests wait here, where they can still join a batch. Runs
 * that can never be stacked (max_batch 1, a model that is not batchable) are pipelined instead: a
 * worker holds up to PIPELINE of them, so it starts the next as soon as one ends instead of idling
 * for the round trip to this thread.
 */
import { performance } from 'node:perf_hooks';
import { datatypeOfOrt, ortTypeOf } from './model-meta';
import type { Job, WireTensor } from './pool';
import { InferenceFailure, type InferResult, type Tensor, type TensorData } from './types';

/** What the batcher needs of the pool. */
export interface BatchTarget {
  /** The least busy worker holding the model with fewer than `depth` runs in hand, if any. */
  free(model: number, depth?: number): number | undefined;
  run(slot: number, job: Job): void;
}

export interface BatcherOptions {
  /** Most rows one run takes; 1 turns batching off. */
  maxBatch: number;
  /** Longest a request waits for others while a worker is free. */
  maxDelayUs: number;
}

/** Inputs at least this large are handed to the worker (transferred) rather than copied. */
const TRANSFER_BYTES = 64 * 1024;
/** Runs a worker holds at once when they cannot be stacked. */
const PIPELINE = 2;

interface Pending {
  inputs: Tensor[];
  outputs: string[];
  /** First dimension shared by every input, the unit of stacking. */
  rows: number;
  /** Requests with equal keys can be stacked; null: this one always runs alone. */
  key: string | null;
  enqueued: number;
  resolve(result: InferResult): void;
  reject(error: Error): void;
}

class ModelQueue {
  items: Pending[] = [];
  rows = 0;
  inFlight = 0;
  /** Runs of this model a worker may hold at once. */
  readonly depth: number;
  constructor(
    readonly model: number,
    readonly batchable: boolean,
  ) {
    this.depth = batchable ? 1 : PIPELINE;
  }
}

export class Batcher {
  private readonly queues: ModelQueue[] = [];
  private immediate: NodeJS.Immediate | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private readonly maxDelayMs: number;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly target: BatchTarget,
    private readonly options: BatcherOptions,
  ) {
    this.maxDelayMs = options.maxDelayUs / 1000;
  }

  /** Declares model `index` (in the executor's order) once its signature is known. */
  setModel(index: number, batchable: boolean): void {
    this.queues[index] = new ModelQueue(index, batchable && this.options.maxBatch > 1);
  }

  /** Requests waiting or running. */
  get pending(): number {
    let n = 0;
    for (const queue of this.queues) if (queue) n += queue.items.length + queue.inFlight;
    return n;
  }

  /** Queues one request; it settles when its run has answered. */
  submit(model: number, inputs: Tensor[], outputs: string[]): Promise<InferResult> {
    const queue = this.queues[model];
    if (!queue) return Promise.reject(new InferenceFailure(`model #${model} is not loaded`));
    return new Promise<InferResult>((resolve, reject) => {
      const { rows, key } = stacking(queue.batchable, inputs, outputs);
      const pending: Pending = { inputs, outputs, rows, key, enqueued: performance.now(), resolve, reject };
      queue.items.push(pending);
      queue.rows += rows;
      if (queue.items.length === 1 && (queue.inFlight === 0 || !queue.batchable)) {
        const slot = this.target.free(model, queue.depth);
        if (slot !== undefined) {
          this.dispatch(queue, slot, pending.enqueued);
          return;
        }
      }
      // Requests that arrive in the same turn of the event loop (the server reads many sockets per
      // turn) are dispatched together after it.
      this.immediate ??= setImmediate(() => {
        this.immediate = null;
        this.pump();
      });
    });
  }

  /** Hands batches to free workers, oldest queue first. Called whenever a worker frees up. */
  pump(): void {
    const now = performance.now();
    let wakeAt = Infinity;
    const held = new Set<ModelQueue>();
    for (;;) {
      let oldest: ModelQueue | undefined;
      for (const queue of this.queues) {
        if (!queue || queue.items.length === 0 || held.has(queue)) continue;
        if (!oldest || queue.items[0].enqueued < oldest.items[0].enqueued) oldest = queue;
      }
      if (!oldest) break;
      const slot = this.target.free(oldest.model, oldest.depth);
      if (slot === undefined) {
        held.add(oldest);
        continue;
      }
      if (this.waitsForMore(oldest, now)) {
        held.add(oldest);
        wakeAt = Math.min(wakeAt, oldest.items[0].enqueued + this.maxDelayMs);
        continue;
      }
      this.dispatch(oldest, slot, now);
    }
    if (wakeAt < Infinity) this.wakeAt(wakeAt, now);
    if (this.idleWaiters.length > 0 && this.pending === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Rejects everything queued (not what is running): the model can no longer run. */
  failQueued(model: number, error: InferenceFailure): void {
    const queue = this.queues[model];
    if (!queue) return;
    const items = queue.items;
    queue.items = [];
    queue.rows = 0;
    for (const pending of items) pending.reject(error);
  }

  close(): void {
    if (this.immediate) clearImmediate(this.immediate);
    if (this.timer) clearTimeout(this.timer);
    this.immediate = null;
    this.timer = null;
  }

  /** A free worker waits for more rows only while the model has traffic and the oldest request is young. */
  private waitsForMore(queue: ModelQueue, now: number): boolean {
    const head = queue.items[0];
    return (
      queue.batchable &&
      this.maxDelayMs > 0 &&
      queue.inFlight > 0 &&
      head.key !== null &&
      queue.rows < this.options.maxBatch &&
      now - head.enqueued < this.maxDelayMs
    );
  }

  /**
   * Pumps again at `at` (a hold's end). Timers do not wait less than a millisecond, and spinning the
   * event loop would take the core the HTTP side and the workers need; a hold ends earlier anyway on
   * whatever happens first: a request arriving, or the model's run in flight ending (then nothing is
   * in flight and nobody waits).
   */
  private wakeAt(at: number, now: number): void {
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.pump();
    }, Math.max(1, Math.ceil(at - now)));
    // Requests waiting keep their own handles open (the server's sockets); a hold alone does not.
    this.timer.unref();
  }

  private take(queue: ModelQueue): Pending[] {
    const head = queue.items[0];
    const maxBatch = this.options.maxBatch;
    if (head.key === null || head.rows >= maxBatch) {
      queue.items.shift();
      queue.rows -= head.rows;
      return [head];
    }
    const batch = [head];
    const rest: Pending[] = [];
    let rows = head.rows;
    const items = queue.items;
    for (let i = 1; i < items.length; i++) {
      const pending = items[i];
      if (rows < maxBatch && pending.key === head.key && rows + pending.rows <= maxBatch) {
        batch.push(pending);
        rows += pending.rows;
      } else rest.push(pending);
    }
    queue.items = rest;
    queue.rows -= rows;
    return batch;
  }

  private dispatch(queue: ModelQueue, slot: number, now: number): void {
    const batch = this.take(queue);
    const first = batch[0];
    const transfer: ArrayBuffer[] = [];
    let inputs: WireTensor[];
    let rows = first.rows;
    if (batch.length === 1) {
      inputs = first.inputs.map((tensor) => {
        if (handOver(tensor.data)) transfer.push((tensor.data as ArrayBufferView).buffer as ArrayBuffer);
        return { name: tensor.name, type: ortTypeOf(tensor.datatype), dims: tensor.shape, data: tensor.data };
      });
    } else {
      rows = 0;
      for (const pending of batch) rows += pending.rows;
      inputs = first.inputs.map((tensor, i) => {
        const data = concat(batch.map((pending) => pending.inputs[i].data));
        if (!Array.isArray(data)) transfer.push((data as ArrayBufferView).buffer as ArrayBuffer);
        return { name: tensor.name, type: ortTypeOf(tensor.datatype), dims: [rows, ...tensor.shape.slice(1)], data };
      });
    }
    queue.inFlight++;
    const queueMs = (pending: Pending): number => Math.max(0, now - pending.enqueued);
    const batchRows = Math.max(rows, 1);
    this.target.run(slot, {
      model: queue.model,
      inputs,
      outputs: first.outputs,
      transfer,
      resolve: (outputs) => {
        queue.inFlight--;
        if (batch.length === 1) {
          first.resolve({ outputs: outputs.map(tensorOf), queueMs: queueMs(first), batchRows });
          return;
        }
        if (!outputs.every((output) => output.dims.length > 0 && output.dims[0] === rows)) {
          // The model's outputs do not follow its rows after all: run each request on its own.
          this.retryAlone(queue, batch);
          return;
        }
        let offset = 0;
        for (const pending of batch) {
          pending.resolve({
            outputs: outputs.map((output) => sliceRows(output, offset, pending.rows, rows)),
            queueMs: queueMs(pending),
            batchRows,
          });
          offset += pending.rows;
        }
      },
      reject: (error, crashed) => {
        queue.inFlight--;
        // onnxruntime refused the stacked run: each request gets its own run, and its own answer.
        if (!crashed && batch.length > 1) this.retryAlone(queue, batch);
        else for (const pending of batch) pending.reject(error);
      },
    });
  }

  private retryAlone(queue: ModelQueue, batch: Pending[]): void {
    for (const pending of batch) pending.key = null;
    queue.items.unshift(...batch);
    for (const pending of batch) queue.rows += pending.rows;
    this.immediate ??= setImmediate(() => {
      this.immediate = null;
      this.pump();
    });
  }
}

/** The rows a request contributes and its stacking key (null when it cannot be stacked). */
function stacking(batchable: boolean, inputs: Tensor[], outputs: string[]): { rows: number; key: string | null } {
  const first = inputs[0]?.shape;
  const rows = first && first.length > 0 ? first[0] : 1;
  if (!batchable || inputs.length === 0) return { rows, key: null };
  let key = '';
  for (const input of inputs) {
    if (input.shape.length === 0 || input.shape[0] !== rows) return { rows, key: null };
    key += `${input.name}\u0000${input.datatype}\u0000${input.shape.length === 1 ? '' : input.shape.slice(1).join(',')}\u0001`;
  }
  return { rows, key: key + outputs.join('\u0000') };
}

/** A large typed array that is its whole buffer moves to the worker instead of being copied. */
function handOver(data: TensorData): boolean {
  if (Array.isArray(data)) return false;
  const view = data as ArrayBufferView;
  return view.byteLength >= TRANSFER_BYTES && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength && !(view.buffer instanceof SharedArrayBuffer);
}

type TypedArray = Exclude<TensorData, string[]>;

function concat(parts: TensorData[]): TensorData {
  if (Array.isArray(parts[0])) return (parts as string[][]).flat();
  const typed = parts as TypedArray[];
  let length = 0;
  for (const part of typed) length += part.length;
  const Ctor = typed[0].constructor as new (length: number) => TypedArray;
  const out = new Ctor(length);
  let offset = 0;
  for (const part of typed) {
    (out as Float32Array).set(part as Float32Array, offset);
    offset += part.length;
  }
  return out;
}

function tensorOf(output: WireTensor): Tensor {
  return { name: output.name, datatype: datatypeOfOrt(output.type) ?? 'BYTES', shape: output.dims, data: output.data };
}

/** Rows [offset, offset + rows) of a run's output: a view, not a copy. */
function sliceRows(output: WireTensor, offset: number, rows: number, totalRows: number): Tensor {
  const perRow = totalRows === 0 ? 0 : output.data.length / totalRows;
  const start = offset * perRow;
  const end = (offset + rows) * perRow;
  const data = Array.isArray(output.data) ? output.data.slice(start, end) : (output.data as TypedArray).subarray(start, end);
  return { name: output.name, datatype: datatypeOfOrt(output.type) ?? 'BYTES', shape: [rows, ...output.dims.slice(1)], data };
}
