// A long chain of Relu nodes, for the scale tests and the benchmark.
import { DataType, ModelProto, NodeProto } from '../../src/core/onnx/proto';

/** input [1, 4] → Relu → Relu → … → output, `length` nodes. */
export function reluChain(length: number): ModelProto {
  const node: NodeProto[] = [];
  for (let i = 0; i < length; i++) {
    node.push({ op_type: 'Relu', name: `relu${i}`, input: [i === 0 ? 'input' : `t${i - 1}`], output: [i === length - 1 ? 'output' : `t${i}`] });
  }
  const info = (name: string) => ({ name, type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: [{ dim_value: 1 }, { dim_value: 4 }] } } } });
  return {
    ir_version: 8,
    opset_import: [{ domain: '', version: 13 }],
    producer_name: 'convlens-tests',
    graph: { name: 'chain', node, input: [info('input')], output: [info('output')] },
  };
}
