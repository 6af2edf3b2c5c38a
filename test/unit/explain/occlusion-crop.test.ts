// Occlusion through cuts after the network's local first layers (src/core/explain/local-prefix.ts):
// the parts between cuts run on crops around each window and the rest on the input's activation
// with the changed positions replaced. It must give the scores of running the whole network on each
// occluded input (crop: 'off'), on models whose prefixes hold what can go wrong: strides and
// padding that differ per axis, dilation, max-pooling in ceil mode, a strided 1×1 convolution
// that reads every other position, a residual Add, a Concat of two branches, odd input sizes, and
// 1-D and 3-D inputs. The analysis stops where locality ends (a constant with a spatial extent, a
// tensor read past the cut) and agrees with the receptive fields of inside/receptive-field.ts.
import * as assert from 'assert';
import * as path from 'path';
import { explain } from '../../../src/core/explain';
import { chainCrops, copyRegion, localCuts, planChain } from '../../../src/core/explain/local-prefix';
import { receptiveFields } from '../../../src/core/inside/receptive-field';
import { ConvModel } from '../../../src/core/model';
import { GraphProto } from '../../../src/core/onnx/proto';
import { Tensor, maxAbs } from '../../../src/core/tensor';
import { REFERENCE_DIR, describeReference } from '../../support/reference';
import { buildModel, int, ints, node, randomTensor } from './tiny-models';

const target = { kind: 'class' as const, index: 0 };

/**
 * conv k·s·p per spatial axis list, a residual block, a Concat, a strided 1×1 convolution and a
 * cheap head; `fixedBatch`: the head flattens with a Reshape to a computed [1, -1], so the model
 * runs one input at a time (its parts before the head take any batch).
 */
function stemModel(seed: number, spatial: number[], fixedBatch = false): ConvModel {
  const n = spatial.length;
  const k = (size: number) => ints('kernel_shape', Array(n).fill(size));
  const pads = (p: number[]) => ints('pads', [...p, ...p]);
  const firstKernel = spatial.map((_, a) => (a === n - 1 ? 3 : 5));
  return buildModel({
    nodes: [
      // Kernel 5 (3 on the last axis), stride 2 (1 on the last axis), padding that follows.
      node(
        'Conv',
        ['input', 'w1', 'b1'],
        ['c1'],
        [
          ints('kernel_shape', firstKernel),
          ints(
            'strides',
            spatial.map((_, a) => (a === n - 1 ? 1 : 2)),
          ),
          pads(firstKernel.map((s) => (s - 1) / 2)),
        ],
      ),
      node('Relu', ['c1'], ['r1']),
      node('MaxPool', ['r1'], ['p1'], [k(3), ints('strides', Array(n).fill(2)), pads(Array(n).fill(1)), int('ceil_mode', 1)]),
      // A residual block whose first convolution is dilated.
      node('Conv', ['p1', 'w2'], ['c2'], [k(3), ints('dilations', Array(n).fill(2)), pads(Array(n).fill(2))]),
      node('Clip', ['c2', 'lo', 'hi'], ['r2']),
      node('Conv', ['r2', 'w3', 'b3'], ['c3'], [k(3), pads(Array(n).fill(1))]),
      node('Add', ['c3', 'p1'], ['sum']),
      node('Relu', ['sum'], ['block']),
      node('Conv', ['p1', 'w4'], ['side'], [k(1)]),
      node('Concat', ['block', 'side'], ['cat'], [int('axis', 1)]),
      // Reads every other position: positions between are in no field.
      node('Conv', ['cat', 'w5'], ['down'], [k(1), ints('strides', Array(n).fill(2))]),
      node('Mul', ['down', 'scale'], ['scaled']),
      node('GlobalAveragePool', ['scaled'], ['pooled']),
      ...(fixedBatch
        ? [node('Concat', ['one', 'rest'], ['shape'], [int('axis', 0)]), node('Reshape', ['pooled', 'shape'], ['flat'])]
        : [node('Flatten', ['pooled'], ['flat'], [int('axis', 1)])]),
      node('Gemm', ['flat', 'fc', 'fcb'], ['logits'], [int('transB', 1)]),
    ],
    initializers: {
      one: { dtype: 'int64', dims: [1], data: BigInt64Array.of(1n) },
      rest: { dtype: 'int64', dims: [1], data: BigInt64Array.of(-1n) },
      w1: randomTensor([6, 2, ...firstKernel], seed, 0.4),
      b1: randomTensor([6], seed + 1, 0.1),
      w2: randomTensor([6, 6, ...Array(n).fill(3)], seed + 2, 0.3),
      lo: { dtype: 'float32', dims: [], data: new Float32Array([0]) },
      hi: { dtype: 'float32', dims: [], data: new Float32Array([6]) },
      w3: randomTensor([6, 6, ...Array(n).fill(3)], seed + 3, 0.3),
      b3: randomTensor([6], seed + 4, 0.1),
      w4: randomTensor([3, 6, ...Array(n).fill(1)], seed + 5, 0.5),
      w5: randomTensor([8, 9, ...Array(n).fill(1)], seed + 6, 0.5),
      scale: randomTensor([1, 8, ...Array(n).fill(1)], seed + 7, 1),
      fc: randomTensor([3, 8], seed + 8, 1),
      fcb: randomTensor([3], seed + 9, 0.1),
    },
    input: [fixedBatch ? 1 : 'N', 2, ...spatial],
    output: [fixedBatch ? 1 : 'N', 3],
  });
}

async function assertSameScores(model: ConvModel, input: Tensor, cropped: Float32Array, whole: Float32Array, what: string): Promise<void> {
  // Each attribution is y(x) minus an occluded score (averaged); the two paths sum the same
  // products, but onnxruntime may block a crop's convolutions differently from the whole input's,
  // so each score can differ in its last bits: float32's 6e-8 relative to the score, a few times.
  const logits = (await model.run({ [model.input.name]: input })).logits.data as Float32Array;
  const scale = Math.max(maxAbs(logits), maxAbs(whole));
  assert.ok(maxAbs(whole) > 0, `${what}: the occlusion map is not zero`);
  for (let i = 0; i < whole.length; i++) assert.ok(Math.abs(cropped[i] - whole[i]) <= 1e-6 * scale, `${what}: element ${i}: ${cropped[i]} against ${whole[i]}`);
}

describe('occlusion through cuts after the local first layers', function () {
  this.timeout(120000);

  const cases: { name: string; spatial: number[]; window: number[]; strides: number[]; fixedBatch?: boolean }[] = [
    { name: '2-D, odd sizes, windows that do not tile it', spatial: [97, 83], window: [2, 7, 9], strides: [2, 5, 6] },
    { name: '2-D, a model that runs one input at a time', spatial: [64, 64], window: [2, 8, 8], strides: [2, 8, 8], fixedBatch: true },
    { name: '2-D, one channel occluded at a time', spatial: [80, 80], window: [1, 8, 8], strides: [1, 8, 8] },
    { name: '1-D', spatial: [301], window: [2, 9], strides: [2, 7] },
    { name: '3-D', spatial: [9, 48, 44], window: [2, 3, 8, 8], strides: [2, 3, 8, 8] },
  ];
  for (const c of cases) {
    it(`${c.name}: the same scores as the whole network on every occluded input`, async () => {
      const model = stemModel(11, c.spatial, c.fixedBatch);
      try {
        if (c.fixedBatch) assert.strictEqual(await model.supportsBatch(), false, 'the head pins the batch');
        const input = randomTensor([1, 2, ...c.spatial], 5, 1);
        const options = { window: c.window, strides: c.strides, batch: 7 };
        const cropped = await explain('occlusion', { model, input, target }, { ...options, crop: 'auto' });
        const whole = await explain('occlusion', { model, input, target }, { ...options, crop: 'off' });
        assert.ok(
          cropped.notes.some((n) => /ran on crops around each window/.test(n)),
          `the crop ran: ${cropped.notes.join(' | ')}`,
        );
        assert.ok(!whole.notes.some((n) => /crop/.test(n)), 'crop: off runs the whole network');
        await assertSameScores(model, input, cropped.raw.data as Float32Array, whole.raw.data as Float32Array, c.name);
      } finally {
        await model.dispose();
      }
    });
  }

  it("resolves a 'top' target from the network after the crops, making no session of the whole network", async () => {
    const model = stemModel(7, [64, 64]);
    try {
      const input = randomTensor([1, 2, 64, 64], 3, 1);
      const options = { window: [2, 8, 8], strides: [2, 8, 8], crop: 'auto' };
      const top = await explain('occlusion', { model, input, target: { kind: 'class', index: 'top' } }, options);
      assert.ok(
        top.notes.some((n) => /ran on crops around each window/.test(n)),
        top.notes.join(' | '),
      );
      assert.strictEqual(await model.baseSessionOpen(), false, 'no session of the whole network');
      const logits = (await model.run({ input })).logits.data as Float32Array;
      const best = logits.indexOf(Math.max(...logits));
      assert.deepStrictEqual(top.target, { kind: 'class', index: best, output: 'logits' });
      const given = await explain('occlusion', { model, input, target: { kind: 'class', index: best } }, options);
      assert.deepStrictEqual(top.raw.data, given.raw.data);
    } finally {
      await model.dispose();
    }
  });

  it('a window too large to save operations runs the whole network', async () => {
    const model = stemModel(3, [40, 40]);
    try {
      const input = randomTensor([1, 2, 40, 40], 2, 1);
      const e = await explain('occlusion', { model, input, target }, { window: [2, 30, 30], strides: [2, 10, 10], crop: 'auto' });
      assert.ok(!e.notes.some((n) => /crop/.test(n)), e.notes.join(' | '));
    } finally {
      await model.dispose();
    }
  });

  it('ends the local prefix at a constant with a spatial extent and at a tensor read past the cut', async () => {
    const model = buildModel({
      nodes: [
        node('Conv', ['input', 'w1'], ['c1'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]),
        node('Relu', ['c1'], ['r1']),
        node('Conv', ['r1', 'w2'], ['c2'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]),
        // A position embedding: each position gets its own value, so the layers after it are not local.
        node('Add', ['c2', 'position'], ['embedded']),
        node('Conv', ['embedded', 'w3'], ['c3'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]),
        // 'r1' is read again after 'c2': nothing between them cuts the network.
        node('Add', ['c3', 'r1'], ['sum']),
        node('GlobalAveragePool', ['sum'], ['pooled']),
        node('Flatten', ['pooled'], ['logits'], [int('axis', 1)]),
      ],
      initializers: {
        w1: randomTensor([4, 3, 3, 3], 1, 0.5),
        w2: randomTensor([4, 4, 3, 3], 2, 0.5),
        position: randomTensor([1, 4, 16, 16], 3, 0.5),
        w3: randomTensor([4, 4, 3, 3], 4, 0.5),
      },
      input: ['N', 3, 16, 16],
      output: ['N', 4],
    });
    try {
      const cuts = localCuts(model.proto.graph as GraphProto, model.input.name, model.inputDims(), await model.probeShapes());
      assert.deepStrictEqual(
        cuts.map((c) => c.tensor),
        ['c1', 'r1'],
      );
      assert.deepStrictEqual(cuts[1].reach, { stride: [1, 1], before: [1, 1], after: [1, 1] });
    } finally {
      await model.dispose();
    }
  });

  it('gives each crop one size, a multiple of the stride from the input end, holding every changed position', () => {
    const stage = { from: 'input', to: 't', reach: { stride: [4, 4], before: [5, 5], after: [6, 6] }, fromDims: [1, 3, 100, 100], toDims: [1, 4, 25, 25], cost: 1 };
    const windows = [0, 12, 40, 88].map((s) => ({ start: [s, 100 - Math.min(12, 100 - s)], extent: [Math.min(12, 100 - s), Math.min(12, 100 - s)] }));
    const [{ changed, start, size }] = chainCrops([stage], windows);
    for (const [i, w] of windows.entries()) {
      const { first, last } = changed[i] as { first: number[]; last: number[] };
      const corner = start[i] as number[];
      for (let a = 0; a < 2; a++) {
        assert.strictEqual(corner[a] % 4, 0, 'the crop starts at a multiple of the stride');
        assert.ok(corner[a] + size[a] <= 100, 'inside the input');
        // Every position whose field meets the window is changed; each changed position's field is in the crop (or past a border).
        for (let o = 0; o < 25; o++) {
          const meets = o * 4 - 5 <= w.start[a] + w.extent[a] - 1 && o * 4 + 6 >= w.start[a];
          assert.strictEqual(meets, o >= first[a] && o <= last[a], `window ${i} axis ${a} position ${o}`);
        }
        assert.ok(Math.max(0, first[a] * 4 - 5) >= corner[a] && Math.min(100, last[a] * 4 + 7) <= corner[a] + size[a]);
      }
    }
  });

  it('copies a box between row-major tensors', () => {
    const src = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
    const dst = new Float32Array(2 * 2 * 2).fill(-1);
    copyRegion(src, [2, 3, 4], [0, 1, 2], dst, [2, 2, 2], [0, 0, 0], [2, 2, 2]);
    assert.deepStrictEqual([...dst], [6, 7, 10, 11, 18, 19, 22, 23]);
  });

  describeReference('on resnet18', () => {
    const resnet = path.join(REFERENCE_DIR, 'resnet18.onnx');
    it("each cut's stride and field are those of inside/receptive-field.ts", async () => {
      const model = await ConvModel.load(resnet, { provider: 'cpu' });
      try {
        const shapes = await model.probeShapes();
        const graph = model.proto.graph as GraphProto;
        const cuts = localCuts(graph, model.input.name, model.inputDims(), shapes);
        const fields = new Map((await receptiveFields(model)).fields.map((f) => [f.tensor, f]));
        assert.ok(cuts.length >= 10, `resnet18 cuts after each block: ${cuts.length}`);
        assert.ok(cuts.some((c) => c.tensor === '/layer1/layer1.1/relu_1/Relu_output_0'));
        for (const cut of cuts) {
          const field = fields.get(cut.tensor);
          assert.ok(field, cut.tensor);
          assert.deepStrictEqual(cut.reach.stride, field.jump, `${cut.tensor} stride`);
          assert.deepStrictEqual(
            cut.reach.before.map((b, a) => b + cut.reach.after[a] + 1),
            field.size,
            `${cut.tensor} field`,
          );
        }
      } finally {
        await model.dispose();
      }
    });

    it('a chain of crops on 3×32×32 windows, the same scores as the whole network', async function () {
      this.timeout(300000);
      const model = await ConvModel.load(resnet, { provider: 'cpu' });
      try {
        const dims = model.inputDims();
        const windows: { start: number[]; extent: number[] }[] = [];
        for (let y = 0; y < 224; y += 16) for (let x = 0; x < 224; x += 16) if (y <= 192 && x <= 192) windows.push({ start: [y, x], extent: [32, 32] });
        const chain = planChain(model.proto.graph as GraphProto, model.input.name, dims, await model.probeShapes(), windows, { maxStages: 4, worth: 1 });
        assert.ok(chain, 'a chain');
        // One cut after layer1 alone is estimated at about 80% of the operations (sessions counted); stages that crop again go further.
        assert.ok(chain.stages.length >= 2 && chain.fraction < 0.75, `${chain.stages.map((s) => s.to).join(' → ')}: ${chain.fraction}`);
        const input = randomTensor(dims, 9, 1);
        const options = { window: [3, 32, 32], strides: [3, 16, 16], batch: 16 };
        const cropped = await explain('occlusion', { model, input, target }, { ...options, crop: 'auto' });
        const whole = await explain('occlusion', { model, input, target }, { ...options, crop: 'off' });
        assert.ok(
          cropped.notes.some((n) => /ran on crops around each window/.test(n)),
          cropped.notes.join(' | '),
        );
        await assertSameScores(model, input, cropped.raw.data as Float32Array, whole.raw.data as Float32Array, 'resnet18');
      } finally {
        await model.dispose();
      }
    });
  });
});
