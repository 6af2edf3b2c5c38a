// The shape probe (src/core/autodiff/shapes.ts) takes the dims of the ops' shape rules where they
// cover the graph (tested on their own in shape-inference.test.ts); else the dims onnxruntime infers
// as it makes the probe's session wherever they name every tensor, and runs the model only for the
// rest. Both paths are held to these cases: its dims
// must be what a run of the model with every tensor exposed gives, for graphs whose dims inference
// knows (a CNN, a shape computation of scalars), leaves unknown (NonZero) or gives without a rank
// (an If whose branches differ in rank, which onnxruntime reports like a scalar), at each batch.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { probeShapeSets, probeShapeSetsWithOnnxRuntime } from '../../src/core/autodiff/shapes';
import { ConvModel } from '../../src/core/model';
import { GraphProto, ModelProto } from '../../src/core/onnx/proto';
import { withDynamicBatch } from '../../src/core/onnx/surgery';
import { Tensor } from '../../src/core/tensor';
import { ranDims, sortedDims } from '../support/ran-dims';
import { REFERENCE_DIR, referenceAvailable } from '../support/reference';
import { makeModel, node, tensor, uniform, valueInfo } from './autodiff/harness';
import { AttributeType } from '../../src/core/onnx/proto';

const ROOT = path.resolve(__dirname, '../../..');
const SAMPLE = path.join(ROOT, 'sample/shapes.onnx');

/** The probe, and its onnxruntime path alone (where the shape rules cover a graph the probe does not reach it), give a run's dims. */
async function assertProbedAsRun(model: ModelProto, feedSets: Record<string, Tensor>[], limitBytes = Infinity): Promise<Map<string, number[]>[]> {
  const probed = await probeShapeSets(model, feedSets, limitBytes);
  const byOnnxRuntime = await probeShapeSetsWithOnnxRuntime(model, feedSets, limitBytes);
  for (const [i, feeds] of feedSets.entries()) {
    const ran = sortedDims(await ranDims(model, feeds));
    assert.deepStrictEqual(sortedDims(probed[i]), ran, `feed set ${i}`);
    assert.deepStrictEqual(sortedDims(byOnnxRuntime[i]), ran, `feed set ${i}, onnxruntime's path`);
  }
  return probed;
}

const int64 = (dims: number[], values: number[]): Tensor => ({ dtype: 'int64', dims, data: BigInt64Array.from(values.map(BigInt)) });
const atBatch = (batch: number, chw: number[]): Record<string, Tensor> => ({ x: uniform([batch, ...chw], batch) });

/**
 * x [N, 2, 4, 4] → Relu, scaled by a scalar computed from the batch size (Shape → Gather of the
 * scalar index 0 → Cast → Mul), as exports of code that reads x.size(0) write it; and a Reshape to
 * [x.size(0), -1] (→ Unsqueeze → Concat), whose dims inference does not know.
 */
function scaledBySize(withReshape: boolean): ModelProto {
  const flatten = [
    node('Unsqueeze', ['n', 'axes'], ['n1']),
    node('Concat', ['n1', 'minus_one'], ['target'], [{ name: 'axis', type: AttributeType.INT, i: 0 }]),
    node('Reshape', ['scaled', 'target'], ['y']),
  ];
  const model = makeModel({
    opset: 13,
    nodes: [
      node('Relu', ['x'], ['r']),
      node('Shape', ['r'], ['shape']),
      node('Gather', ['shape', 'zero'], ['n'], [{ name: 'axis', type: AttributeType.INT, i: 0 }]),
      node('Cast', ['n'], ['n_float'], [{ name: 'to', type: AttributeType.INT, i: 1 }]),
      node('Mul', ['n_float', 'half'], ['scale']),
      node('Mul', ['r', 'scale'], withReshape ? ['scaled'] : ['y']),
      ...(withReshape ? flatten : []),
    ],
    inputs: { x: uniform([1, 2, 4, 4], 1) },
    initializers: { zero: int64([], [0]), axes: int64([1], [0]), minus_one: int64([1], [-1]), half: tensor('float32', [], [0.5]) },
    output: 'y',
  });
  return withDynamicBatch(model);
}

describe('shape probe', function () {
  it('gives the dims a run gives for the sample CNN, at batch 1 and at batch 2 of its dynamic-batch form', async () => {
    const model = ConvModel.load(SAMPLE, { provider: 'cpu' });
    try {
      const probed = await assertProbedAsRun(
        withDynamicBatch(model.proto),
        [atBatch(1, [3, 64, 64]), atBatch(2, [3, 64, 64])].map(({ x }) => ({ input: x })),
      );
      assert.deepStrictEqual(probed[1].get('/block4/relu/Relu_output_0'), [2, 64, 8, 8]);
    } finally {
      await model.dispose();
    }
  });

  it('takes the scalars of a shape computation as scalars, and runs the model where a Reshape to a computed shape follows', async () => {
    for (const withReshape of [false, true]) {
      const probed = await assertProbedAsRun(scaledBySize(withReshape), [atBatch(1, [2, 4, 4]), atBatch(3, [2, 4, 4])]);
      assert.deepStrictEqual([probed[0].get('n'), probed[0].get('scale')], [[], []]);
      assert.deepStrictEqual(probed[1].get('y'), withReshape ? [3, 32] : [3, 2, 4, 4]);
    }
  });

  it('does not run a feed set whose dims inference gives, only the last one', async () => {
    // Row 1 of x exists only from batch 2 on: a run at batch 1 fails, and onnxruntime's inference
    // cannot tell (the shape rules give up on the index, which is out of range at batch 1).
    const model = withDynamicBatch(
      makeModel({
        opset: 13,
        nodes: [node('Gather', ['x', 'one'], ['row'], [{ name: 'axis', type: AttributeType.INT, i: 0 }]), node('Relu', ['row'], ['y'])],
        inputs: { x: uniform([1, 3], 2) },
        initializers: { one: int64([1], [1]) },
        output: 'y',
      }),
    );
    await assert.rejects(ranDims(model, atBatch(1, [3])));
    const [one, two] = await probeShapeSetsWithOnnxRuntime(model, [atBatch(1, [3]), atBatch(2, [3])]);
    assert.deepStrictEqual(
      [one.get('row'), two.get('row')],
      [
        [1, 3],
        [1, 3],
      ],
    );
    await assert.rejects(probeShapeSetsWithOnnxRuntime(model, [atBatch(2, [3]), atBatch(1, [3])]), 'the last feed set runs');
  });

  it('runs the model for dims inference leaves unknown: the count of NonZero', async () => {
    const model = makeModel({
      opset: 13,
      nodes: [node('Relu', ['x'], ['r']), node('NonZero', ['r'], ['where']), node('Cast', ['where'], ['y'], [{ name: 'to', type: AttributeType.INT, i: 1 }])],
      inputs: { x: tensor('float32', [2, 3], [1, -1, 2, 0, 3, -4]) },
      output: 'y',
    });
    const [dims] = await assertProbedAsRun(model, [{ x: tensor('float32', [2, 3], [1, -1, 2, 0, 3, -4]) }]);
    assert.deepStrictEqual(dims.get('where'), [2, 3]);
  });

  it('takes every dim from runs when a run contradicts the inferred dims (an output the file declares wrongly)', async () => {
    const model = makeModel({
      opset: 13,
      nodes: [node('Relu', ['x'], ['r']), node('NonZero', ['r'], ['y'])],
      inputs: { x: tensor('float32', [2, 3], [1, -1, 2, 0, 3, -4]) },
      output: 'y',
      outputType: 'int64',
    });
    // Declared [2, 4]: three values of x are positive, so NonZero gives [2, 3].
    (model.graph as GraphProto).output = [valueInfo('y', 'int64', [2, 4])];
    const [dims] = await assertProbedAsRun(model, [{ x: tensor('float32', [2, 3], [1, -1, 2, 0, 3, -4]) }]);
    assert.deepStrictEqual(dims.get('y'), [2, 3]);
  });

  it('runs the model for an If whose branches differ in rank, which onnxruntime reports as if it were a scalar', async () => {
    const flat: GraphProto = { name: 'then', node: [node('Reshape', ['x', 'minus_one'], ['t'])], output: [valueInfo('t', 'float32')] };
    const same: GraphProto = { name: 'else', node: [node('Identity', ['x'], ['e'])], output: [valueInfo('e', 'float32')] };
    const model = makeModel({
      opset: 13,
      nodes: [
        node('ReduceSum', ['x'], ['total'], [{ name: 'keepdims', type: AttributeType.INT, i: 0 }]),
        node('Greater', ['total', 'zero'], ['positive']),
        node(
          'If',
          ['positive'],
          ['chosen'],
          [
            { name: 'then_branch', type: AttributeType.GRAPH, g: flat },
            { name: 'else_branch', type: AttributeType.GRAPH, g: same },
          ],
        ),
        node('Relu', ['chosen'], ['y']),
      ],
      inputs: { x: uniform([2, 3], 5) },
      initializers: { minus_one: int64([1], [-1]), zero: tensor('float32', [], [-1e9]) },
      output: 'y',
    });
    const [dims] = await probeShapeSets(model, [{ x: uniform([2, 3], 5) }]);
    assert.deepStrictEqual(dims.get('chosen'), [6], 'the then branch ran: a vector, not a scalar');
    assert.deepStrictEqual(dims.get('y'), [6]);
    assert.deepStrictEqual(dims.get('total'), [], 'a true scalar');
  });

  it('exposes the tensors inference leaves unknown in groups within a small limit, giving the dims of one run', async () => {
    const model = makeModel({
      opset: 13,
      nodes: [
        node('Relu', ['x'], ['r']),
        node('NonZero', ['r'], ['where']),
        node('Transpose', ['where'], ['pairs']),
        node('Cast', ['pairs'], ['y'], [{ name: 'to', type: AttributeType.INT, i: 1 }]),
      ],
      inputs: { x: uniform([4, 8], 3) },
      output: 'y',
    });
    // About one tensor's worth: each group holds a tensor or two.
    await assertProbedAsRun(model, [{ x: uniform([4, 8], 3) }], 4 * 8 * 4);
  });

  it('gives resnet18 the dims a run gives, at batch 1 and 2', async function () {
    if (!referenceAvailable()) this.skip();
    const file = path.join(REFERENCE_DIR, 'resnet18.onnx');
    if (!fs.existsSync(file)) this.skip();
    const model = ConvModel.load(file, { provider: 'cpu' });
    try {
      const feeds = (batch: number) => ({ input: uniform([batch, 3, 224, 224], batch) });
      await assertProbedAsRun(withDynamicBatch(model.proto), [feeds(1), feeds(2)]);
    } finally {
      await model.dispose();
    }
  });
});
