// A long chain with residual skips, for the graph view's tests and the layout benchmark.
import { DataType, ModelProto, NodeProto } from '../../src/core/onnx/proto';

/**
 * input [1, 4] → `length` nodes: every third an Add of the previous tensor and the one three
 * back (a skip, as in a ResNet), the others Relu.
 */
export function skipChain(length: number): ModelProto {
  const node: NodeProto[] = [];
  const tensor = (i: number) => (i < 0 ? 'input' : i === length - 1 ? 'output' : `t${i}`);
  for (let i = 0; i < length; i++) {
    const skip = i % 3 === 2 && i >= 3;
    node.push({ op_type: skip ? 'Add' : 'Relu', name: `${skip ? 'add' : 'relu'}${i}`, input: skip ? [tensor(i - 1), tensor(i - 3)] : [tensor(i - 1)], output: [tensor(i)] });
  }
  const info = (name: string) => ({ name, type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: [{ dim_value: 1 }, { dim_value: 4 }] } } } });
  return {
    ir_version: 8,
    opset_import: [{ domain: '', version: 13 }],
    producer_name: 'convlens-tests',
    graph: { name: 'skip-chain', node, input: [info('input')], output: [info('output')] },
  };
}
