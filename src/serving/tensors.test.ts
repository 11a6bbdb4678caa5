import fc from 'fast-check';
import { RequestError, checkInputs, checkOutputs, checkShape, encodeData, encodeResponse, fromHalf, parseFast, parseRequest, toHalf, FAST_PATH_MIN_BYTES, type CheckOptions } from './tensors';
import type { Datatype, ServedModel, TensorSpec } from './types';

const model = (inputs: TensorSpec[], outputs: TensorSpec[] = []): ServedModel => ({
  name: 'm', version: '1', model: 'm.onnx', path: '/m.onnx', device: 'cpu', ready: true, error: null, inputs, outputs, batchable: true,
});
const REJECT: CheckOptions = { nonfinite: 'reject', maxElements: 1e9 };
const body = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const decode = (spec: TensorSpec, input: object, options: CheckOptions = REJECT) =>
  checkInputs(model([spec]), parseRequest(body({ inputs: [{ name: spec.name, ...input }] })), options)[0];
const refused = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RequestError);
    expect((error as RequestError).status).toBe(400);
    return (error as Error).message;
  }
  throw new Error('expected a RequestError');
};

/** What JSON.parse gives, with the arrays under "data" that hold only numbers as Float64Arrays. */
function expectedFast(value: unknown, key: string | null = null): unknown {
  if (Array.isArray(value)) {
    if (key === 'data' && value.length > 0 && value.every((v) => typeof v === 'number')) return Float64Array.from(value as number[]);
    return value.map((v) => expectedFast(v));
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expectedFast(v, k)]));
  }
  return value;
}

describe('the fast JSON path', () => {
  test('reads any JSON value as JSON.parse does, or hands it over', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        const fast = parseFast(Buffer.from(text));
        if (fast !== undefined) expect(fast).toEqual(JSON.parse(text));
      }),
      { numRuns: 500 },
    );
  });

  test('reads flat numeric data into Float64Arrays holding exactly the numbers JSON.parse reads', () => {
    // Numbers as clients write them: short decimals, integers, and full-precision doubles.
    const decimal = fc.tuple(fc.integer({ min: -1e9, max: 1e9 }), fc.integer({ min: 0, max: 12 })).map(([m, k]) => (m / 10 ** k).toFixed(k));
    const number = fc.oneof(decimal, fc.integer().map(String), fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)));
    fc.assert(
      fc.property(fc.array(number, { minLength: 1, maxLength: 60 }), fc.boolean(), fc.constantFrom('', ' ', '\n '), (numbers, shapeFirst, space) => {
        const data = `[${space}${numbers.join(`${space},${space}`)}${space}]`;
        const shape = `"shape":[${numbers.length}]`;
        const text = `{"inputs":[{"name":"x",${shapeFirst ? `${shape},"data":${data}` : `"data":${data},${shape}`},"datatype":"FP64"}]}`;
        const fast = parseFast(Buffer.from(text));
        const parsed = JSON.parse(text) as { inputs: { data: number[] }[] };
        if (fast === undefined) return; // handed to JSON.parse (a number it does not convert itself)
        // A Float64Array, or (exponents in an array read before its shape) a plain array: the same numbers.
        const got = Array.from((fast as { inputs: { data: Float64Array | number[] }[] }).inputs[0].data);
        expect(got.map((v, i) => Object.is(v, parsed.inputs[0].data[i]))).toEqual(got.map(() => true));
      }),
      { numRuns: 500 },
    );
  });

  test('takes short decimals and integers itself', () => {
    const value = { inputs: [{ name: 'x', shape: [5], datatype: 'FP32', data: [1.5, -0.25, 3, 0, 123456.789] }] };
    expect(parseFast(body(value))).toEqual(expectedFast(value));
    // Shape first: one pass; data first: a counting pass, then the same numbers.
    const dataFirst = Buffer.from('{"inputs":[{"name":"x","data":[1.5,-0.25],"shape":[2],"datatype":"FP32"}]}');
    expect(parseFast(dataFirst)).toEqual({ inputs: [{ name: 'x', data: Float64Array.from([1.5, -0.25]), shape: [2], datatype: 'FP32' }] });
    // Shapes that are not counts (strings, fractions, negatives) size nothing: the commas are counted.
    for (const shape of ['["2"]', '[0.5, 4]', '[-2]', '[0, 2]']) {
      const text = `{"shape":${shape},"data":[1.5,-0.25]}`;
      expect(parseFast(Buffer.from(text))).toEqual(expectedFast(JSON.parse(text)));
    }
    // A shape that does not match the data: JSON.parse reads it, and the checks word the mismatch.
    expect(parseFast(Buffer.from('{"shape":[3],"data":[1,2]}'))).toBeUndefined();
    expect(Object.is((parseFast(Buffer.from('{"data":[-0]}')) as { data: Float64Array }).data[0], -0)).toBe(true);
  });

  test('never accepts what JSON.parse refuses, and never throws', () => {
    const fragments = ['{', '}', '[', ']', ',', ':', '"data"', '"a"', '1', '-', '.', 'e', '0', '1.5', 'true', 'null', ' ', '\\', '"'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...fragments), { maxLength: 20 }), (parts) => {
        const text = parts.join('');
        let valid = true;
        try {
          JSON.parse(text);
        } catch {
          valid = false;
        }
        const fast = parseFast(Buffer.from(text));
        if (!valid) expect(fast).toBeUndefined();
        else if (fast !== undefined) expect(fast).toEqual(expectedFast(JSON.parse(text)));
      }),
      { numRuns: 2000 },
    );
  });

  test('a large request decodes to the same tensor on either path', () => {
    const rows = 200;
    const data = Array.from({ length: rows * 16 }, (_, i) => Number(((i * 7919) % 2000 / 7 - 100).toFixed(3)));
    const text = body({ id: 'big', inputs: [{ name: 'x', shape: [rows, 16], datatype: 'FP32', data }] });
    expect(text.length).toBeGreaterThan(FAST_PATH_MIN_BYTES);
    const spec: TensorSpec = { name: 'x', datatype: 'FP32', shape: [-1, 16] };
    const fast = checkInputs(model([spec]), parseRequest(text, true), REJECT)[0];
    const slow = checkInputs(model([spec]), parseRequest(text, false), REJECT)[0];
    expect(parseRequest(text, true).inputs[0].data).toBeInstanceOf(Float64Array);
    expect(fast.data).toEqual(slow.data);
    expect(fast.data).toEqual(Float32Array.from(data));
  });
});

describe('parseRequest', () => {
  test('invalid JSON and wrong request shapes are 400s naming the problem', () => {
    expect(refused(() => parseRequest(Buffer.from('{"inputs": [')))).toMatch(/^invalid JSON/);
    expect(refused(() => parseRequest(body([1])))).toMatch(/JSON object/);
    expect(refused(() => parseRequest(body({ inputs: [] })))).toMatch(/non-empty/);
    expect(refused(() => parseRequest(body({ inputs: [{ name: 'x', datatype: 'FP8', shape: [1], data: [1] }] })))).toMatch(/datatype must be one of/);
    expect(refused(() => parseRequest(body({ id: 7, inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }] })))).toMatch(/"id"/);
    expect(refused(() => parseRequest(body({ inputs: [{ name: 'x', datatype: 'FP32', shape: 1, data: [1] }] })))).toMatch(/shape must be an array/);
    expect(refused(() => parseRequest(body({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: 1 }] })))).toMatch(/data must be an array/);
    expect(refused(() => parseRequest(body({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }], outputs: [{}] })))).toMatch(/outputs\[0\]/);
  });

  test('id, parameters and outputs come through', () => {
    const parsed = parseRequest(body({ id: 'r1', parameters: { a: 1, b: 'x' }, inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }], outputs: [{ name: 'y' }] }));
    expect(parsed).toMatchObject({ id: 'r1', parameters: { a: 1, b: 'x' }, outputs: ['y'] });
  });
});

describe('shape checks', () => {
  const spec: TensorSpec = { name: 'x', datatype: 'FP32', shape: [-1, 3] };

  test('negative, huge, non-integer, wrong-rank and wrong fixed dims are refused before allocating', () => {
    expect(refused(() => checkShape('x', [-1, 3], spec, 1e9))).toMatch(/negative/);
    expect(refused(() => checkShape('x', [2 ** 40, 3], spec, 1e9))).toMatch(/larger than 2\^31/);
    expect(refused(() => checkShape('x', [1.5, 3], spec, 1e9))).toMatch(/integer/);
    expect(refused(() => checkShape('x', [3], spec, 1e9))).toMatch(/rank 1/);
    expect(refused(() => checkShape('x', [1, 4], spec, 1e9))).toMatch(/shape\[1\] is 4, the model takes 3/);
    expect(refused(() => checkShape('x', [2 ** 31, 3], spec, 1e9))).toMatch(/more elements than the request body can carry/);
    expect(checkShape('x', [0, 3], spec, 10)).toBe(0);
    expect(checkShape('x', [2, 3], spec, 10)).toBe(6);
  });

  test('any dims: either a RequestError, or a count within what the body can hold', () => {
    const dim = fc.oneof(fc.integer({ min: -5, max: 20 }), fc.constantFrom(2 ** 31, 2 ** 31 + 1, 2 ** 40, 2 ** 53, -(2 ** 31), 0.5));
    fc.assert(
      fc.property(fc.array(dim, { maxLength: 6 }), fc.integer({ min: 1, max: 10_000 }), (dims, maxElements) => {
        const wide: TensorSpec = { name: 'x', datatype: 'FP32', shape: dims.map(() => -1) };
        try {
          const count = checkShape('x', dims, wide, maxElements);
          expect(count).toBe(dims.reduce((a, b) => a * b, 1));
          expect(count).toBeLessThanOrEqual(maxElements);
        } catch (error) {
          expect(error).toBeInstanceOf(RequestError);
        }
      }),
    );
  });

  test('the data length must equal the shape, flat or nested', () => {
    expect(refused(() => decode(spec, { datatype: 'FP32', shape: [2, 3], data: [1, 2, 3, 4, 5] }))).toMatch(/holds 5 values, shape \[2, 3\] needs 6/);
    expect(refused(() => decode(spec, { datatype: 'FP32', shape: [2, 3], data: [[1, 2, 3], [4, 5]] }))).toMatch(/nested data has 2 entries at depth 1/);
    expect(refused(() => decode(spec, { datatype: 'FP32', shape: [1, 3], data: [[[1], [2], [3]]] }))).toMatch(/deeper than shape/);
    const nested = decode(spec, { datatype: 'FP32', shape: [2, 3], data: [[1, 2, 3], [4, 5, 6]] });
    const flat = decode(spec, { datatype: 'FP32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] });
    expect(nested.data).toEqual(flat.data);
    expect(nested.shape).toEqual([2, 3]);
  });

  test('names: unknown, missing, twice; datatype must equal the model\'s', () => {
    const two = model([{ name: 'a', datatype: 'FP32', shape: [-1] }, { name: 'b', datatype: 'INT64', shape: [-1] }]);
    const input = (name: string, datatype = 'FP32') => ({ name, datatype, shape: [1], data: [1] });
    expect(refused(() => checkInputs(two, parseRequest(body({ inputs: [input('a'), input('c')] })), REJECT))).toMatch(/input c is not an input of model m/);
    expect(refused(() => checkInputs(two, parseRequest(body({ inputs: [input('a')] })), REJECT))).toMatch(/needs input b/);
    expect(refused(() => checkInputs(two, parseRequest(body({ inputs: [input('a'), input('a')] })), REJECT))).toMatch(/given twice/);
    expect(refused(() => checkInputs(two, parseRequest(body({ inputs: [input('a'), input('b', 'INT32')] })), REJECT))).toMatch(/datatype INT32, the model takes INT64/);
    const tensors = checkInputs(two, parseRequest(body({ inputs: [input('b', 'INT64'), input('a')] })), REJECT);
    expect(tensors.map((t) => t.name)).toEqual(['a', 'b']);
  });
});

describe('every datatype', () => {
  const one = (datatype: Datatype, data: unknown[], options?: CheckOptions) =>
    decode({ name: 'x', datatype, shape: [-1] }, { datatype, shape: [data.length], data }, options).data;

  test('decodes to the typed array onnxruntime takes', () => {
    expect(one('BOOL', [true, false])).toEqual(Uint8Array.from([1, 0]));
    expect(one('UINT8', [0, 255])).toEqual(Uint8Array.from([0, 255]));
    expect(one('UINT16', [0, 65535])).toEqual(Uint16Array.from([0, 65535]));
    expect(one('UINT32', [0, 4294967295])).toEqual(Uint32Array.from([0, 4294967295]));
    expect(one('UINT64', [0, 2 ** 53 - 1])).toEqual(BigUint64Array.from([0n, 2n ** 53n - 1n]));
    expect(one('INT8', [-128, 127])).toEqual(Int8Array.from([-128, 127]));
    expect(one('INT16', [-32768, 32767])).toEqual(Int16Array.from([-32768, 32767]));
    expect(one('INT32', [-2147483648, 2147483647])).toEqual(Int32Array.from([-2147483648, 2147483647]));
    expect(one('INT64', [-(2 ** 53) + 1, 2 ** 53 - 1])).toEqual(BigInt64Array.from([-(2n ** 53n) + 1n, 2n ** 53n - 1n]));
    expect(one('FP16', [1, -2.5, 65504])).toEqual(Uint16Array.from([0x3c00, 0xc100, 0x7bff]));
    expect(one('FP32', [0.1, -3])).toEqual(Float32Array.from([0.1, -3]));
    expect(one('FP64', [0.1, -3])).toEqual(Float64Array.from([0.1, -3]));
    expect(one('BYTES', ['a', 'é'])).toEqual(['a', 'é']);
  });

  test('refuses values of the wrong kind or out of range, naming input and index', () => {
    expect(refused(() => one('BOOL', [true, 1]))).toBe('input x: data[1] must be true or false (BOOL)');
    expect(refused(() => one('UINT8', [256]))).toMatch(/data\[0\] = 256 is out of range for UINT8/);
    expect(refused(() => one('INT8', [-129]))).toMatch(/out of range for INT8/);
    expect(refused(() => one('UINT16', [-1]))).toMatch(/out of range for UINT16/);
    expect(refused(() => one('INT32', [2 ** 31]))).toMatch(/out of range for INT32/);
    expect(refused(() => one('UINT32', [1.5]))).toMatch(/must be an integer/);
    expect(refused(() => one('INT64', [2 ** 53]))).toMatch(/2\^53 - 1/);
    expect(refused(() => one('UINT64', [-1]))).toMatch(/out of range for UINT64/);
    expect(refused(() => one('INT16', ['1']))).toMatch(/must be an integer/);
    expect(refused(() => one('FP32', ['1']))).toMatch(/must be a number/);
    expect(refused(() => one('FP32', [1e39]))).toMatch(/out of range for FP32/);
    expect(refused(() => one('FP16', [70000]))).toMatch(/out of range for FP16/);
    expect(refused(() => one('BYTES', [1]))).toMatch(/must be a string/);
  });

  test('NaN and infinities: refused by default, passed with nonfinite allow', () => {
    expect(refused(() => one('FP32', [1, 'NaN']))).toBe("input x: data[1] is NaN: non-finite inputs are refused (the server's nonfinite policy is reject)");
    expect(refused(() => one('FP64', ['-Infinity']))).toMatch(/data\[0\] is -Infinity/);
    const allow: CheckOptions = { nonfinite: 'allow', maxElements: 1e9 };
    expect(Array.from(one('FP32', ['NaN', 'Infinity', '-Infinity'], allow) as Float32Array)).toEqual([NaN, Infinity, -Infinity]);
    expect(Array.from(one('FP16', ['NaN', 'Infinity'], allow) as Uint16Array)).toEqual([0x7e00, 0x7c00]);
    expect(refused(() => one('FP32', ['nan'], allow))).toMatch(/must be a number/);
  });
});

describe('half floats', () => {
  test('every half value survives the round trip', () => {
    const wrong: number[] = [];
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = fromHalf(bits);
      if (!Number.isNaN(value) && toHalf(value) !== bits) wrong.push(bits);
    }
    expect(wrong).toEqual([]);
    expect(fromHalf(0x7c01)).toBeNaN();
  });

  test('a number becomes the nearest half (ties to even)', () => {
    fc.assert(
      fc.property(fc.double({ min: -70000, max: 70000, noNaN: true }), (x) => {
        const h = toHalf(x);
        const got = fromHalf(h);
        if (!Number.isFinite(got)) {
          expect(Math.abs(x)).toBeGreaterThanOrEqual(65520);
          return;
        }
        const error = Math.abs(x - got);
        for (const neighbour of [h - 1, h + 1]) {
          const other = fromHalf(neighbour & 0xffff);
          if (Number.isFinite(other) && Math.sign(other) === Math.sign(got)) expect(error).toBeLessThanOrEqual(Math.abs(x - other));
        }
      }),
      { numRuns: 2000 },
    );
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // halfway between 1 and the next half: even wins
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(toHalf(2 ** -25)).toBe(0); // half the smallest subnormal: ties to even (zero)
  });
});

describe('answers', () => {
  const m = model([], [{ name: 'y', datatype: 'FP32', shape: [-1] }, { name: 'z', datatype: 'INT64', shape: [-1] }]);

  test('outputs selection: known names only, once each', () => {
    const parse = (outputs: unknown) => parseRequest(body({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }], outputs }));
    expect(checkOutputs(m, parseRequest(body({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }] })))).toBeUndefined();
    expect(checkOutputs(m, parse([{ name: 'z' }]))).toEqual(['z']);
    expect(refused(() => checkOutputs(m, parse([{ name: 'w' }])))).toMatch(/output w is not an output of model m/);
    expect(refused(() => checkOutputs(m, parse([{ name: 'y' }, { name: 'y' }])))).toMatch(/twice/);
  });

  test('the response echoes id and parameters and writes every datatype as JSON', () => {
    const request = parseRequest(body({ id: 'r', parameters: { p: true }, inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }] }));
    const text = encodeResponse(m, request, [
      { name: 'y', datatype: 'FP32', shape: [3], data: Float32Array.from([0.5, NaN, -Infinity]) },
      { name: 'z', datatype: 'INT64', shape: [1], data: BigInt64Array.from([2n ** 62n]) },
    ]);
    expect(text).toBe('{"model_name":"m","model_version":"1","id":"r","parameters":{"p":true},"outputs":[{"name":"y","datatype":"FP32","shape":[3],"data":[0.5,"NaN","-Infinity"]},{"name":"z","datatype":"INT64","shape":[1],"data":[4611686018427387904]}]}');
    expect(encodeData('BOOL', Uint8Array.from([1, 0]))).toBe('[true,false]');
    expect(encodeData('FP16', Uint16Array.from([0x3c00, 0x7c00]))).toBe('[1,"Infinity"]');
    expect(encodeData('BYTES', ['a"b'])).toBe('["a\\"b"]');
    expect(encodeData('FP32', new Float32Array(0))).toBe('[]');
  });
});
