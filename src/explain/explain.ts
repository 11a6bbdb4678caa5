import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Explanation, ExplainedModel, ExplainProgress } from '@opsbook/schema';
import { cancelled, describeSource, messageOf, numberOf, openSandbox, quoteIdent, throwIfCancelled, type ResolvedSource, type Sandbox } from '../quality';
import { BadInputError, ConflictError } from '../store/errors';
import { computeExplanation, notATree, type ComputeResult, type WorkerMessage, type WorkerRequest } from './compute';
import { modelInputs } from './model-runner';
import { readOnnxFile } from './onnx-graph';
import { inspectEnsemble } from './trees';

/** Background rows TreeSHAP takes its expectation over (a seeded sample of more). */
export const TREE_BACKGROUND_ROWS = 1000;
/** Rows LIME's statistics and KernelSHAP's k-means start from (a seeded sample of more). */
export const SAMPLE_BACKGROUND_ROWS = 10_000;
/** The shortest time between two progress reports of the explanation's rows. */
export const PROGRESS_INTERVAL_MS = 100;
/** Rows explained when none are asked for. */
export const DEFAULT_ROWS = '0:100';

/** A model as the daemon resolved it: the .onnx file, and what the registry knows of it. */
export interface ModelToExplain {
  ref: string;
  path: string;
  name?: string;
  version?: number;
  run_id?: string;
  /** The registry signature's feature names (null or absent when it has none). */
  featureNames?: string[] | null;
}

/** One explanation to compute. */
export interface ExplainJob {
  model: ModelToExplain;
  data: ResolvedSource;
  background?: ResolvedSource;
  rows?: string;
  method?: 'tree' | 'kernel' | 'lime';
  treeMode?: 'interventional' | 'path_dependent';
  output?: string;
  featureNames?: string[];
  nsamples?: number;
  seed?: number;
}

/** How the caller follows and stops the work. */
export interface ExplainHooks {
  signal?: AbortSignal;
  jobId?: string;
  onProgress?: (progress: Omit<ExplainProgress, 'job_id'>) => void;
  /** Compute in this thread instead of a worker thread (tests, benchmarks). */
  inProcess?: boolean;
}

/**
 * Explains a model's output for rows of a table: reads the ONNX file (bad input when it is not
 * ONNX), picks the method (tree for tree ensembles unless asked otherwise), matches the data's
 * columns to the model's features (by name when the model or the request names them, else in order),
 * reads the rows and a background through a sandboxed DuckDB, and computes in a worker thread that a
 * cancel terminates.
 * @throws BadInputError for a model that is not ONNX, `tree` on a model without a tree ensemble,
 *   data whose columns do not fit the model, bad rows, or an unknown output.
 * @throws ConflictError (field job_id) when cancelled.
 */
export async function explainModel(job: ExplainJob, hooks: ExplainHooks = {}): Promise<Explanation> {
  const started = performance.now();
  const progress = hooks.onProgress ?? (() => {});
  throwIfCancelled(hooks.signal, hooks.jobId);
  progress({ phase: 'load', done: 0, total: 3, message: `reading ${job.model.ref}` });
  const file = await readOnnxFile(job.model.path);
  const inspected = inspectEnsemble(file.model);
  const method = job.method ?? (inspected.ensemble ? 'tree' : 'kernel');
  if (method === 'tree' && !inspected.ensemble) throw notATree(job.model.ref, inspected.reason);
  const seed = job.seed ?? 0;

  progress({ phase: 'load', done: 1, total: 3, message: `reading ${job.data.label}` });
  const tables: Record<string, ResolvedSource> = { data: job.data };
  if (job.background) tables.background = job.background;
  const sandbox = await openSandbox({ tables, signal: hooks.signal, jobId: hooks.jobId, fields: { data: 'data', background: 'background' } });
  let loaded: Loaded;
  try {
    // Read from the graph (no session here: the worker starts the one that runs).
    const inputs = inspected.ensemble ? { featureCount: inspected.ensemble.nFeatures } : modelInputs(file.model, job.model.ref);
    const names = job.featureNames ?? job.model.featureNames ?? inputs.columnNames;
    loaded = await loadRows(sandbox, job, names ?? undefined, inputs.featureCount, method, seed);
  } finally {
    sandbox.close();
  }
  progress({ phase: 'load', done: 3, total: 3 });

  const request: WorkerRequest = {
    method,
    treeMode: job.treeMode ?? 'interventional',
    modelBytes: file.bytes,
    source: job.model.ref,
    X: loaded.X,
    rows: loaded.rowIndices.length,
    M: loaded.features.length,
    background: loaded.background,
    backgroundRows: loaded.backgroundRows,
    output: job.output,
    nsamples: job.nsamples,
    seed,
    featureNames: loaded.features,
  };
  // Rows can take a millisecond each: at most one report per PROGRESS_INTERVAL_MS (and the last), so
  // a listener of the live stream is never flooded into the daemon's cut-off for clients that lag.
  let reported = -Infinity;
  const onStep = (done: number, total: number, phase: 'background' | 'explain'): void => {
    const now = performance.now();
    if (done < total && done > 0 && now - reported < PROGRESS_INTERVAL_MS) return;
    reported = now;
    progress({ phase, done, total, ...(phase === 'explain' ? { message: `${done} of ${total} rows` } : {}) });
  };
  const result = hooks.inProcess ? await computeExplanation(request, onStep) : await inWorker(request, onStep, hooks);

  const M = loaded.features.length;
  const rows = loaded.rowIndices.length;
  const matrix = (values: Float64Array): number[][] => Array.from({ length: rows }, (_, r) => Array.from(values.subarray(r * M, (r + 1) * M)));
  const model: ExplainedModel = {
    ref: job.model.ref,
    path: job.model.path,
    ...(job.model.name !== undefined ? { name: job.model.name } : {}),
    ...(job.model.version !== undefined ? { version: job.model.version } : {}),
    ...(job.model.run_id !== undefined ? { run_id: job.model.run_id } : {}),
    sha256: file.sha256,
    kind: inspected.ensemble?.kind ?? 'other',
  };
  return {
    method,
    ...(method === 'tree' ? { tree_mode: request.treeMode } : {}),
    model,
    output: result.output,
    feature_names: loaded.features as [string, ...string[]],
    rows: loaded.rowIndices,
    features: matrix(loaded.X).map((row) => row.map((v) => (Number.isFinite(v) ? v : null))),
    values: matrix(result.values),
    base_values: Array.from(result.base),
    predictions: Array.from(result.predictions),
    ...(result.lime ? { lime: result.lime } : {}),
    background_rows: result.backgroundRows,
    ...(result.nsamples !== undefined ? { nsamples: result.nsamples } : {}),
    seed,
    seconds: (performance.now() - started) / 1000,
    data: describeSource(job.data, loaded.dataRows),
  };
}

/** The rows to explain and the background, as row-major doubles over the model's features. */
interface Loaded {
  features: string[];
  X: Float64Array;
  rowIndices: number[];
  dataRows: number;
  background: Float64Array;
  backgroundRows: number;
}

/**
 * Parses a Python-style row range ('N', 'A:B', ':B', 'A:') over `count` rows; B is clipped to the
 * table. @throws BadInputError (field rows) when it is malformed or selects no row.
 */
export function parseRows(spec: string, count: number): { start: number; end: number } {
  const match = /^\s*(\d*)\s*(?:(:)\s*(\d*)\s*)?$/.exec(spec);
  const bad = (why: string): BadInputError => new BadInputError('rows', spec, `rows ${JSON.stringify(spec)}: ${why}`);
  if (!match || (match[1] === '' && match[2] === undefined)) throw bad('expected N, A:B, :B or A:');
  const start = match[1] === '' ? 0 : Number(match[1]);
  const end = match[2] === undefined ? start + 1 : match[3] === '' ? count : Math.min(Number(match[3]), count);
  if (start >= count) throw bad(`the data has ${count} rows (0..${Math.max(0, count - 1)})`);
  if (end <= start) throw bad('selects no row');
  return { start, end };
}

async function loadRows(
  sandbox: Sandbox,
  job: ExplainJob,
  names: string[] | undefined,
  width: number | null,
  method: 'tree' | 'kernel' | 'lime',
  seed: number,
): Promise<Loaded> {
  const columns = await sandbox.describe('data');
  const byName = new Map(columns.map((c) => [c.name, c]));
  let features: string[];
  if (names) {
    const missing = names.filter((n) => !byName.has(n));
    if (missing.length > 0) {
      throw new BadInputError(
        'data',
        job.data.label,
        `${job.data.label} lacks the model's feature${missing.length > 1 ? 's' : ''} ${missing.map((n) => JSON.stringify(n)).join(', ')} (it has ${columns.map((c) => c.name).join(', ')})`,
      );
    }
    if (width !== null && names.length !== width) {
      throw new BadInputError('feature_names', names, `${names.length} feature names for a model that takes ${width} features`);
    }
    features = names;
  } else {
    if (width !== null && columns.length !== width) {
      throw new BadInputError('data', job.data.label, `${job.data.label} has ${columns.length} columns; the model takes ${width} features (columns are taken in order when the model names none)`);
    }
    features = columns.map((c) => c.name);
  }
  for (const name of features) {
    const type = byName.get(name)!.type;
    if (!/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL.*|BOOLEAN)$/.test(type)) {
      throw new BadInputError('data', job.data.label, `column ${JSON.stringify(name)} of ${job.data.label} is ${type}; the model takes numbers`);
    }
  }
  const select = features.map((n) => `CAST(${quoteIdent(n)} AS DOUBLE)`).join(', ');
  const count = numberOf((await sandbox.rows('SELECT count(*) FROM data')).rows[0][0]) ?? 0;
  if (count === 0) throw new BadInputError('data', job.data.label, `${job.data.label} has no rows`);
  const { start, end } = parseRows(job.rows ?? DEFAULT_ROWS, count);
  const X = await matrix(sandbox, `SELECT ${select} FROM data LIMIT ${end - start} OFFSET ${start}`, features.length);

  const table = job.background ? 'background' : 'data';
  if (job.background) {
    const have = new Set((await sandbox.describe('background')).map((c) => c.name));
    const missing = features.filter((n) => !have.has(n));
    if (missing.length > 0) {
      throw new BadInputError('background', job.background.label, `${job.background.label} lacks ${missing.map((n) => JSON.stringify(n)).join(', ')}`);
    }
  }
  const limit = method === 'tree' ? TREE_BACKGROUND_ROWS : SAMPLE_BACKGROUND_ROWS;
  const total = job.background ? (numberOf((await sandbox.rows('SELECT count(*) FROM background')).rows[0][0]) ?? 0) : count;
  if (total === 0) throw new BadInputError('background', job.background?.label ?? job.data.label, 'the background has no rows');
  const sample = total > limit ? ` USING SAMPLE reservoir(${limit} ROWS) REPEATABLE (${Math.abs(Math.trunc(seed))})` : '';
  const background = await matrix(sandbox, `SELECT ${select} FROM ${quoteIdent(table)}${sample}`, features.length);
  return {
    features,
    X,
    rowIndices: Array.from({ length: X.length / Math.max(1, features.length) }, (_, i) => start + i),
    dataRows: count,
    background,
    backgroundRows: background.length / Math.max(1, features.length),
  };
}

async function matrix(sandbox: Sandbox, sql: string, width: number): Promise<Float64Array> {
  const { rows } = await sandbox.rows(sql);
  const out = new Float64Array(rows.length * width);
  rows.forEach((row, r) => {
    for (let j = 0; j < width; j++) out[r * width + j] = numberOf(row[j]) ?? NaN;
  });
  return out;
}

/**
 * The worker's file: compiled beside this module (dist/explain/worker.js), the bundle's
 * (explain-worker.cjs beside opsbook.cjs), or — for this module run from its TypeScript source, as
 * jest does — the compiled one in src/dist.
 */
function workerFile(): string {
  const candidates = [join(__dirname, 'worker.js'), join(__dirname, 'explain-worker.cjs'), join(__dirname, '..', 'dist', 'explain', 'worker.js')];
  return candidates.find((file) => existsSync(file)) ?? candidates[0];
}

/**
 * Runs the computation in a worker thread. An abort answers at once (cancelled) and tells the worker
 * to stop between rows; the worker is terminated once it has stopped, never while onnxruntime runs in
 * it (terminating a thread inside a native run can take the whole daemon down).
 */
function inWorker(
  request: WorkerRequest,
  onStep: (done: number, total: number, phase: 'background' | 'explain') => void,
  hooks: ExplainHooks,
): Promise<ComputeResult> {
  return new Promise<ComputeResult>((resolve, reject) => {
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(workerFile(), { workerData: { ...request, stop } });
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      hooks.signal?.removeEventListener('abort', abort);
      fn();
    };
    const abort = (): void => {
      Atomics.store(stop, 0, 1);
      settle(() => reject(cancelled(hooks.jobId)));
    };
    hooks.signal?.addEventListener('abort', abort, { once: true });
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'progress') {
        if (!settled) onStep(message.done, message.total, message.phase);
        return;
      }
      void worker.terminate();
      if (message.type === 'result') settle(() => resolve(message.result));
      else {
        const error =
          message.name === 'BadInputError'
            ? new BadInputError(message.field ?? 'model', null, message.message)
            : message.name === 'ConflictError'
              ? new ConflictError(message.field ?? 'job_id', null, message.message)
              : new Error(message.message);
        settle(() => reject(error));
      }
    });
    worker.on('error', (error) => settle(() => reject(new Error(`the explanation worker failed: ${messageOf(error)}`))));
    worker.on('exit', (code) => settle(() => reject(new Error(`the explanation worker exited (code ${code}) before answering`))));
    if (hooks.signal?.aborted) abort();
  });
}
