// indexGraph (src/core/onnx/graph.ts): a tensor's consumers are every node that reads it, the
// nodes that read it only inside a subgraph (an If's branch) among them, since what depends on
// "the only readers of a tensor" (occlusion's cuts, Ablation-CAM's shortcuts, a CAM's head) must
// see those reads too.
import * as assert from 'assert';
import { indexGraph } from '../../src/core/onnx/graph';
import { AttributeType, GraphProto } from '../../src/core/onnx/proto';
import { node, valueInfo } from './autodiff/harness';

describe('indexGraph', () => {
  it("counts a node that reads a tensor inside its subgraph among the tensor's consumers, once per listed read", () => {
    // The then-branch reads the outer 'r' (an implicit input of the If); the else-branch only its own.
    const branch = (name: string, inputs: string[]): GraphProto => ({ name, node: [node('Relu', inputs, [`${name}_out`])], output: [valueInfo(`${name}_out`, 'float32')] });
    const graph: GraphProto = {
      name: 'g',
      node: [
        node('Relu', ['x'], ['r']),
        node('Mul', ['r', 'r'], ['square']),
        node('Greater', ['square', 'x'], ['cond']),
        node(
          'If',
          ['cond'],
          ['y'],
          [
            { name: 'then_branch', type: AttributeType.GRAPH, g: branch('then', ['r']) },
            { name: 'else_branch', type: AttributeType.GRAPH, g: branch('else', ['x']) },
          ],
        ),
      ],
      input: [valueInfo('x', 'float32')],
      output: [valueInfo('y', 'float32')],
    };
    const { consumers, producer, graphInputs } = indexGraph(graph);
    assert.deepStrictEqual(
      (consumers.get('r') ?? []).map((n) => n.op_type),
      ['Mul', 'Mul', 'If'],
    );
    assert.deepStrictEqual(
      (consumers.get('x') ?? []).map((n) => n.op_type),
      ['Relu', 'Greater', 'If'],
    );
    assert.deepStrictEqual(
      (consumers.get('cond') ?? []).map((n) => n.op_type),
      ['If'],
    );
    assert.strictEqual(producer.get('y')?.op_type, 'If');
    assert.deepStrictEqual(graphInputs, ['x']);
  });
});
