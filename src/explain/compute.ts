import type { ExplainedOutput } from '@opsbook/schema';
import { BadInputError } from '../store/errors';
import { kernelShap } from './kernel-shap';
import { summarizeBackground } from './kmeans';
import { limeTabular, type LimeRowResult } from './lime';
import { openModel, type ModelOutput, type ModelRunner, type OutputRef } from './model-runner';
import { attributesOf, decodeOnnx } from './onnx-graph';
import { interventionalTreeShap, pathDependentTreeShap } from './tree-shap';
import { inspectEnsemble, type TreeEnsemble } from './trees';

/** Rows KernelSHAP's background is summarized to (weighted k-means) when it has more. */
export const KERNEL_BACKGROUND_ROWS = 100;

/** What one explanation computes over: the model, the rows (row-major, M features), the background. */
export interface WorkerRequest {
  method: 'tree' | 'kernel' | 'lime';
  treeMode: 'interventional' | 'path_dependent';
  modelBytes: Uint8Array;
  /** How errors name the model. */
  source: string;
  X: Float64Array;
  rows: number;
  M: number;
  background: Float64Array;
  backgroundRows: number;
  /** The output asked for (see {@link chooseTreeOutput} and {@link chooseOutput}); default per model. */
  output?: string;
  nsamples?: number;
  seed: number;
  featureNames: string[];
  /**
   * Set to 1 (Atomics) to stop between rows: onnxruntime runs must not be cut off by terminating
   * their worker mid-run (that can take the whole process down), so KernelSHAP and LIME stop here.
   */
  stop?: Int32Array;
}

/** What a worker computed, before the explanation is put together. */
export interface ComputeResult {
  values: Float64Array;
  base: Float64Array;
  predictions: Float64Array;
  output: ExplainedOutput;
  lime?: LimeRowResult[];
  backgroundRows: number;
  nsamples?: number;
}

/** Messages of the worker thread to the daemon's thread. */
export type WorkerMessage =
  | { type: 'progress'; done: number; total: number; phase: 'background' | 'explain' }
  | { type: 'result'; result: ComputeResult }
  | { type: 'error'; name: string; field?: string; message: string };

/**
 * Computes one explanation: exact TreeSHAP on the model's tree ensemble, or KernelSHAP or LIME through
 * an onnxruntime session. Pure apart from that session, so it runs in a worker thread.
 * @throws BadInputError for an output the model does not have, or a model onnxruntime cannot load.
 */
export async function computeExplanation(
  request: WorkerRequest,
  progress: (done: number, total: number, phase: 'background' | 'explain') => void = () => {},
): Promise<ComputeResult> {
  const onProgress = (done: number, total: number): void => progress(done, total, 'explain');
  const stop = request.stop;
  const shouldStop = stop ? (): boolean => Atomics.load(stop, 0) === 1 : undefined;
  if (request.method === 'tree') {
    const model = decodeOnnx(request.modelBytes, request.source);
    const inspected = inspectEnsemble(model);
    if (!inspected.ensemble) throw notATree(request.source, inspected.reason);
    const ensemble = inspected.ensemble;
    const { index, output } = chooseTreeOutput(ensemble, request.output);
    const result =
      request.treeMode === 'path_dependent'
        ? pathDependentTreeShap(ensemble, request.X, request.background, index, { onProgress, shouldStop })
        : interventionalTreeShap(ensemble, request.X, request.background, index, { onProgress, shouldStop });
    return { values: result.values, base: result.base, predictions: result.raw, output, backgroundRows: request.backgroundRows };
  }
  const runner = await openModel(request.modelBytes, request.source);
  try {
    const { ref, output } = chooseOutput(runner, request.output, request.modelBytes, request.source);
    if (request.method === 'kernel') {
      progress(0, 1, 'background');
      const summary = summarizeBackground(request.background, request.backgroundRows, request.M, KERNEL_BACKGROUND_ROWS, request.seed);
      progress(1, 1, 'background');
      const result = await kernelShap(runner, request.X, request.rows, request.M, summary.data, summary.rows, ref, {
        nsamples: request.nsamples,
        seed: request.seed,
        backgroundWeights: summary.weights,
        onProgress,
        shouldStop,
      });
      return { values: result.values, base: result.base, predictions: result.predictions, output, backgroundRows: summary.rows, nsamples: result.nsamples };
    }
    const result = await limeTabular(runner, request.X, request.rows, request.M, request.background, request.backgroundRows, ref, {
      numSamples: request.nsamples,
      seed: request.seed,
      featureNames: request.featureNames,
      onProgress,
      shouldStop,
    });
    return {
      values: result.values,
      base: result.intercepts,
      predictions: result.predictions,
      output,
      lime: result.lime,
      backgroundRows: request.backgroundRows,
      nsamples: request.nsamples ?? 5000,
    };
  } finally {
    await runner.release();
  }
}

/** The error of `--method tree` on a model without a tree ensemble. */
export function notATree(source: string, reason: string): BadInputError {
  return new BadInputError('method', 'tree', `${source} is not a tree ensemble (${reason}); use --method kernel, which explains any model`);
}

/**
 * Which raw score column TreeSHAP explains: `asked` is a column number, a class label, or
 * `NAME:COLUMN` of the ensemble's score output; default column 0 of a regressor, the last class of a
 * classifier (the positive class of a binary one).
 * @throws BadInputError (field output) naming what there is.
 */
export function chooseTreeOutput(e: TreeEnsemble, asked: string | undefined): { index: number; output: ExplainedOutput } {
  const labels = e.outputLabels;
  const at = (index: number): { index: number; output: ExplainedOutput } => ({
    index,
    output: { name: e.scoreOutput, index, ...(labels?.[index] !== undefined ? { label: labels[index] } : {}), transform: e.postTransform },
  });
  if (asked === undefined) return at(e.kind === 'tree_classifier' ? e.nOutputs - 1 : 0);
  const byLabel = labels?.findIndex((label) => String(label) === asked) ?? -1;
  if (byLabel >= 0) return at(byLabel);
  const column = columnOf(asked, e.scoreOutput);
  if (column !== undefined && column < e.nOutputs) return at(column);
  const choices = labels ? `a class label (${labels.map(String).join(', ')}) or a column 0..${e.nOutputs - 1}` : `a column 0..${e.nOutputs - 1}`;
  throw new BadInputError('output', asked, `output ${JSON.stringify(asked)} is not an output of the tree ensemble: give ${choices}`);
}

/**
 * Which model output KernelSHAP and LIME explain: `asked` is an output name, `NAME:COLUMN`, or a class
 * label of the probabilities. Default: a classifier's probabilities of its last class, else the first
 * numeric output's column 0.
 * @throws BadInputError (field output) naming the outputs there are.
 */
export function chooseOutput(runner: ModelRunner, asked: string | undefined, bytes: Uint8Array, source: string): { ref: OutputRef; output: ExplainedOutput } {
  const numeric = runner.outputs.filter((o) => o.type.startsWith('float') || o.type.startsWith('int') || o.type.startsWith('uint'));
  if (numeric.length === 0) throw new BadInputError('model', source, `${source} has no numeric output to explain`);
  const probabilities = numeric.find((o) => o.probabilities) ?? numeric.find((o) => /prob/i.test(o.name) && o.type.startsWith('float'));
  const labelsOf = (o: ModelOutput): (string | number)[] | undefined => o.labels ?? (o === probabilities ? classLabels(bytes, source, width(o)) : undefined);
  const pick = (o: ModelOutput, index: number): { ref: OutputRef; output: ExplainedOutput } => {
    const labels = labelsOf(o);
    return { ref: { name: o.name, index }, output: { name: o.name, index, ...(labels?.[index] !== undefined ? { label: labels[index] } : {}) } };
  };
  if (asked === undefined) {
    if (probabilities) return pick(probabilities, Math.max(0, (width(probabilities) ?? labelsOf(probabilities)?.length ?? 1) - 1));
    return pick(numeric[0], 0);
  }
  const named = numeric.find((o) => o.name === asked);
  if (named) return pick(named, 0);
  const colon = asked.lastIndexOf(':');
  if (colon > 0) {
    const o = numeric.find((candidate) => candidate.name === asked.slice(0, colon));
    const column = columnOf(asked.slice(colon + 1), undefined);
    const limit = o ? width(o) : undefined;
    if (o && column !== undefined && (limit === undefined || column < limit)) return pick(o, column);
  }
  if (probabilities) {
    const index = (labelsOf(probabilities) ?? []).findIndex((label) => String(label) === asked);
    if (index >= 0) return pick(probabilities, index);
  }
  const names = numeric.map((o) => `${o.name}${width(o) !== undefined ? ` (${width(o)} columns)` : ''}`).join(', ');
  const labels = probabilities ? labelsOf(probabilities) : undefined;
  throw new BadInputError(
    'output',
    asked,
    `output ${JSON.stringify(asked)} is not one of the model's: ${names}${labels?.length ? `; class labels ${labels.map(String).join(', ')}` : ''} (NAME or NAME:COLUMN)`,
  );
}

/** The second dimension of an output, when the graph states it. */
function width(o: ModelOutput): number | undefined {
  const second = o.shape[1];
  return typeof second === 'number' && second > 0 ? second : o.shape.length === 1 ? 1 : undefined;
}

/** A column number: `asked` as digits, or `NAME:digits` of `name`. */
function columnOf(asked: string, name: string | undefined): number | undefined {
  const match = /^(?:(.*):)?(\d+)$/.exec(asked);
  if (!match || (match[1] !== undefined && match[1] !== name)) return undefined;
  return Number(match[2]);
}

/** The class labels of the graph's classifier node (any ai.onnx.ml *Classifier with `count` of them). */
function classLabels(bytes: Uint8Array, source: string, count: number | undefined): (string | number)[] | undefined {
  const model = decodeOnnx(bytes, source);
  for (const node of model.graph?.node ?? []) {
    if (node.domain !== 'ai.onnx.ml' || !(node.opType ?? '').endsWith('Classifier')) continue;
    const attrs = attributesOf(node);
    const strings = attrs.get('classlabels_strings') as string[] | undefined;
    const ints = (attrs.get('classlabels_ints') ?? attrs.get('classlabels_int64s')) as number[] | undefined;
    const labels = strings?.length ? strings : ints?.length ? ints : undefined;
    if (labels && (count === undefined || labels.length === count || (labels.length === 2 && count === 2))) return labels;
  }
  return undefined;
}
