/**
 * The seams inside the serving capability (src/serving/). The HTTP side (server.ts, tensors.ts,
 * metrics.ts) decodes and checks requests against a model's metadata and hands them to an Executor;
 * the Executor (executor.ts, batcher.ts, pool.ts, worker.ts) batches them and runs them on
 * onnxruntime sessions in worker threads. The public contract is schema/serve-config.schema.json,
 * schema/inference.schema.json and schema/endpoint.schema.json.
 */
import type { ServeConfig } from '@opsbook/schema';

export type Datatype =
  | 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'INT8' | 'INT16' | 'INT32' | 'INT64'
  | 'FP16' | 'FP32' | 'FP64' | 'BYTES';

export type Device = 'cpu' | 'cuda';

/** An input or output of a model: -1 marks a dimension of any size. */
export interface TensorSpec {
  name: string;
  datatype: Datatype;
  shape: number[];
}

/**
 * Tensor data as onnxruntime-node takes and gives it: BOOL as Uint8Array, FP16 as Uint16Array (raw
 * half floats), INT64/UINT64 as BigInt64Array/BigUint64Array, BYTES as string[].
 */
export type TensorData =
  | Float32Array | Float64Array | Uint16Array | Int8Array | Uint8Array | Int16Array | Int32Array | Uint32Array
  | BigInt64Array | BigUint64Array | string[];

export interface Tensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: TensorData;
}

/** One model as the server knows it. Before loading settles, `ready` is false and inputs/outputs are empty. */
export interface ServedModel {
  name: string;
  version: string;
  /** What was asked (registry reference or path) and the file loaded. */
  model: string;
  path: string;
  device: Device;
  ready: boolean;
  error: string | null;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Every input and output has a dynamic first dimension, so requests can be stacked along it. */
  batchable: boolean;
}

export interface InferResult {
  outputs: Tensor[];
  /** Time the request waited before its onnxruntime run started. */
  queueMs: number;
  /** Rows of the onnxruntime run that answered it (1 request or many). */
  batchRows: number;
}

/** Raised by Executor.infer when onnxruntime failed on inputs that passed the checks: the server answers 500. */
export class InferenceFailure extends Error {
  readonly status = 500;
}

/** Runs checked requests on onnxruntime sessions; batches concurrent requests of one model. */
export interface Executor {
  /** The device actually in use (after auto fell back, or not). */
  readonly device: Device;
  /** Settles when every model has loaded or failed to load. */
  readonly settled: Promise<void>;
  /** The models, in the config's order; their state changes as loading settles. */
  models(): ServedModel[];
  /**
   * Runs one request whose inputs were checked against `model.inputs` (names, datatypes, shapes,
   * data length). `outputs` are the output names asked for (default all, in the model's order).
   */
  infer(model: ServedModel, inputs: Tensor[], outputs?: string[]): Promise<InferResult>;
  /** Finishes what is queued and running, then ends the workers. */
  close(): Promise<void>;
}

/** A ServeConfig after defaults, with every model's path resolved. */
export interface ResolvedServeConfig extends Required<Omit<ServeConfig, 'api_key' | 'request_log_dir' | 'workers' | 'name'>> {
  name: string;
  api_key: string | null;
  workers: number;
  request_log_dir: string | null;
}

/** One structured log line; the logger adds `time` and writes JSON lines. */
export interface LogFields {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  event?: 'listening' | 'model' | 'ready' | 'stats' | 'draining' | 'stopped' | 'fatal' | 'device' | 'request';
  [field: string]: unknown;
}
export type Log = (fields: LogFields) => void;

/** One answered inference, for the request log (written to Parquet off the request path). */
export interface RequestRecord {
  time_ms: number;
  model: string;
  version: string;
  id: string | null;
  status: number;
  latency_ms: number;
  batch_rows: number;
  /** The request's body and the answer's body, as sent (JSON text). */
  request: string;
  response: string;
}
