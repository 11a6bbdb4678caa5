import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { BadInputError } from '../store/errors';
import { attributesOf, decodeOnnx, longToNumber } from './onnx-graph';

/** Element types the runner can feed from numbers (one feature per column). */
type NumericType = 'float32' | 'float64' | 'int64' | 'int32';

/** One output of the model as the runner exposes it (tensors only). */
export interface ModelOutput {
  name: string;
  /** Dimensions as the graph declares them: a number, a symbolic name, or null when unknown. */
  shape: (number | string | null)[];
  /** onnxruntime's element type name ('float32', 'int64', 'string', ...). */
  type: string;
  /** For a classifier's probabilities (a ZipMap the runner removed): the class of each column. */
  labels?: (string | number)[];
  /** True for the probability matrix recovered from a ZipMap. */
  probabilities?: boolean;
}

/** Which column of which output to read. */
export interface OutputRef {
  name: string;
  index: number;
}

/** Anything that evaluates a model on a row-major batch: what KernelSHAP and LIME need. */
export interface Predictor {
  predict(X: Float64Array | Float32Array, rows: number, output: OutputRef): Promise<Float64Array>;
  /**
   * 'float32' when the model takes one float32 input: a caller building large batches can build them
   * as a Float32Array, which predict then feeds without a copy (the values are rounded to float32
   * either way).
   */
  readonly inputPrecision?: 'float32' | 'float64';
}

/** An ONNX model ready to evaluate on batches of rows. */
export interface ModelRunner extends Predictor {
  readonly source: string;
  readonly inputNames: string[];
  /** Features per row; null when the single input's width is dynamic (taken from the data then). */
  readonly featureCount: number | null;
  /** True when the model takes one input per column (featureCount === inputNames.length). */
  readonly perColumn: boolean;
  readonly outputs: ModelOutput[];
  /** Rows per session.run; bigger batches are split into chunks of this many rows. */
  maxBatchRows: number;
  /**
   * The model's `output` column `index` for each of `rows` rows of `X` (row-major, rows x width),
   * as float64. One session.run per chunk of maxBatchRows rows; inputs are fed as the graph's type.
   * @throws BadInputError for an unknown output, a column out of range, or a width mismatch.
   */
  predict(X: Float64Array | Float32Array, rows: number, output: OutputRef): Promise<Float64Array>;
  release(): Promise<void>;
}

const DATA_TYPE = onnx.TensorProto.DataType;
const ORT_TYPES: Record<number, string> = {
  [DATA_TYPE.FLOAT]: 'float32',
  [DATA_TYPE.DOUBLE]: 'float64',
  [DATA_TYPE.INT64]: 'int64',
  [DATA_TYPE.INT32]: 'int32',
  [DATA_TYPE.STRING]: 'string',
  [DATA_TYPE.BOOL]: 'bool',
  [DATA_TYPE.UINT8]: 'uint8',
  [DATA_TYPE.INT8]: 'int8',
  [DATA_TYPE.FLOAT16]: 'float16',
};
const NUMERIC: ReadonlySet<string> = new Set<NumericType>(['float32', 'float64', 'int64', 'int32']);

interface InputInfo {
  name: string;
  type: NumericType;
  shape: (number | string | null)[];
}

/**
 * Opens an ONNX model over an onnxruntime-node CPU session. Classifier graphs whose probabilities
 * leave through a ZipMap (skl2onnx's default: a seq(map) output onnxruntime-node cannot return) are
 * rewritten first: the ZipMap is dropped and its input tensor becomes the output under the same name,
 * with the class labels from its classlabels attribute. Other non-tensor outputs are not offered.
 * @throws BadInputError when the bytes are not ONNX, the session cannot be created, or no input fits.
 */
export async function openModel(bytes: Uint8Array, source: string): Promise<ModelRunner> {
  const model = decodeOnnx(bytes, source);
  const graph = model.graph as onnx.IGraphProto;
  const { rewritten, labels } = removeZipMaps(graph);
  const inputs = usableInputs(graph, source);
  const outputs = tensorOutputs(graph, labels);
  if (outputs.length === 0) throw new BadInputError('model', source, `${source} has no tensor output to explain`);
  const finalBytes = rewritten ? onnx.ModelProto.encode(model).finish() : bytes;
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(finalBytes, {
      executionProviders: ['cpu'],
      intraOpNumThreads: 0,
      graphOptimizationLevel: 'all',
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new BadInputError('model', source, `onnxruntime cannot load ${source}: ${message.split('\n')[0]}`);
  }
  return new OrtRunner(session, source, inputs, outputs);
}

/** Drops each ZipMap whose output leaves the graph, exposing its input tensor under the output's name. */
function removeZipMaps(graph: onnx.IGraphProto): { rewritten: boolean; labels: Map<string, (string | number)[]> } {
  const labels = new Map<string, (string | number)[]>();
  const nodes = graph.node ?? [];
  const consumed = new Set(nodes.flatMap((n) => n.input ?? []));
  let rewritten = false;
  for (const node of [...nodes]) {
    if (node.opType !== 'ZipMap' || !node.input?.[0] || !node.output?.[0]) continue;
    const outName = node.output[0];
    const outIndex = (graph.output ?? []).findIndex((o) => o.name === outName);
    if (outIndex < 0 || consumed.has(outName)) continue;
    const attrs = attributesOf(node);
    const classes = ((attrs.get('classlabels_strings') as string[] | undefined)?.length
      ? attrs.get('classlabels_strings')
      : attrs.get('classlabels_int64s')) as (string | number)[] | undefined;
    // Rename the producer's tensor to the ZipMap's output name so the output keeps its name.
    const inName = node.input[0];
    for (const other of nodes) {
      if (other === node) continue;
      other.output = (other.output ?? []).map((o) => (o === inName ? outName : o));
      other.input = (other.input ?? []).map((i) => (i === inName ? outName : i));
    }
    graph.valueInfo = (graph.valueInfo ?? []).filter((v) => v.name !== inName);
    const dims: onnx.TensorShapeProto.IDimension[] = [{ dimParam: 'N' }];
    if (classes?.length) dims.push({ dimValue: classes.length });
    else dims.push({});
    const inGraphOutput = (graph.output ?? []).findIndex((o) => o.name === inName);
    graph.output![outIndex] = {
      name: outName,
      type: { tensorType: { elemType: DATA_TYPE.FLOAT, shape: { dim: dims } } },
    };
    if (inGraphOutput >= 0) graph.output![inGraphOutput] = { ...graph.output![inGraphOutput], name: outName };
    graph.output = dedupeByName(graph.output ?? []);
    graph.node = (graph.node ?? []).filter((n) => n !== node);
    labels.set(outName, classes ?? []);
    rewritten = true;
  }
  return { rewritten, labels };
}

function dedupeByName(values: onnx.IValueInfoProto[]): onnx.IValueInfoProto[] {
  const seen = new Set<string>();
  return values.filter((v) => (seen.has(v.name ?? '') ? false : (seen.add(v.name ?? ''), true)));
}

function shapeOf(type: onnx.ITypeProto | null | undefined): (number | string | null)[] {
  return (type?.tensorType?.shape?.dim ?? []).map((d) => {
    const v = longToNumber(d.dimValue);
    if (v > 0) return v;
    return d.dimParam ? d.dimParam : null;
  });
}

function typeName(type: onnx.ITypeProto | null | undefined): string {
  if (!type?.tensorType) {
    if (type?.sequenceType) return 'sequence';
    if (type?.mapType) return 'map';
    return 'unknown';
  }
  return ORT_TYPES[type.tensorType.elemType ?? 0] ?? `type ${type.tensorType.elemType ?? 0}`;
}

/** The graph's inputs (initializers excluded) if they are numeric and one 2-D matrix or one column each. */
function usableInputs(graph: onnx.IGraphProto, source: string): InputInfo[] {
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const declared = (graph.input ?? []).filter((i) => !initializers.has(i.name));
  const describe = (i: onnx.IValueInfoProto): string =>
    `'${i.name}' (${typeName(i.type)} [${shapeOf(i.type).map((d) => d ?? '?').join(', ')}])`;
  const bad = (why: string): BadInputError =>
    new BadInputError('model', source, `${source} has no usable input: ${why}; inputs: ${declared.map(describe).join(', ') || 'none'}`);
  if (declared.length === 0) throw bad('the graph declares no input');
  const infos = declared.map((i) => ({ name: i.name ?? '', type: typeName(i.type), shape: shapeOf(i.type), tensor: !!i.type?.tensorType }));
  const unusable = infos.filter((i) => !i.tensor || !NUMERIC.has(i.type));
  if (unusable.length > 0) {
    throw bad(`${unusable.map((i) => `'${i.name}' is ${i.type}`).join(', ')}, and the runner feeds float, double, int32 or int64 tensors`);
  }
  const result = infos.map((i) => ({ name: i.name, type: i.type as NumericType, shape: i.shape }));
  if (result.length === 1) {
    if (result[0].shape.length !== 2) throw bad(`'${result[0].name}' has ${result[0].shape.length} dimensions, not 2 (rows x features)`);
    return result;
  }
  const wide = result.filter((i) => i.shape.length !== 2 || (typeof i.shape[1] === 'number' && i.shape[1] !== 1));
  if (wide.length > 0) throw bad(`with several inputs each must be one column [N, 1], and ${wide.map((i) => `'${i.name}'`).join(', ')} is not`);
  return result;
}

function tensorOutputs(graph: onnx.IGraphProto, labels: Map<string, (string | number)[]>): ModelOutput[] {
  return (graph.output ?? [])
    .filter((o) => !!o.type?.tensorType)
    .map((o) => {
      const out: ModelOutput = { name: o.name ?? '', shape: shapeOf(o.type), type: typeName(o.type) };
      const classes = labels.get(out.name);
      if (classes) {
        out.probabilities = true;
        if (classes.length) out.labels = classes;
      }
      return out;
    });
}

/**
 * What a model takes, read from its graph without starting a session: its feature count (null when
 * its one input's width is dynamic) and, for a model with one input per column, their names.
 * @throws BadInputError when no input fits (as {@link openModel} would)
 */
export function modelInputs(model: onnx.IModelProto, source: string): { featureCount: number | null; columnNames?: string[] } {
  const inputs = usableInputs(model.graph as onnx.IGraphProto, source);
  if (inputs.length > 1) return { featureCount: inputs.length, columnNames: inputs.map((i) => i.name) };
  const width = inputs[0].shape[1];
  return { featureCount: typeof width === 'number' ? width : null };
}

class OrtRunner implements ModelRunner {
  readonly inputNames: string[];
  readonly featureCount: number | null;
  readonly perColumn: boolean;
  maxBatchRows = 100_000;

  constructor(
    private readonly session: ort.InferenceSession,
    readonly source: string,
    private readonly inputs: InputInfo[],
    readonly outputs: ModelOutput[],
  ) {
    this.inputNames = inputs.map((i) => i.name);
    this.perColumn = inputs.length > 1;
    const width = inputs[0].shape[1];
    this.featureCount = this.perColumn ? inputs.length : typeof width === 'number' ? width : null;
  }

  get inputPrecision(): 'float32' | 'float64' {
    return !this.perColumn && this.inputs[0].type === 'float32' ? 'float32' : 'float64';
  }

  async predict(X: Float64Array | Float32Array, rows: number, output: OutputRef): Promise<Float64Array> {
    const out = this.outputs.find((o) => o.name === output.name);
    if (!out) {
      throw new BadInputError('output', output.name,
        `${this.source} has no output '${output.name}'; available: ${this.outputs.map((o) => `'${o.name}'`).join(', ')}`);
    }
    const width = rows > 0 ? X.length / rows : this.featureCount ?? 0;
    if (!Number.isInteger(width) || (this.featureCount !== null && width !== this.featureCount)) {
      throw new BadInputError('data', width,
        `${this.source} expects ${this.featureCount ?? 'a whole number of'} features per row, the data has ${Number.isInteger(width) ? width : `${X.length} values for ${rows} rows`}`);
    }
    const result = new Float64Array(rows);
    for (let start = 0; start < rows; start += this.maxBatchRows) {
      const n = Math.min(this.maxBatchRows, rows - start);
      const feeds = this.feeds(X, start, n, width);
      const answer = await this.session.run(feeds, [out.name]);
      const tensor = answer[out.name];
      const dims = tensor.dims;
      const columns = dims.length >= 2 ? dims.slice(1).reduce((a, b) => a * b, 1) : 1;
      if (output.index < 0 || output.index >= columns || !Number.isInteger(output.index)) {
        throw new BadInputError('output', output.index,
          `output '${out.name}' has ${columns} column${columns === 1 ? '' : 's'}; column ${output.index} does not exist`);
      }
      const data = tensor.data;
      if (typeof data[0] === 'string') throw new BadInputError('output', out.name, `output '${out.name}' holds strings, not numbers`);
      for (let r = 0; r < n; r++) result[start + r] = Number(data[r * columns + output.index]);
      for (const t of Object.values(feeds)) t.dispose();
      tensor.dispose();
    }
    return result;
  }

  /** Input tensors for rows [start, start+n) of X (row-major, `width` values per row). */
  private feeds(X: Float64Array | Float32Array, start: number, n: number, width: number): Record<string, ort.Tensor> {
    const feeds: Record<string, ort.Tensor> = {};
    if (!this.perColumn) {
      const input = this.inputs[0];
      const slice = X.subarray(start * width, (start + n) * width);
      feeds[input.name] = new ort.Tensor(input.type, convert(slice, input.type), [n, width]);
      return feeds;
    }
    for (let j = 0; j < this.inputs.length; j++) {
      const column = new Float64Array(n);
      for (let r = 0; r < n; r++) column[r] = X[(start + r) * width + j];
      feeds[this.inputs[j].name] = new ort.Tensor(this.inputs[j].type, convert(column, this.inputs[j].type), [n, 1]);
    }
    return feeds;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function convert(values: Float64Array | Float32Array, type: NumericType): Float32Array | Float64Array | BigInt64Array | Int32Array {
  switch (type) {
    case 'float32':
      // A float32 batch goes as it is (onnxruntime only reads it); a float64 one is copied by the
      // typed-array constructor, not Float32Array.from's per-element iteration.
      return values instanceof Float32Array ? values : new Float32Array(values);
    case 'float64':
      return new Float64Array(values);
    case 'int32':
      return Int32Array.from(values, (v) => Math.round(v));
    case 'int64': {
      const out = new BigInt64Array(values.length);
      for (let i = 0; i < values.length; i++) out[i] = BigInt(Math.round(values[i]));
      return out;
    }
  }
}
