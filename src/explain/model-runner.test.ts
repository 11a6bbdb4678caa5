import { BadInputError } from '../store/errors';
import { loadRunner, maxDiff, useFixtures } from './fixtures/kernel.test.util';
import type { ModelRunner } from './model-runner';

interface RunnerJson {
  X: number[][];
  classes: number[];
  labels: number[];
  probabilities: number[][];
  per_column_y: number[];
}

const set = useFixtures<RunnerJson>('runner');
const open = (name: string): Promise<ModelRunner> => set.open(name);

describe('openModel', () => {
  it('runs a ZipMap classifier: the probabilities are a tensor output with the class labels', async () => {
    const runner = await open('zipmap.onnx');
    expect(runner.featureCount).toBe(4);
    expect(runner.inputNames).toEqual(['X']);
    const proba = runner.outputs.find((o) => o.name === 'output_probability');
    expect(proba).toMatchObject({ type: 'float32', probabilities: true, labels: set.json.classes, shape: ['N', set.json.classes.length] });
    const X = Float64Array.from(set.json.X.flat());
    for (let c = 0; c < set.json.classes.length; c++) {
      const p = await runner.predict(X, set.json.X.length, { name: 'output_probability', index: c });
      p.forEach((v, r) => expect(Math.abs(v - set.json.probabilities[r][c])).toBeLessThan(1e-6));
    }
    const labels = await runner.predict(X, set.json.X.length, { name: 'output_label', index: 0 });
    expect(Array.from(labels)).toEqual(set.json.labels);
    await runner.release();
  });

  it('splits big batches into chunks and gives the same answer', async () => {
    const runner = await open('zipmap.onnx');
    const X = Float64Array.from(set.json.X.flat());
    const whole = await runner.predict(X, set.json.X.length, { name: 'output_probability', index: 1 });
    runner.maxBatchRows = 2;
    const chunked = await runner.predict(X, set.json.X.length, { name: 'output_probability', index: 1 });
    // onnxruntime's vectorized kernels may differ in the last float32 bit with the batch size.
    expect(maxDiff(chunked, whole)).toBeLessThan(1e-6);
  });

  it('feeds one input per column by name', async () => {
    const runner = await open('per_column.onnx');
    expect(runner.perColumn).toBe(true);
    expect(runner.inputNames).toEqual(['a', 'b', 'c']);
    expect(runner.featureCount).toBe(3);
    const X = Float64Array.from(set.json.X.flatMap((row) => row.slice(0, 3)));
    const y = await runner.predict(X, set.json.X.length, { name: 'y', index: 0 });
    y.forEach((v, r) => expect(Math.abs(v - set.json.per_column_y[r])).toBeLessThan(1e-5));
  });

  it('takes the width from the data when the input is dynamic', async () => {
    const runner = await open('dynamic.onnx');
    expect(runner.featureCount).toBeNull();
    const X = Float64Array.from(set.json.X.flatMap((row) => row.slice(0, 3)));
    const y = await runner.predict(X, set.json.X.length, { name: 'y', index: 0 });
    y.forEach((v, r) => expect(Math.abs(v - set.json.per_column_y[r])).toBeLessThan(1e-5));
  });

  it('says clearly what is wrong', async () => {
    await expect(open('strings.onnx')).rejects.toThrow(/no usable input: 's' is string/);
    await expect(loadRunner().openModel(new Uint8Array([1, 2, 3]), 'junk.onnx')).rejects.toBeInstanceOf(BadInputError);
    const runner = await open('zipmap.onnx');
    const wrong = runner.predict(new Float64Array(6), 2, { name: 'output_probability', index: 0 });
    await expect(wrong).rejects.toThrow('expects 4 features per row, the data has 3');
    await expect(runner.predict(new Float64Array(4), 1, { name: 'nope', index: 0 })).rejects.toThrow(
      "has no output 'nope'; available: 'output_label', 'output_probability'",
    );
    await expect(runner.predict(new Float64Array(4), 1, { name: 'output_probability', index: 9 })).rejects.toThrow(/column 9 does not exist/);
  });
});
