import { onnx } from 'onnx-proto';

/**
 * A linear model as ONNX, for tests that need a real model without Python: Y = X·W + b, one float
 * input `X` of [N, weights.length] (named inputs: one [N, 1] input per name, concatenated first),
 * one output `Y` of [N, 1]. onnxruntime runs it like any exported model.
 */
export function linearModelBytes(weights: number[], bias: number, inputNames?: string[]): Uint8Array {
  const M = weights.length;
  const floatInput = (name: string, width: number | string): onnx.IValueInfoProto => ({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: 'N' }, typeof width === 'number' ? { dimValue: width } : { dimParam: width }] },
      },
    },
  });
  const nodes: onnx.INodeProto[] = [];
  const inputs: onnx.IValueInfoProto[] = [];
  if (inputNames) {
    if (inputNames.length !== M) throw new Error('one input name per weight');
    inputs.push(...inputNames.map((name) => floatInput(name, 1)));
    nodes.push({ opType: 'Concat', input: inputNames, output: ['X'], attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] });
  } else {
    inputs.push(floatInput('X', M));
  }
  nodes.push({ opType: 'MatMul', input: ['X', 'W'], output: ['XW'] }, { opType: 'Add', input: ['XW', 'B'], output: ['Y'] });
  const model: onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'opsbook-tests',
    graph: {
      name: 'linear',
      node: nodes,
      initializer: [
        { name: 'W', dataType: onnx.TensorProto.DataType.FLOAT, dims: [M, 1], floatData: weights },
        { name: 'B', dataType: onnx.TensorProto.DataType.FLOAT, dims: [1], floatData: [bias] },
      ],
      input: inputs,
      output: [floatInput('Y', 1)],
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}
