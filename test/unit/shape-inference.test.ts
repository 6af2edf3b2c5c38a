// The shape rules (src/core/onnx/shape-inference.ts) stand in for onnxruntime's probe session and
// its run, so their dims must be exactly what a run of the model with every tensor exposed gives:
// for the bundled and reference models at two batches, and for graphs chosen for the rules' edge
// cases (ceil-mode and SAME windows, Resize's float32 scales, Slice's clamping, the shape
// computations exports write). Where a rule cannot know, or a kernel would refuse, they give up
// and the probe asks onnxruntime.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { probeShapeSets } from '../../src/core/autodiff/shapes';
import { ConvModel } from '../../src/core/model';
import { AttributeProto, AttributeType, GraphProto, ModelProto } from '../../src/core/onnx/proto';
import { inferShapes } from '../../src/core/onnx/shape-inference';
import { withBatchFreedReshapes, withDynamicBatch } from '../../src/core/onnx/surgery';
import { Tensor } from '../../src/core/tensor';
import { ranDims, sortedDims } from '../support/ran-dims';
import { REFERENCE_DIR, referenceAvailable } from '../support/reference';
import { makeModel, node, tensor, uniform, valueInfo } from './autodiff/harness';

const ROOT = path.resolve(__dirname, '../../..');

const int = (name: string, i: number): AttributeProto => ({ name, type: AttributeType.INT, i });
const ints = (name: string, values: number[]): AttributeProto => ({ name, type: AttributeType.INTS, ints: values });
const str = (name: string, s: string): AttributeProto => ({ name, type: AttributeType.STRING, s: new TextEncoder().encode(s) });
const int64 = (dims: number[], values: number[]): Tensor => ({ dtype: 'int64', dims, data: BigInt64Array.from(values.map(BigInt)) });
const f32 = (dims: number[], values: number[]): Tensor => tensor('float32', dims, values);

/** The rules cover the model and give, for each feed set, the dims of a run. */
async function assertInferredAsRun(model: ModelProto, feedSets: Record<string, Tensor>[], label = 'the graph'): Promise<Map<string, number[]>[]> {
  const inferred = inferShapes(model, feedSets);
  assert.ok(inferred, `the rules cover ${label}`);
  for (const [i, feeds] of feedSets.entries()) assert.deepStrictEqual(sortedDims(inferred[i]), sortedDims(await ranDims(model, feeds)), `feed set ${i}`);
  return inferred;
}

/** One float input `x`, symbolic in every dim, so each feed set may have its own size. */
function graphOf(opset: number, nodes: ReturnType<typeof node>[], x: number[], initializers: Record<string, Tensor> = {}, output = 'y'): ModelProto {
  const model = makeModel({ opset, nodes, inputs: { x: uniform(x, 1) }, initializers, output });
  const graph = model.graph as GraphProto;
  graph.input = [{ name: 'x', type: { tensor_type: { elem_type: 1, shape: { dim: x.map((_, i) => ({ dim_param: `d${i}` })) } } } }];
  graph.output = (graph.output ?? []).map((o) => ({ name: o.name }));
  return model;
}

const feeds = (...sizes: number[][]) => sizes.map((dims, i) => ({ x: uniform(dims, i + 2) }));

describe('shape rules', function () {
  describe('give the dims of a run', () => {
    /**
     * Each model at its declared size must be covered, and at batch 2 (its Reshapes that pin the
     * batch freed, as ConvModel's probe first tries it) covered unless onnxruntime refuses it too.
     */
    async function assertModelsInferred(dir: string, files: string[]): Promise<string[]> {
      const uncovered: string[] = [];
      for (const file of files) {
        const model = ConvModel.load(path.join(dir, file), { provider: 'cpu' });
        try {
          const dims = model.summary().inputs[0].shape.map((d) => (typeof d === 'number' ? d : 1));
          const at = (batch: number) => ({ [model.input.name]: uniform([batch, ...dims.slice(1)], batch) });
          const declared = inferShapes(model.proto, [at(dims[0])]);
          if (!declared) {
            uncovered.push(file);
            continue;
          }
          assert.deepStrictEqual(sortedDims(declared[0]), sortedDims(await ranDims(model.proto, at(dims[0]))), file);
          const batched = withDynamicBatch(withBatchFreedReshapes(model.proto)?.model ?? model.proto);
          const inferred = inferShapes(batched, [at(2)]);
          if (inferred) assert.deepStrictEqual(sortedDims(inferred[0]), sortedDims(await ranDims(batched, at(2))), `${file} at batch 2`);
          else await assert.rejects(ranDims(batched, at(2)), `${file}: the rules give up at batch 2 where onnxruntime runs it`);
        } finally {
          await model.dispose();
        }
      }
      return uncovered;
    }

    it('for the bundled and test models, at their declared size and at batch 2', async function () {
      const files = [
        ...fs.readdirSync(path.join(ROOT, 'sample')).map((f) => path.join('sample', f)),
        ...fs.readdirSync(path.join(ROOT, 'test/models'), { recursive: true, encoding: 'utf8' }).map((f) => path.join('test/models', f)),
      ].filter((f) => f.endsWith('.onnx'));
      assert.ok(files.length >= 18, 'the bundled and test models are there');
      // NonMaxSuppression's count depends on the scores, and an If's branch on the values.
      assert.deepStrictEqual(await assertModelsInferred(ROOT, files), ['sample/shapes-det-nms.onnx', 'test/models/controlflow/gated_if.onnx']);
    });

    it('for the reference models, at their declared size and at batch 2', async function () {
      if (!referenceAvailable()) this.skip();
      const files = fs.readdirSync(REFERENCE_DIR).filter((f) => f.endsWith('.onnx'));
      assert.ok(files.length >= 5, 'the reference models are there');
      // vit_tiny concatenates its class token as one row whatever the batch: onnxruntime refuses batch 2 too.
      assert.deepStrictEqual(await assertModelsInferred(REFERENCE_DIR, files), []);
    });

    it('for pooling windows: ceil mode, padding, dilations, SAME and VALID, at odd and even sizes', async () => {
      const model = graphOf(
        13,
        [
          node('MaxPool', ['x'], ['a'], [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1]), int('ceil_mode', 1)]),
          node('AveragePool', ['x'], ['b'], [ints('kernel_shape', [2, 2]), ints('strides', [2, 2]), int('ceil_mode', 1)]),
          node('MaxPool', ['x'], ['c'], [ints('kernel_shape', [2, 3]), ints('dilations', [2, 1]), ints('strides', [1, 3]), int('ceil_mode', 1)]),
          node('AveragePool', ['x'], ['d'], [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), str('auto_pad', 'SAME_UPPER')]),
          node('MaxPool', ['x'], ['e', 'e_indices'], [ints('kernel_shape', [3, 2]), ints('strides', [3, 2]), str('auto_pad', 'VALID')]),
          node('MaxPool', ['x'], ['f'], [ints('kernel_shape', [3, 3]), ints('strides', [3, 3]), ints('pads', [0, 1, 2, 0]), int('ceil_mode', 1)]),
          node('GlobalMaxPool', ['x'], ['y']),
        ],
        [1, 2, 7, 7],
      );
      await assertInferredAsRun(model, feeds([1, 2, 7, 7], [2, 2, 8, 8], [1, 2, 10, 5]));
    });

    it('for convolutions: groups, strides, asymmetric pads, dilations, SAME_LOWER, and transposed ones', async () => {
      const model = graphOf(
        13,
        [
          node('Conv', ['x', 'w', 'b'], ['a'], [int('group', 2), ints('strides', [2, 1]), ints('pads', [0, 1, 1, 0]), ints('dilations', [1, 2])]),
          node('Conv', ['x', 'w'], ['c'], [int('group', 2), ints('strides', [2, 2]), str('auto_pad', 'SAME_LOWER')]),
          node('ConvTranspose', ['a', 'wt'], ['d'], [ints('strides', [2, 2]), ints('output_padding', [1, 0]), ints('pads', [1, 0, 0, 1])]),
          node('ConvTranspose', ['c', 'wt'], ['y'], [ints('strides', [3, 2]), str('auto_pad', 'SAME_UPPER')]),
        ],
        [1, 4, 9, 8],
        { w: uniform([6, 2, 3, 3], 3), b: uniform([6], 4), wt: uniform([6, 3, 3, 2], 5) },
        'y',
      );
      await assertInferredAsRun(model, feeds([1, 4, 9, 8], [2, 4, 6, 11]));
    });

    it('for Resize by float32 scales and by sizes, and Upsample', async () => {
      const model = graphOf(
        13,
        [
          node('Resize', ['x', '', 'scales'], ['a'], [str('mode', 'linear')]),
          node('Resize', ['x', '', 'odd'], ['b'], [str('mode', 'nearest')]),
          node('Shape', ['x'], ['shape']),
          node('Slice', ['shape', 'zero', 'two'], ['nc']),
          node('Concat', ['nc', 'hw'], ['sizes'], [int('axis', 0)]),
          node('Resize', ['x', '', '', 'sizes'], ['y'], [str('mode', 'nearest')]),
        ],
        [1, 2, 7, 7],
        { scales: f32([4], [1, 1, 2, 2.5]), odd: f32([4], [1, 1, 1.7, 0.6]), zero: int64([1], [0]), two: int64([1], [2]), hw: int64([2], [5, 12]) },
      );
      await assertInferredAsRun(model, feeds([1, 2, 7, 7], [2, 2, 5, 9], [1, 2, 10, 3]));
      const upsample = graphOf(9, [node('Upsample', ['x', 'scales'], ['y'], [str('mode', 'nearest')])], [1, 2, 3, 3], { scales: f32([4], [1, 1, 2, 3.5]) });
      await assertInferredAsRun(upsample, feeds([1, 2, 3, 3], [1, 2, 5, 4]));
    });

    it('for the shape computations exports write: x.view(x.size(0), -1), an Expand through Where, Range and Tile', async () => {
      const model = graphOf(
        13,
        [
          node('Relu', ['x'], ['r']),
          node('Shape', ['r'], ['shape']),
          node('Gather', ['shape', 'zero'], ['n'], [int('axis', 0)]),
          node('Unsqueeze', ['n', 'axes'], ['n1']),
          node('Concat', ['n1', 'minus_one'], ['target'], [int('axis', 0)]),
          node('Reshape', ['r', 'target'], ['flat']),
          // torch's expand(n, 1, -1): -1 keeps the dim, written as Where(Equal(shape, -1), 1, shape).
          node('Concat', ['n1', 'one', 'minus_one'], ['wanted'], [int('axis', 0)]),
          node('Equal', ['wanted', 'minus_one'], ['keep']),
          node(
            'ConstantOfShape',
            ['three'],
            ['ones'],
            [{ name: 'value', type: AttributeType.TENSOR, t: { dims: [1], data_type: 7, raw_data: new Uint8Array(new BigInt64Array([1n]).buffer) } }],
          ),
          node('Where', ['keep', 'ones', 'wanted'], ['expand_to']),
          node('Expand', ['token', 'expand_to'], ['tokens']),
          node('Cast', ['n'], ['n_float'], [int('to', 1)]),
          node('Range', ['zero_f', 'n_float', 'half'], ['steps']),
          node('Tile', ['flat', 'repeats'], ['tiled']),
          node('Size', ['tiled'], ['count']),
          node('Shape', ['x'], ['tail'], [int('start', -2)]),
          node('Flatten', ['tokens'], ['y'], [int('axis', 2)]),
        ],
        [1, 2, 3, 4],
        {
          zero: int64([], [0]),
          axes: int64([1], [0]),
          minus_one: int64([1], [-1]),
          one: int64([1], [1]),
          three: int64([1], [3]),
          token: f32([1, 1, 5], [1, 2, 3, 4, 5]),
          zero_f: f32([], [0]),
          half: f32([], [0.5]),
          repeats: int64([2], [2, 3]),
        },
      );
      const [one, three] = await assertInferredAsRun(withOpset(model, 15), feeds([1, 2, 3, 4], [3, 2, 3, 4]));
      assert.deepStrictEqual([one.get('flat'), three.get('flat'), three.get('tokens'), three.get('steps')], [[1, 24], [3, 24], [3, 1, 5], [6]]);
    });

    it('for Slice (negative steps, clamped and negative ends), Split, Squeeze, Unsqueeze, Transpose, Pad', async () => {
      const model = graphOf(
        18,
        [
          node('Slice', ['x', 'starts', 'ends', 'axes', 'steps'], ['a']),
          node('Slice', ['x', 'starts2', 'ends2'], ['b']),
          node('Split', ['x'], ['s1', 's2', 's3'], [int('axis', 3), int('num_outputs', 3)]),
          node('Split', ['x', 'split'], ['t1', 't2'], [int('axis', 1)]),
          node('ReduceMean', ['x', 'axes_hw'], ['m'], [int('keepdims', 1)]),
          node('Squeeze', ['m'], ['sq']),
          node('Unsqueeze', ['sq', 'unsq'], ['un']),
          node('Transpose', ['x'], ['tr'], [ints('perm', [0, 2, 3, 1])]),
          node('Pad', ['x', 'pads'], ['y']),
        ],
        [1, 3, 7, 7],
        {
          starts: int64([2], [-1, 0]),
          ends: int64([2], [-9e15, 1e15]),
          axes: int64([2], [-1, 2]),
          steps: int64([2], [-2, 3]),
          starts2: int64([4], [0, 1, 2, 1]),
          ends2: int64([4], [1, 3, -1, 100]),
          split: int64([2], [1, 2]),
          axes_hw: int64([3], [0, 2, 3]),
          unsq: int64([2], [-1, 0]),
          pads: int64([8], [0, 0, 1, -1, 0, 1, 2, -2]),
        },
      );
      await assertInferredAsRun(model, feeds([1, 3, 7, 7], [2, 3, 9, 5]));
    });

    it('for linear layers and reductions: Gemm, batched and 1-D MatMul, Flatten, ReduceSum, ArgMax, TopK, LayerNormalization', async () => {
      const model = graphOf(
        17,
        [
          node('Flatten', ['x'], ['flat'], [int('axis', 1)]),
          node('Gemm', ['flat', 'w', 'c'], ['g'], [int('transB', 1)]),
          node('MatMul', ['x', 'm'], ['mm']),
          node('MatMul', ['v', 'x'], ['vx']),
          node('ReduceSum', ['g', 'none'], ['rs'], [int('keepdims', 0), int('noop_with_empty_axes', 1)]),
          node('ReduceSum', ['g'], ['all'], [int('keepdims', 0)]),
          node('ArgMax', ['x'], ['am'], [int('axis', -1), int('keepdims', 0)]),
          node('TopK', ['g', 'k'], ['top', 'top_indices']),
          node('LayerNormalization', ['x', 'gamma', 'beta'], ['y', 'mean', 'inv'], [int('axis', -2)]),
        ],
        [2, 3, 4],
        {
          w: uniform([5, 12], 2),
          c: uniform([5], 3),
          m: uniform([4, 6], 4),
          v: uniform([3], 5),
          none: int64([0], []),
          k: int64([1], [2]),
          gamma: uniform([3, 4], 6),
          beta: uniform([3, 4], 7),
        },
      );
      await assertInferredAsRun(model, feeds([2, 3, 4], [5, 3, 4]));
    });
  });

  describe('give up where onnxruntime must say', () => {
    const cases: [string, ModelProto, number[]][] = [
      ['a count that depends on values (NonZero)', graphOf(13, [node('NonZero', ['x'], ['y'])], [2, 3]), [2, 3]],
      ['an op the rules do not know (Einsum)', graphOf(13, [node('Einsum', ['x', 'x'], ['y'], [str('equation', 'ij,ij->i')])], [2, 3]), [2, 3]],
      ['an op of another domain', graphOf(13, [{ ...node('Gelu', ['x'], ['y']), domain: 'com.microsoft' }], [2, 3]), [2, 3]],
      ['a Reshape that changes the element count', graphOf(13, [node('Reshape', ['x', 'shape'], ['y'])], [2, 3], { shape: int64([2], [1, 5]) }), [2, 3]],
      ['a Conv whose weights do not match its input channels', graphOf(13, [node('Conv', ['x', 'w'], ['y'])], [1, 3, 5, 5], { w: uniform([4, 2, 3, 3], 1) }), [1, 3, 5, 5]],
      ['shapes that do not broadcast', graphOf(13, [node('Add', ['x', 'b'], ['y'])], [2, 3], { b: uniform([2], 1) }), [2, 3]],
      ['a Gather index out of range', graphOf(13, [node('Gather', ['x', 'i'], ['y'])], [2, 3], { i: int64([1], [2]) }), [2, 3]],
      ['a Reshape to a shape read from the input', graphOf(13, [node('Cast', ['x'], ['s'], [int('to', 7)]), node('Reshape', ['x', 's'], ['y'])], [1]), [1]],
    ];
    for (const [what, model, dims] of cases) {
      it(what, () => assert.strictEqual(inferShapes(model, [{ x: uniform(dims, 1) }]), undefined));
    }

    it('an If, whose branch is known only when it runs; the probe then asks onnxruntime', async () => {
      const branch = (name: string, op: string): GraphProto => ({ name, node: [node(op, ['x'], [`${name}_out`])], output: [valueInfo(`${name}_out`, 'float32')] });
      const model = graphOf(
        13,
        [
          node('ReduceSum', ['x'], ['total'], [int('keepdims', 0)]),
          node('Greater', ['total', 'zero'], ['positive']),
          node(
            'If',
            ['positive'],
            ['y'],
            [
              { name: 'then_branch', type: AttributeType.GRAPH, g: branch('then', 'Relu') },
              { name: 'else_branch', type: AttributeType.GRAPH, g: branch('else', 'Neg') },
            ],
          ),
        ],
        [2, 3],
        { zero: f32([], [0]) },
      );
      const set = { x: uniform([2, 3], 1) };
      assert.strictEqual(inferShapes(model, [set]), undefined);
      const [probed] = await probeShapeSets(model, [set]);
      assert.deepStrictEqual(probed.get('y'), [2, 3]);
    });

    it('a feed its declaration refuses', () => {
      const model = makeModel({ opset: 13, nodes: [node('Relu', ['x'], ['y'])], inputs: { x: uniform([2, 3], 1) }, output: 'y' });
      assert.ok(inferShapes(model, [{ x: uniform([2, 3], 1) }]));
      assert.strictEqual(inferShapes(model, [{ x: uniform([2, 4], 1) }]), undefined);
    });
  });
});

function withOpset(model: ModelProto, opset: number): ModelProto {
  return { ...model, ir_version: 8, opset_import: [{ domain: '', version: opset }] };
}
