import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { onnx } from 'onnx-proto';
import { BadInputError } from '../store/errors';

/** A decoded ONNX model, with the bytes it came from. */
export interface OnnxFile {
  model: onnx.ModelProto;
  bytes: Uint8Array;
  sha256: string;
}

/** What an attribute of a node holds, by its name (ints and int64s as numbers). */
export type AttributeValue = number | string | number[] | string[] | onnx.ITensorProto | onnx.ITensorProto[] | undefined;

/**
 * Decodes ONNX bytes. A file that is not a protobuf ModelProto, a truncated one, or one without a
 * graph is bad input (`field`, e.g. 'model'), named by `source` (a path or reference).
 * @throws BadInputError with a message saying what is wrong with the file.
 */
export function decodeOnnx(bytes: Uint8Array, source: string, field = 'model'): onnx.ModelProto {
  const bad = (why: string): BadInputError =>
    new BadInputError(field, source, `${source} is not a readable ONNX model: ${why}`);
  if (bytes.length === 0) throw bad('the file is empty');
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw bad(/index out of range|premature|truncat/i.test(message) ? 'the file is truncated' : message.split('\n')[0]);
  }
  if (!model.graph || (model.graph.node ?? []).length === 0) throw bad('it has no graph (is it an ONNX file?)');
  if (!model.irVersion) throw bad('it has no IR version (is it an ONNX file?)');
  return model;
}

/**
 * Reads and decodes an ONNX file.
 * @throws BadInputError when it cannot be read or is not ONNX.
 */
export async function readOnnxFile(path: string, field = 'model'): Promise<OnnxFile> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BadInputError(field, path, `cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code ?? String(error)}`);
  }
  return { model: decodeOnnx(bytes, path, field), bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** The node's attributes by name, each as its plain value. */
export function attributesOf(node: onnx.INodeProto): Map<string, AttributeValue> {
  const result = new Map<string, AttributeValue>();
  for (const a of node.attribute ?? []) {
    if (!a.name) continue;
    result.set(a.name, attributeValue(a));
  }
  return result;
}

function attributeValue(a: onnx.IAttributeProto): AttributeValue {
  const T = onnx.AttributeProto.AttributeType;
  const num = (v: number | Long | null | undefined): number => longToNumber(v);
  const text = (v: Uint8Array | null | undefined): string => (v ? Buffer.from(v).toString('utf8') : '');
  switch (a.type) {
    case T.FLOAT:
      return a.f ?? 0;
    case T.INT:
      return num(a.i);
    case T.STRING:
      return text(a.s);
    case T.FLOATS:
      return [...(a.floats ?? [])];
    case T.INTS:
      return (a.ints ?? []).map(num);
    case T.STRINGS:
      return (a.strings ?? []).map(text);
    case T.TENSOR:
      return a.t ?? undefined;
    case T.TENSORS:
      return a.tensors ?? [];
    default:
      return undefined;
  }
}

/** The opset version the model imports for `domain` ('' is the default ONNX domain). */
export function opsetOf(model: onnx.IModelProto, domain: string): number | undefined {
  const found = (model.opsetImport ?? []).find((o) => (o.domain ?? '') === domain || (domain === '' && o.domain === 'ai.onnx'));
  return found ? longToNumber(found.version) : undefined;
}

type Long = { toNumber(): number };

/** protobufjs gives int64 fields as long.js objects (or numbers when they fit and long is absent). */
export function longToNumber(v: number | Long | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}
