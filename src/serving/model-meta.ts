import { onnx } from 'onnx-proto';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import type { Datatype, TensorSpec } from './types';

/** onnxruntime's element type names and the V2 protocol's datatypes, both ways. */
const V2_OF_ORT: Readonly<Record<string, Datatype>> = {
  bool: 'BOOL',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  float16: 'FP16',
  float32: 'FP32',
  float64: 'FP64',
  string: 'BYTES',
};
const ORT_OF_V2 = Object.fromEntries(Object.entries(V2_OF_ORT).map(([ort, v2]) => [v2, ort])) as Record<Datatype, OrtTensor.Type>;

/** ONNX TensorProto element types, as the graph writes them, to V2 datatypes. */
const DT = onnx.TensorProto.DataType;
const V2_OF_ONNX: Readonly<Record<number, Datatype>> = {
  [DT.BOOL]: 'BOOL',
  [DT.UINT8]: 'UINT8',
  [DT.UINT16]: 'UINT16',
  [DT.UINT32]: 'UINT32',
  [DT.UINT64]: 'UINT64',
  [DT.INT8]: 'INT8',
  [DT.INT16]: 'INT16',
  [DT.INT32]: 'INT32',
  [DT.INT64]: 'INT64',
  [DT.FLOAT16]: 'FP16',
  [DT.FLOAT]: 'FP32',
  [DT.DOUBLE]: 'FP64',
  [DT.STRING]: 'BYTES',
};

/** The V2 datatype of an onnxruntime element type, or null when the protocol cannot carry it (bfloat16, int4, float8...). */
export function datatypeOfOrt(type: string): Datatype | null {
  return V2_OF_ORT[type] ?? null;
}

/** The onnxruntime element type that carries a V2 datatype. */
export function ortTypeOf(datatype: Datatype): OrtTensor.Type {
  return ORT_OF_V2[datatype];
}

/** What a model takes and gives, as the server describes it. */
export interface ModelSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Every input and output has a dynamic first dimension: requests can be stacked along it. */
  batchable: boolean;
}

/** Raised when a model has an input the V2 protocol cannot carry, or no output it can. */
export class UnservableModel extends Error {}

/**
 * The signature from an onnxruntime session's metadata. Symbolic and unnamed dimensions become -1.
 * Outputs that are not tensors (a classifier's ZipMap: a sequence of maps) or whose element type
 * the protocol has no name for are left out: the server neither lists nor fetches them.
 * @throws UnservableModel for an input it cannot feed, or when no output is left.
 */
export function signatureOfSession(session: Pick<InferenceSession, 'inputMetadata' | 'outputMetadata'>): ModelSignature {
  const inputs: TensorSpec[] = [];
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor) throw new UnservableModel(`input ${meta.name} is not a tensor (sequences and maps cannot be sent over the V2 protocol)`);
    const datatype = datatypeOfOrt(meta.type);
    if (!datatype) throw new UnservableModel(`input ${meta.name} has element type ${meta.type}, which the V2 protocol cannot carry`);
    inputs.push({ name: meta.name, datatype, shape: meta.shape.map(dimOf) });
  }
  const outputs: TensorSpec[] = [];
  for (const meta of session.outputMetadata) {
    if (!meta.isTensor) continue;
    const datatype = datatypeOfOrt(meta.type);
    if (datatype) outputs.push({ name: meta.name, datatype, shape: meta.shape.map(dimOf) });
  }
  if (outputs.length === 0) throw new UnservableModel('the model has no tensor output the V2 protocol can carry');
  return { inputs, outputs, batchable: isBatchable(inputs, outputs) };
}

/**
 * The signature from the ONNX graph itself (no session): its inputs less the initializers that old
 * exporters also list as inputs, and its outputs, with the same rules as signatureOfSession. An
 * input or output whose shape the graph leaves out entirely has shape [] here.
 * @throws UnservableModel as signatureOfSession does.
 */
export function signatureOfGraph(bytes: Uint8Array): ModelSignature {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  if (!graph) throw new UnservableModel('the file holds no ONNX graph');
  const initialized = new Set((graph.initializer ?? []).map((tensor) => tensor.name));
  const specOf = (value: onnx.IValueInfoProto): TensorSpec | string => {
    const tensorType = value.type?.tensorType;
    if (!tensorType) return `${value.name} is not a tensor`;
    const datatype = V2_OF_ONNX[tensorType.elemType ?? 0];
    if (!datatype) return `${value.name} has ONNX element type ${tensorType.elemType}, which the V2 protocol cannot carry`;
    const shape = (tensorType.shape?.dim ?? []).map((dim) => {
      const value = dim.dimValue === undefined || dim.dimValue === null ? 0 : Number(dim.dimValue.toString());
      return value > 0 ? value : -1;
    });
    return { name: value.name ?? '', datatype, shape };
  };
  const inputs: TensorSpec[] = [];
  for (const value of graph.input ?? []) {
    if (initialized.has(value.name)) continue;
    const spec = specOf(value);
    if (typeof spec === 'string') throw new UnservableModel(`input ${spec}`);
    inputs.push(spec);
  }
  const outputs = (graph.output ?? []).map(specOf).filter((spec): spec is TensorSpec => typeof spec !== 'string');
  if (outputs.length === 0) throw new UnservableModel('the model has no tensor output the V2 protocol can carry');
  return { inputs, outputs, batchable: isBatchable(inputs, outputs) };
}

/** Requests can be stacked when every input and output has a dynamic first dimension. */
export function isBatchable(inputs: TensorSpec[], outputs: TensorSpec[]): boolean {
  return [...inputs, ...outputs].every((spec) => spec.shape.length > 0 && spec.shape[0] === -1);
}

function dimOf(dim: number | string): number {
  return typeof dim === 'number' && dim >= 0 ? dim : -1;
}
