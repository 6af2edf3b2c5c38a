import * as assert from 'assert';
import * as path from 'path';
import { ConvModel } from '../../src/core/model';
import { AttributeType, GraphProto, ModelProto, NodeProto, encodeModel } from '../../src/core/onnx/proto';
import { effectiveReceptiveField, massArea, receptiveFieldOf, receptiveFields, theoreticalReceptiveFields } from '../../src/core/inside/receptive-field';
import { REFERENCE_DIR, describeReference } from '../support/reference';
import { SAMPLE_MODEL, describeSample } from './inside-sample';

// A graph of 2-D window ops on a [1, 1, size, size] input named 'x'; shapes are given by hand.
function windowNode(op: string, input: string, output: string, attrs: { k: number; s?: number; p?: number; d?: number }): NodeProto {
  const ints = (name: string, v: number) => ({ name, type: AttributeType.INTS, ints: [v, v] });
  const attribute = [ints('kernel_shape', attrs.k), ints('strides', attrs.s ?? 1), { name: 'pads', type: AttributeType.INTS, ints: Array(4).fill(attrs.p ?? 0) }];
  if (attrs.d) attribute.push(ints('dilations', attrs.d));
  return { op_type: op, input: op === 'Conv' ? [input, `${output}.w`] : [input], output: [output], name: output, attribute };
}

function graphOf(nodes: NodeProto[]): GraphProto {
  const weights = nodes.filter((n) => n.op_type === 'Conv').map((n) => ({ name: n.input[1], dims: [1, 1, 1, 1], data_type: 1, float_data: [1] }));
  return { node: nodes, initializer: weights, input: [{ name: 'x' }], output: [{ name: nodes[nodes.length - 1].output[0] }] };
}

function shapesFor(size: number, names: string[]): Map<string, number[]> {
  // Only the input's and the global pool's input shapes are read by these graphs.
  return new Map([['x', [1, 1, size, size]], ...names.map((n) => [n, [1, 1, size, size]] as [string, number[]])]);
}

describe('theoretical receptive fields (Araujo et al. 2019 recurrence)', () => {
  it('a stack of 3×3 convolutions grows 3, 5, 7 with jump 1', () => {
    const graph = graphOf([windowNode('Conv', 'x', 'c1', { k: 3, p: 1 }), windowNode('Conv', 'c1', 'c2', { k: 3, p: 1 }), windowNode('Conv', 'c2', 'c3', { k: 3, p: 1 })]);
    const report = theoreticalReceptiveFields(graph, shapesFor(32, ['c1', 'c2', 'c3']));
    assert.deepStrictEqual(
      report.fields.map((f) => f.size[0]),
      [3, 5, 7],
    );
    assert.deepStrictEqual(
      report.fields.map((f) => f.jump[0]),
      [1, 1, 1],
    );
    // Padding 1 keeps position 0 centred on pixel 0.
    assert.deepStrictEqual(
      report.fields.map((f) => f.start[0]),
      [0, 0, 0],
    );
  });

  it('a stride-2 layer doubles what every later kernel adds', () => {
    // conv3 s1 → r 3; conv3 s2 → r 5, j 2; conv3 s1 → r 5 + 2·2 = 9; conv3 s1 → 13.
    const graph = graphOf([
      windowNode('Conv', 'x', 'a', { k: 3, p: 1 }),
      windowNode('Conv', 'a', 'b', { k: 3, s: 2, p: 1 }),
      windowNode('Conv', 'b', 'c', { k: 3, p: 1 }),
      windowNode('Conv', 'c', 'd', { k: 3, p: 1 }),
    ]);
    const report = theoreticalReceptiveFields(graph, shapesFor(32, ['a', 'b', 'c', 'd']));
    assert.deepStrictEqual(
      report.fields.map((f) => [f.size[0], f.jump[0]]),
      [
        [3, 1],
        [5, 2],
        [9, 2],
        [13, 2],
      ],
    );
  });

  it('2×2 max pooling without padding shifts the first centre by half a pixel; dilation widens the kernel', () => {
    // pool k2 s2 p0: r 2, j 2, start 0 + (1/2 − 0)·1 = 0.5. Conv k3 d2 (k' = 5): r 2 + 4·2 = 10, j 2, start 0.5 + (2 − 2)·2.
    const graph = graphOf([windowNode('MaxPool', 'x', 'p', { k: 2, s: 2 }), windowNode('Conv', 'p', 'c', { k: 3, d: 2, p: 2 })]);
    const report = theoreticalReceptiveFields(graph, shapesFor(32, ['p', 'c']));
    assert.deepStrictEqual(
      report.fields.map((f) => [f.size[0], f.jump[0], f.start[0]]),
      [
        [2, 2, 0.5],
        [10, 2, 0.5],
      ],
    );
  });

  it('Add takes the larger branch; global pooling sees the whole input; unsupported ops are reported, not guessed', () => {
    const graph = graphOf([
      windowNode('Conv', 'x', 'big', { k: 5, p: 2 }),
      windowNode('Conv', 'x', 'small', { k: 1 }),
      { op_type: 'Add', input: ['big', 'small'], output: ['sum'], name: 'sum' },
      { op_type: 'GlobalAveragePool', input: ['sum'], output: ['gap'], name: 'gap' },
      { op_type: 'Flatten', input: ['gap'], output: ['flat'], name: 'flat' },
      { op_type: 'Reshape', input: ['sum', 'shape'], output: ['tokens'], name: 'tokens' },
      { op_type: 'Relu', input: ['tokens'], output: ['after'], name: 'after' },
    ]);
    graph.initializer!.push({ name: 'shape', dims: [3], data_type: 7, int64_data: [1, 1, -1] });
    const report = theoreticalReceptiveFields(graph, shapesFor(16, ['big', 'small', 'sum']));
    assert.strictEqual(receptiveFieldOf(report, 'sum').size[0], 5);
    // 5 + (16 − 1)·1 = 20: the whole 16-pixel input plus the padding the 5×5 kernel reaches.
    assert.deepStrictEqual(receptiveFieldOf(report, 'gap').size, [20, 20]);
    assert.strictEqual(receptiveFieldOf(report, 'flat').global, true);
    assert.deepStrictEqual(
      report.unresolved.map((u) => u.tensor),
      ['tokens', 'after'],
    );
    assert.throws(() => receptiveFieldOf(report, 'after'), /unresolved: it depends on 'tokens'/);
  });
});

describeReference('receptive fields of resnet18', () => {
  let model: ConvModel;
  before(() => {
    model = ConvModel.load(path.join(REFERENCE_DIR, 'resnet18.onnx'), { provider: 'cpu' });
  });
  after(() => model.dispose());

  it("the last block's output has a theoretical field of 435 pixels, jump 32", async () => {
    // By hand: conv1 7×7/2 → r 7, j 2; maxpool 3×3/2 → 7 + 2·2 = 11, j 4; layer1's four 3×3 convs add
    // 2·4 each → 43; layer2's stride-2 conv adds 2·4 → 51 (j 8), its three other 3×3 convs add 2·8
    // each → 99; layer3: + 2·8 → 115 (j 16), + 3·32 → 211; layer4: + 2·16 → 243 (j 32), + 3·64 → 435.
    // The 1×1 downsample shortcuts are narrower and lose at each Add.
    const report = await receptiveFields(model);
    const field = receptiveFieldOf(report, '/layer4/layer4.1/relu_1/Relu_output_0');
    assert.deepStrictEqual(field.size, [435, 435]);
    assert.deepStrictEqual(field.jump, [32, 32]);
    assert.deepStrictEqual(receptiveFieldOf(report, '/maxpool/MaxPool_output_0').size, [11, 11]);
    assert.strictEqual(receptiveFieldOf(report, 'logits').global, true);
    assert.deepStrictEqual(report.unresolved, []);
  });
});

describe('effective receptive field area', () => {
  it('counts the fewest pixels holding the requested mass, with their bounding box', () => {
    // 4×4 map: mass 8 at (1,1), 1 at (1,2) and (2,1), 0 elsewhere; 80% of 10 needs only the peak.
    const map = new Float32Array(16);
    map[5] = 8;
    map[6] = 1;
    map[9] = 1;
    assert.deepStrictEqual(massArea(map, 4, 0.8), { area: 1, box: [1, 1, 2, 2] });
    assert.deepStrictEqual(massArea(map, 4, 0.95), { area: 3, box: [1, 1, 3, 3] });
  });
});

describe('effective receptive field (Luo et al. 2016)', () => {
  it('of one 3×3 all-ones convolution is its 3×3 window, every pixel weighing the same', async () => {
    const graph = graphOf([windowNode('Conv', 'x', 'y', { k: 3, p: 1 })]);
    graph.initializer = [{ name: 'y.w', dims: [1, 1, 3, 3], data_type: 1, float_data: Array(9).fill(1) }];
    const dim = (v: number) => ({ dim_value: v });
    graph.input = [{ name: 'x', type: { tensor_type: { elem_type: 1, shape: { dim: [dim(1), dim(1), dim(7), dim(7)] } } } }];
    graph.output = [{ name: 'y', type: { tensor_type: { elem_type: 1 } } }];
    const proto: ModelProto = { ir_version: 8, opset_import: [{ domain: '', version: 13 }], graph };
    const model = ConvModel.fromBytes(encodeModel(proto), { provider: 'cpu' });
    try {
      const erf = await effectiveReceptiveField(model, 'y', { samples: 2 });
      assert.deepStrictEqual(erf.unit, [3, 3]);
      const expected = Array.from({ length: 49 }, (_, i) => (Math.abs(Math.floor(i / 7) - 3) <= 1 && Math.abs((i % 7) - 3) <= 1 ? 1 : 0));
      assert.deepStrictEqual(Array.from(erf.map.data), expected);
      assert.deepStrictEqual([erf.area, erf.box], [9, [2, 2, 5, 5]]);
      // Half of nine equal pixels needs five of them.
      assert.strictEqual((await effectiveReceptiveField(model, 'y', { massFraction: 0.5 })).area, 5);
    } finally {
      await model.dispose();
    }
  });
});

describeSample('effective receptive field of the sample model', () => {
  it('lies inside the theoretical field of the same unit and is smaller than it', async () => {
    const model = ConvModel.load(SAMPLE_MODEL, { provider: 'cpu' });
    try {
      const tensor = '/block4/relu/Relu_output_0';
      const theoretical = receptiveFieldOf(await receptiveFields(model), tensor);
      // conv 3 → 3; pool 2/2 → 4 (j 2); conv → 8; pool → 10 (j 4); conv → 18; pool → 22 (j 8); conv → 38.
      assert.deepStrictEqual(
        [theoretical.size, theoretical.jump, theoretical.start],
        [
          [38, 38],
          [8, 8],
          [3.5, 3.5],
        ],
      );
      const erf = await effectiveReceptiveField(model, tensor, { samples: 4, seed: 3 });
      assert.deepStrictEqual(erf.unit, [4, 4]);
      // Unit 4's field: centre 3.5 + 4·8 = 35.5, pixels 35.5 ± 18.5 = 17..54.
      const [lo, hi] = [17, 54];
      for (let i = 0; i < 64 * 64; i++) {
        const [y, x] = [Math.floor(i / 64), i % 64];
        if (y < lo || y > hi || x < lo || x > hi) assert.strictEqual(erf.map.data[i], 0, `gradient outside the theoretical field at (${y}, ${x})`);
      }
      assert.ok(erf.area > 0 && erf.side < 38, `effective side ${erf.side}`);
    } finally {
      await model.dispose();
    }
  });
});
