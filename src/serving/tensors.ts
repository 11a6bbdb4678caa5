/**
 * Request tensors in and response tensors out, for the V2 inference protocol (schema/inference.schema.json).
 *
 * A request body is parsed once (parseRequest), then every input is checked against the model's
 * metadata before anything the size of a tensor is allocated (checkInputs): names, datatypes, ranks,
 * fixed dimensions, dimension sizes, the data length, and each value's range. Responses are written
 * as JSON text directly from the output tensors (encodeResponse).
 */
import type { Datatype, ServedModel, Tensor, TensorData, TensorSpec } from './types';

/** A request the server refuses: answered as {"error": message} with `status`. */
export class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

export const DATATYPES: readonly Datatype[] = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES',
];
const DATATYPE_SET = new Set<string>(DATATYPES);

/** The largest dimension a request may name: past this no real tensor fits in memory anyway. */
export const MAX_DIM = 2 ** 31;

export interface ParsedInput {
  name: string;
  datatype: Datatype;
  shape: number[];
  /** Nested or flat JS arrays, or a Float64Array when the fast path read flat numbers. */
  data: unknown[] | Float64Array;
}

export interface ParsedRequest {
  id: string | null;
  parameters: Record<string, unknown> | null;
  inputs: ParsedInput[];
  /** Output names asked for, in order; null: all of them. */
  outputs: string[] | null;
}

export interface CheckOptions {
  nonfinite: 'reject' | 'allow';
  /**
   * The most elements the request can hold: a shape whose product is larger is refused before
   * anything is allocated for it (each element takes at least one byte of the body plus a comma).
   */
  maxElements: number;
}

/** A client's name as error messages show it: a 10 MB name must not come back as a 10 MB answer. */
export function shown(name: string): string {
  return name.length <= 100 ? name : `${name.slice(0, 100)}… (${name.length} characters)`;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Float64Array);

/**
 * Bodies smaller than this go straight to JSON.parse: reading the request's envelope in JavaScript
 * costs more than the fast path saves on a few numbers (measured: docs/serving.md, "Speed").
 */
export const FAST_PATH_MIN_BYTES = 16 * 1024;

/**
 * Parses and structurally checks a request body. The fast path reads flat numeric `data` arrays
 * straight into Float64Arrays; anything it does not handle goes through JSON.parse.
 * @throws RequestError 400 for invalid JSON or a body that is not an InferenceRequest.
 */
export function parseRequest(body: Buffer, useFastPath = true): ParsedRequest {
  let value: unknown;
  const fast = useFastPath && body.length >= FAST_PATH_MIN_BYTES ? parseFast(body) : undefined;
  if (fast !== undefined) {
    value = fast;
  } else {
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch (error) {
      throw new RequestError(400, `invalid JSON: ${(error as Error).message}`);
    }
  }
  return shapeRequest(value);
}

function shapeRequest(value: unknown): ParsedRequest {
  if (!isObject(value)) throw new RequestError(400, 'the request must be a JSON object with "inputs"');
  const { id, parameters, inputs, outputs } = value;
  if (id !== undefined && typeof id !== 'string') throw new RequestError(400, '"id" must be a string');
  if (parameters !== undefined && !isObject(parameters)) throw new RequestError(400, '"parameters" must be an object');
  if (!Array.isArray(inputs) || inputs.length === 0) throw new RequestError(400, '"inputs" must be a non-empty array');
  const parsed: ParsedInput[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const input: unknown = inputs[i];
    if (!isObject(input)) throw new RequestError(400, `inputs[${i}] must be an object`);
    const { name, datatype, shape, data } = input;
    if (typeof name !== 'string') throw new RequestError(400, `inputs[${i}].name must be a string`);
    if (typeof datatype !== 'string' || !DATATYPE_SET.has(datatype)) {
      throw new RequestError(400, `input ${shown(name)}: datatype must be one of ${DATATYPES.join(', ')}`);
    }
    if (!Array.isArray(shape)) throw new RequestError(400, `input ${shown(name)}: shape must be an array of integers`);
    if (!Array.isArray(data) && !(data instanceof Float64Array)) throw new RequestError(400, `input ${shown(name)}: data must be an array`);
    parsed.push({ name, datatype: datatype as Datatype, shape: shape as number[], data });
  }
  let names: string[] | null = null;
  if (outputs !== undefined) {
    if (!Array.isArray(outputs)) throw new RequestError(400, '"outputs" must be an array');
    names = [];
    for (let i = 0; i < outputs.length; i++) {
      const output: unknown = outputs[i];
      if (!isObject(output) || typeof output.name !== 'string') throw new RequestError(400, `outputs[${i}].name must be a string`);
      names.push(output.name);
    }
  }
  return { id: id ?? null, parameters: (parameters as Record<string, unknown> | undefined) ?? null, inputs: parsed, outputs: names };
}

/**
 * Checks the shape of one input against its spec and returns the number of elements it holds.
 * Runs before any allocation for the tensor: dims must be integers in [0, 2^31], and their product
 * must stay within both Number.MAX_SAFE_INTEGER and what the body can hold.
 */
export function checkShape(name: string, shape: unknown[], spec: TensorSpec, maxElements: number): number {
  let count = 1;
  for (let d = 0; d < shape.length; d++) {
    const dim = shape[d];
    if (typeof dim !== 'number' || !Number.isInteger(dim)) throw new RequestError(400, `input ${shown(name)}: shape[${d}] must be an integer`);
    if (dim < 0) throw new RequestError(400, `input ${shown(name)}: shape[${d}] is negative (${dim})`);
    if (dim > MAX_DIM) throw new RequestError(400, `input ${shown(name)}: shape[${d}] = ${dim} is larger than 2^31`);
  }
  if (shape.length !== spec.shape.length) {
    throw new RequestError(400, `input ${shown(name)}: shape [${shape.join(', ')}] has rank ${shape.length}, the model takes rank ${spec.shape.length} ([${spec.shape.join(', ')}])`);
  }
  for (let d = 0; d < shape.length; d++) {
    const want = spec.shape[d];
    if (want >= 0 && shape[d] !== want) {
      throw new RequestError(400, `input ${shown(name)}: shape[${d}] is ${String(shape[d])}, the model takes ${want} ([${spec.shape.join(', ')}])`);
    }
  }
  for (let d = 0; d < shape.length; d++) {
    count *= shape[d] as number;
    // Each factor is at most 2^31, so a product checked at every step never passes 2^84 before
    // the check catches it: no silent overflow into a plausible number.
    if (count > Number.MAX_SAFE_INTEGER || count > maxElements) {
      throw new RequestError(400, `input ${shown(name)}: shape [${shape.join(', ')}] holds more elements than the request body can carry`);
    }
  }
  return count;
}

type Writer = (value: unknown, index: number) => void;

const INT_RANGES: Partial<Record<Datatype, [number, number]>> = {
  INT8: [-128, 127], UINT8: [0, 255], INT16: [-32768, 32767], UINT16: [0, 65535],
  INT32: [-2147483648, 2147483647], UINT32: [0, 4294967295],
  INT64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER], UINT64: [0, Number.MAX_SAFE_INTEGER],
};

function allocate(datatype: Datatype, count: number): TensorData {
  switch (datatype) {
    case 'BOOL': case 'UINT8': return new Uint8Array(count);
    case 'INT8': return new Int8Array(count);
    case 'INT16': return new Int16Array(count);
    case 'UINT16': case 'FP16': return new Uint16Array(count);
    case 'INT32': return new Int32Array(count);
    case 'UINT32': return new Uint32Array(count);
    case 'INT64': return new BigInt64Array(count);
    case 'UINT64': return new BigUint64Array(count);
    case 'FP32': return new Float32Array(count);
    case 'FP64': return new Float64Array(count);
    case 'BYTES': return new Array<string>(count);
  }
}

const NONFINITE: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

/** A writer that converts and range-checks one JSON value into `out` for the datatype. */
function writer(name: string, datatype: Datatype, out: TensorData, nonfinite: 'reject' | 'allow'): Writer {
  const bad = (index: number, what: string): never => {
    throw new RequestError(400, `input ${shown(name)}: data[${index}] ${what}`);
  };
  if (datatype === 'BYTES') {
    const strings = out as string[];
    return (value, i) => {
      if (typeof value !== 'string') bad(i, 'must be a string (BYTES)');
      strings[i] = value as string;
    };
  }
  if (datatype === 'BOOL') {
    const bytes = out as Uint8Array;
    return (value, i) => {
      if (typeof value !== 'boolean') bad(i, 'must be true or false (BOOL)');
      bytes[i] = value ? 1 : 0;
    };
  }
  if (datatype === 'FP16' || datatype === 'FP32' || datatype === 'FP64') {
    const max = datatype === 'FP16' ? 65504 : datatype === 'FP32' ? 3.4028234663852886e38 : Infinity;
    const store: (v: number, i: number) => void =
      datatype === 'FP16' ? ((v, i) => ((out as Uint16Array)[i] = toHalf(v))) : (v, i) => ((out as Float32Array | Float64Array)[i] = v);
    return (value, i) => {
      let v: number;
      if (typeof value === 'number') {
        v = value;
        // A finite number that rounds past the type's largest is as non-finite as "Infinity".
        if (nonfinite === 'reject' && Math.abs(v) > max && Math.fround(Math.abs(v)) > max) {
          if (datatype === 'FP32' || toHalf(Math.abs(v)) === 0x7c00) bad(i, `= ${v} is out of range for ${datatype}`);
        }
      } else if (typeof value === 'string' && value in NONFINITE) {
        if (nonfinite === 'reject') bad(i, `is ${value}: non-finite inputs are refused (the server's nonfinite policy is reject)`);
        v = NONFINITE[value];
      } else {
        return bad(i, `must be a number (${datatype})`);
      }
      store(v, i);
    };
  }
  const [lo, hi] = INT_RANGES[datatype] as [number, number];
  const check = (value: unknown, i: number): number => {
    if (typeof value !== 'number' || !Number.isInteger(value)) return bad(i, `must be an integer (${datatype})`);
    if (value < lo || value > hi) {
      return bad(i, `= ${value} is out of range for ${datatype}${datatype.endsWith('64') ? ' (JSON numbers carry integers exactly only up to 2^53 - 1)' : ''}`);
    }
    return value;
  };
  if (datatype === 'INT64' || datatype === 'UINT64') {
    const big = out as BigInt64Array | BigUint64Array;
    return (value, i) => {
      big[i] = BigInt(check(value, i));
    };
  }
  const ints = out as Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;
  return (value, i) => {
    ints[i] = check(value, i);
  };
}

/**
 * Fills `out` from nested data, checking that every level has the length of its dimension.
 * @returns the number of elements written.
 */
function fillNested(name: string, data: unknown[], shape: number[], level: number, write: Writer, offset: number): number {
  if (data.length !== shape[level]) {
    throw new RequestError(400, `input ${shown(name)}: nested data has ${data.length} entries at depth ${level}, shape says ${shape[level]}`);
  }
  if (level === shape.length - 1) {
    for (let i = 0; i < data.length; i++) {
      if (Array.isArray(data[i])) throw new RequestError(400, `input ${shown(name)}: data is nested deeper than shape [${shape.join(', ')}]`);
      write(data[i], offset + i);
    }
    return offset + data.length;
  }
  for (let i = 0; i < data.length; i++) {
    const row = data[i];
    if (!Array.isArray(row)) throw new RequestError(400, `input ${shown(name)}: nested data does not follow shape [${shape.join(', ')}]`);
    offset = fillNested(name, row, shape, level + 1, write, offset);
  }
  return offset;
}

/** Converts one parsed input to a tensor of the model's spec (the shape was checked already). */
export function decodeInput(input: ParsedInput, spec: TensorSpec, count: number, options: CheckOptions): Tensor {
  const { name, datatype, shape, data } = input;
  if (data instanceof Float64Array) return { name, datatype, shape, data: fromNumbers(name, datatype, data, count, options) };
  const nested = data.length > 0 && Array.isArray(data[0]);
  if (!nested && data.length !== count) {
    throw new RequestError(400, `input ${shown(name)}: data holds ${data.length} values, shape [${shape.join(', ')}] needs ${count}`);
  }
  if (nested && shape.length === 0) throw new RequestError(400, `input ${shown(name)}: a scalar cannot hold nested data`);
  const out = allocate(spec.datatype, count);
  const write = writer(name, datatype, out, options.nonfinite);
  if (nested) {
    fillNested(name, data, shape, 0, write, 0);
  } else {
    for (let i = 0; i < count; i++) write(data[i], i);
  }
  return { name, datatype, shape, data: out };
}

/** Flat numbers the fast path read: a bulk copy for FP32/FP64, the checked writer otherwise. */
function fromNumbers(name: string, datatype: Datatype, data: Float64Array, count: number, options: CheckOptions): TensorData {
  if (data.length !== count) throw new RequestError(400, `input ${shown(name)}: data holds ${data.length} values, input shape needs ${count}`);
  if (datatype === 'FP64') return data;
  if (datatype === 'FP32') {
    const out = new Float32Array(data);
    if (options.nonfinite === 'reject') {
      for (let i = 0; i < count; i++) {
        if (!Number.isFinite(out[i])) throw new RequestError(400, `input ${shown(name)}: data[${i}] = ${data[i]} is out of range for FP32`);
      }
    }
    return out;
  }
  const out = allocate(datatype, count);
  const write = writer(name, datatype, out, options.nonfinite);
  for (let i = 0; i < count; i++) write(data[i], i);
  return out;
}

/**
 * Checks a parsed request against the model's inputs and decodes every input, in the model's order.
 * @throws RequestError 400 naming the input and what is wrong.
 */
export function checkInputs(model: ServedModel, request: ParsedRequest, options: CheckOptions): Tensor[] {
  const specs = model.inputs;
  const given = new Array<ParsedInput | undefined>(specs.length);
  for (const input of request.inputs) {
    const at = specs.findIndex((spec) => spec.name === input.name);
    if (at < 0) throw new RequestError(400, `input ${shown(input.name)} is not an input of model ${model.name} (it takes ${specs.map((s) => s.name).join(', ')})`);
    if (given[at]) throw new RequestError(400, `input ${shown(input.name)} is given twice`);
    given[at] = input;
  }
  const missing = specs.filter((_, i) => !given[i]).map((spec) => spec.name);
  if (missing.length > 0) throw new RequestError(400, `model ${model.name} needs input${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  const counts = new Array<number>(specs.length);
  // Every shape is checked before any tensor is allocated, so one huge input cannot cost memory
  // when another input is wrong.
  for (let i = 0; i < specs.length; i++) {
    const input = given[i] as ParsedInput;
    if (input.datatype !== specs[i].datatype) {
      throw new RequestError(400, `input ${shown(input.name)}: datatype ${input.datatype}, the model takes ${specs[i].datatype}`);
    }
    counts[i] = checkShape(input.name, input.shape, specs[i], options.maxElements);
  }
  return specs.map((spec, i) => decodeInput(given[i] as ParsedInput, spec, counts[i], options));
}

/**
 * The outputs asked for, checked against the model's.
 * @returns undefined for all of them.
 */
export function checkOutputs(model: ServedModel, request: ParsedRequest): string[] | undefined {
  if (request.outputs === null) return undefined;
  const seen = new Set<string>();
  for (const name of request.outputs) {
    if (!model.outputs.some((spec) => spec.name === name)) {
      throw new RequestError(400, `output ${shown(name)} is not an output of model ${model.name} (it gives ${model.outputs.map((s) => s.name).join(', ')})`);
    }
    if (seen.has(name)) throw new RequestError(400, `output ${shown(name)} is asked for twice`);
    seen.add(name);
  }
  return request.outputs;
}

/** Writes one number as JSON: non-finite values as the strings of the NaN policy. */
function numberText(v: number): string {
  if (Number.isFinite(v)) return String(v);
  return Number.isNaN(v) ? '"NaN"' : v > 0 ? '"Infinity"' : '"-Infinity"';
}

/** The JSON text of a tensor's data, flat and row-major. */
export function encodeData(datatype: Datatype, data: TensorData): string {
  const n = data.length;
  if (n === 0) return '[]';
  const parts = new Array<string>(n);
  if (datatype === 'BYTES') {
    for (let i = 0; i < n; i++) parts[i] = JSON.stringify(String((data as string[])[i]));
  } else if (datatype === 'BOOL') {
    for (let i = 0; i < n; i++) parts[i] = (data as Uint8Array)[i] ? 'true' : 'false';
  } else if (datatype === 'FP16') {
    for (let i = 0; i < n; i++) parts[i] = numberText(fromHalf((data as Uint16Array)[i]));
  } else if (datatype !== 'FP32' && datatype !== 'FP64') {
    // Integers: BigInt text (64-bit) is exact, so clients that read 64-bit integers get them whole.
    const ints = data as ArrayLike<number | bigint>;
    for (let i = 0; i < n; i++) parts[i] = String(ints[i]);
  } else {
    const numbers = data as Float32Array;
    for (let i = 0; i < n; i++) parts[i] = numberText(numbers[i]);
  }
  return `[${parts.join(',')}]`;
}

/** The InferenceResponse text: model, version, echoed id and parameters, and the outputs asked for. */
export function encodeResponse(model: ServedModel, request: ParsedRequest, outputs: Tensor[]): string {
  let text = `{"model_name":${JSON.stringify(model.name)},"model_version":${JSON.stringify(model.version)}`;
  if (request.id !== null) text += `,"id":${JSON.stringify(request.id)}`;
  if (request.parameters !== null) text += `,"parameters":${JSON.stringify(request.parameters)}`;
  text += ',"outputs":[';
  for (let i = 0; i < outputs.length; i++) {
    const { name, datatype, shape, data } = outputs[i];
    if (i > 0) text += ',';
    text += `{"name":${JSON.stringify(name)},"datatype":"${datatype}","shape":[${shape.join(',')}],"data":${encodeData(datatype, data)}}`;
  }
  return `${text}]}`;
}

const roundHalfEven = (x: number): number => {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
};

/** IEEE 754 half-precision bits of a number, rounded to nearest even directly from the double. */
export function toHalf(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(value);
  // 65520 is halfway between the largest half (65504) and the next step: it rounds to infinity.
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | roundHalfEven(a / 2 ** -24); // subnormal (1024 becomes the smallest normal)
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1;
  else if (2 ** (e + 1) <= a) e += 1;
  // A mantissa that rounds up to 1024 carries into the exponent, which is the right encoding.
  return sign | (((e + 15) << 10) + roundHalfEven((a / 2 ** e) * 1024 - 1024));
}

/** The number IEEE 754 half-precision bits stand for. */
export function fromHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const f = bits & 0x3ff;
  if (e === 0) return sign * f * 2 ** -24;
  if (e === 31) return f ? NaN : sign * Infinity;
  return sign * (1 + f / 1024) * 2 ** (e - 15);
}

// ---------------------------------------------------------------------------------------------
// The fast path: a JSON reader over the body's bytes that reads a flat numeric "data" array
// straight into a Float64Array (one pass to count, one to read), instead of JSON.parse building
// an array of numbers that is then copied into a typed array. It answers undefined for anything
// it does not handle exactly as JSON.parse would (escapes in strings, "__proto__" keys, numbers
// it cannot convert exactly, invalid JSON), and the caller then uses JSON.parse.

/** Powers of ten that doubles hold exactly: one multiplication or division by them rounds correctly. */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);
const TWO_53 = 2 ** 53;

let buf: Buffer = Buffer.alloc(0);
let pos = 0;
let end = 0;

class Bail extends Error {}
const BAIL = new Bail();

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function skipSpace(): void {
  while (pos < end && isSpace(buf[pos])) pos++;
}

/** Reads one number at pos (the JSON grammar exactly), converting exactly like JSON.parse. */
function readNumber(): number {
  const start = pos;
  let neg = false;
  if (buf[pos] === 0x2d) {
    neg = true;
    pos++;
  }
  let c = buf[pos];
  let mantissa = 0;
  let exact = true;
  if (c === 0x30) {
    pos++;
  } else if (c >= 0x31 && c <= 0x39) {
    while (pos < end && (c = buf[pos]) >= 0x30 && c <= 0x39) {
      mantissa = mantissa * 10 + (c - 0x30);
      pos++;
    }
    if (mantissa >= TWO_53) exact = false;
  } else {
    throw BAIL;
  }
  let exponent = 0;
  if (buf[pos] === 0x2e) {
    pos++;
    const fracStart = pos;
    while (pos < end && (c = buf[pos]) >= 0x30 && c <= 0x39) {
      mantissa = mantissa * 10 + (c - 0x30);
      pos++;
    }
    if (pos === fracStart) throw BAIL;
    exponent = fracStart - pos;
    if (mantissa >= TWO_53) exact = false;
  }
  c = buf[pos];
  if (c === 0x65 || c === 0x45) {
    pos++;
    let expNeg = false;
    if (buf[pos] === 0x2b || buf[pos] === 0x2d) {
      expNeg = buf[pos] === 0x2d;
      pos++;
    }
    const expStart = pos;
    let e = 0;
    while (pos < end && (c = buf[pos]) >= 0x30 && c <= 0x39) {
      if (e < 1e6) e = e * 10 + (c - 0x30);
      pos++;
    }
    if (pos === expStart) throw BAIL;
    exponent += expNeg ? -e : e;
  }
  let value: number;
  if (exact && exponent >= -22 && exponent <= 22) {
    // Both operands are exact doubles, so the one rounding of * or / is the correctly rounded result.
    value = exponent >= 0 ? mantissa * POW10[exponent] : mantissa / POW10[-exponent];
    if (neg) value = -value;
  } else {
    value = Number(buf.toString('latin1', start, pos));
  }
  return value;
}

function readString(): string {
  const start = ++pos;
  let c: number;
  while (pos < end && (c = buf[pos]) !== 0x22) {
    if (c === 0x5c || c < 0x20) throw BAIL;
    pos++;
  }
  if (pos >= end) throw BAIL;
  return buf.toString('utf8', start, pos++);
}

function readLiteral(text: string, value: unknown): unknown {
  for (let i = 0; i < text.length; i++) if (buf[pos + i] !== text.charCodeAt(i)) throw BAIL;
  pos += text.length;
  return value;
}

/**
 * A flat array of numbers as a Float64Array, or undefined (pos unchanged) when it is anything else.
 * `expected` is the element count the input's shape gave, when the shape came first: the array is
 * then read in one pass, else a first pass counts the commas.
 */
function readNumberArray(expected: number): Float64Array | undefined {
  // A plain Uint8Array view: element reads on it stay monomorphic, where a Buffer's are measurably slower.
  const b = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  const n = end;
  let count = expected - 1;
  let p = pos + 1;
  // Each number takes at least two bytes with its separator: a larger count is a wrong shape, which
  // the checks answer after JSON.parse.
  if (!(Number.isInteger(expected) && expected >= 1 && expected <= (n - pos) / 2 + 1)) {
    count = 0;
    let sawValue = false;
    for (; p < n; p++) {
      const c = b[p];
      if (c === 0x5d) break;
      if (c === 0x2c) count++;
      else if ((c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e) sawValue = true;
      else if (!isSpace(c)) return undefined;
    }
    if (p >= n || !sawValue) return undefined;
    p = pos + 1;
  }
  const out = new Float64Array(count + 1);
  for (let i = 0; i <= count; i++) {
    let c = b[p];
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++p];
    let neg = false;
    if (c === 0x2d) {
      neg = true;
      c = b[++p];
    }
    let mantissa = 0;
    let digits = 0;
    if (c === 0x30) {
      c = b[++p];
    } else {
      while (c >= 0x30 && c <= 0x39) {
        mantissa = mantissa * 10 + (c - 0x30);
        digits++;
        c = b[++p];
      }
      if (digits === 0) throw BAIL;
    }
    let exponent = 0;
    if (c === 0x2e) {
      c = b[++p];
      const fracStart = p;
      while (c >= 0x30 && c <= 0x39) {
        mantissa = mantissa * 10 + (c - 0x30);
        c = b[++p];
      }
      if (p === fracStart) throw BAIL;
      exponent = fracStart - p;
    }
    if (c === 0x65 || c === 0x45 || mantissa >= TWO_53 || exponent < -22) {
      // Exponents and mantissas past 2^53 (the 17-digit text of most binary floats) need a correctly
      // rounded conversion that is slower here than in JSON.parse: the whole body goes there.
      throw BAIL;
    }
    // Both operands are exact doubles, so the one rounding of / is the correctly rounded result.
    let value = exponent === 0 ? mantissa : mantissa / POW10[-exponent];
    if (neg) value = -value;
    out[i] = value;
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++p];
    // A length other than the shape's: JSON.parse reads it and the checks word the mismatch.
    if (c !== (i === count ? 0x5d : 0x2c)) throw BAIL;
    p++;
  }
  pos = p;
  return out;
}

function readValue(key: string | null, elements = 0): unknown {
  skipSpace();
  const c = buf[pos];
  if (c === 0x7b) {
    pos++;
    const object: Record<string, unknown> = {};
    skipSpace();
    if (buf[pos] === 0x7d) {
      pos++;
      return object;
    }
    let elements = 0;
    for (;;) {
      skipSpace();
      if (buf[pos] !== 0x22) throw BAIL;
      const name = readString();
      if (name === '__proto__') throw BAIL;
      skipSpace();
      if (buf[pos++] !== 0x3a) throw BAIL;
      const value = readValue(name, elements);
      object[name] = value;
      if (name === 'shape' && Array.isArray(value)) elements = value.reduce((a: number, d) => (typeof d === 'number' ? a * d : NaN), 1) as number;
      skipSpace();
      const next = buf[pos++];
      if (next === 0x7d) return object;
      if (next !== 0x2c) throw BAIL;
    }
  }
  if (c === 0x5b) {
    if (key === 'data') {
      const numbers = readNumberArray(elements);
      if (numbers) return numbers;
    }
    pos++;
    const array: unknown[] = [];
    skipSpace();
    if (buf[pos] === 0x5d) {
      pos++;
      return array;
    }
    for (;;) {
      array.push(readValue(null));
      skipSpace();
      const next = buf[pos++];
      if (next === 0x5d) return array;
      if (next !== 0x2c) throw BAIL;
    }
  }
  if (c === 0x22) return readString();
  if (c === 0x74) return readLiteral('true', true);
  if (c === 0x66) return readLiteral('false', false);
  if (c === 0x6e) return readLiteral('null', null);
  return readNumber();
}

/**
 * Parses a request body as JSON.parse would, except that flat numeric "data" arrays come back as
 * Float64Arrays. Returns undefined when the body needs JSON.parse (which also words the error).
 */
export function parseFast(body: Buffer): unknown {
  buf = body;
  pos = 0;
  end = body.length;
  try {
    const value = readValue(null);
    skipSpace();
    return pos === end ? value : undefined;
  } catch {
    // BAIL, or a stack overflow on deeply nested arrays: JSON.parse takes over (and words the error).
    return undefined;
  } finally {
    // Drop the reference so the body can be collected.
    buf = EMPTY;
  }
}
const EMPTY = Buffer.alloc(0);
