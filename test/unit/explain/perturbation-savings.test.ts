// The exact savings of the perturbation CAMs give the numbers of running everything: Ablation-CAM
// does not run channels that ablating leaves unchanged (already at the ablation value), Score-CAM
// scores identical channels once, and Ablation-CAM updates the output of a 1×1 convolution after the layer
// instead of running it, and feeds the channels' averages where the layer feeds only a global
// average. Each is compared with a brute-force run of every channel.
import * as assert from 'assert';
import { explain } from '../../../src/core/explain';
import { weightedChannelSum } from '../../../src/core/explain/cam-common';
import { scoreCamMask, scoreCamWeights, softmax } from '../../../src/core/explain/scorecam';
import { modelAfter } from '../../../src/core/explain/submodel';
import { resizeBilinearAlignCorners } from '../../../src/core/image/resize';
import { run } from '../../../src/core/onnx/session';
import { Tensor, float32 } from '../../../src/core/tensor';
import { ConvModel } from '../../../src/core/model';
import { tensorFromProto, tensorToProto } from '../../../src/core/onnx/initializers';
import { encodeModel } from '../../../src/core/onnx/proto';
import { buildModel, int, ints, node, randomTensor, tinyCnn } from './tiny-models';

const CHANNELS = 8;
// Channels 1 and 5 are dead (bias far below any input's reach), 2 is a copy of 6 (same weights and
// bias) and 3 is constant (no weights, bias 3).
const DEAD = [1, 5];
const CONSTANT = 3;

/** tinyCnn with its second conv's weights and biases changed to make those channels. */
function deadChannelCnn(): ConvModel {
  const proto = tinyCnn(1, [3, 6, CHANNELS]).proto;
  const initializers = proto.graph?.initializer ?? [];
  const at = (name: string) => initializers.findIndex((t) => t.name === name);
  const w2 = tensorFromProto(initializers[at('w2')]).data as Float32Array;
  const b2 = tensorFromProto(initializers[at('b2')]).data as Float32Array;
  for (const k of DEAD) b2[k] = -1000;
  const plane = 6 * 9;
  w2.copyWithin(2 * plane, 6 * plane, 7 * plane);
  b2[2] = b2[6];
  w2.fill(0, CONSTANT * plane, (CONSTANT + 1) * plane);
  b2[CONSTANT] = 3;
  initializers[at('w2')] = tensorToProto('w2', float32([CHANNELS, 6, 3, 3], w2));
  initializers[at('b2')] = tensorToProto('b2', float32([CHANNELS], b2));
  return ConvModel.fromBytes(encodeModel(proto), { provider: 'cpu' });
}

function assertNear(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, what: string): void {
  const scale = Math.max(...Array.from(expected, Math.abs));
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= rtol * scale, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

describe('exact savings of the perturbation CAMs', () => {
  const model = deadChannelCnn();
  const input = randomTensor([1, 3, 16, 16], 7, 2);
  const target = { kind: 'class' as const, index: 2 };

  it('the test model has the dead and duplicate channels it is built for', async () => {
    const features = (await model.run({ input }, ['features'])).features.data as Float32Array;
    const plane = 64;
    for (const k of DEAD)
      assert.ok(
        features.subarray(k * plane, (k + 1) * plane).every((v) => v === 0),
        `channel ${k} is dead`,
      );
    assert.deepStrictEqual([...features.subarray(2 * plane, 3 * plane)], [...features.subarray(6 * plane, 7 * plane)]);
    assert.ok(
      features.subarray(CONSTANT * plane, (CONSTANT + 1) * plane).every((v) => v === 3),
      `channel ${CONSTANT} is constant`,
    );
  });

  it('Ablation-CAM: channels already at the ablation value are not run, and the CAM equals ablating every channel', async () => {
    const e = await explain('ablationcam', { model, input, target, layer: 'features' }, { batch: 4 });
    assert.ok(
      e.notes.some((n) => n.startsWith(`${DEAD.length} channels already at the ablation value`)),
      e.notes.join('; '),
    );
    // Brute force: every channel ablated (to 0, the activations' minimum) through the part after the layer.
    const full = await model.run({ input }, ['features']);
    const activations = full.features;
    const original = (full.logits.data as Float32Array)[target.index];
    const sub = modelAfter(model.proto, 'features', 'logits', activations.dims);
    const session = await model.session('test-brute-force-after', () => sub.proto);
    const plane = 64;
    const weights = new Float64Array(CHANNELS);
    for (let k = 0; k < CHANNELS; k++) {
      const ablated = Float32Array.from(activations.data as Float32Array);
      ablated.fill(0, k * plane, (k + 1) * plane);
      const out = await run(session, { features: { dtype: 'float32', dims: activations.dims, data: ablated } }, ['logits']);
      weights[k] = (original - (out.logits.data as Float32Array)[target.index]) / original;
    }
    assertNear(e.raw.data as Float32Array, weightedChannelSum(activations, weights).data as Float32Array, 1e-6, 'ablationcam');
  });

  it('Score-CAM: channels with identical masks are scored once, with the weights of scoring every channel', async () => {
    const ctx = { model, input, target, layer: 'features' };
    const full = await model.run({ input }, ['features']);
    const activations: Tensor = full.features;
    const resolved = { kind: 'class' as const, index: target.index, output: 'logits' };
    const { weights, passes } = await scoreCamWeights(ctx, resolved, activations, 3);
    // Brute force: each channel's masked input through the whole model, one at a time.
    const x = input.data as Float32Array;
    const scores = new Float64Array(CHANNELS);
    const masks = Array.from({ length: CHANNELS }, (_, k) => scoreCamMask(activations, k, [16, 16]));
    const distinct = masks.filter((m, k) => !masks.slice(0, k).some((earlier) => earlier.every((v, i) => Object.is(v, m[i]))));
    assert.strictEqual(distinct.length, CHANNELS - 3, "the constant channel has the dead channels' all-zero mask");
    assert.strictEqual(passes, distinct.length, 'the two dead channels and the constant one share a pass, and so do the two copies');
    for (let k = 0; k < CHANNELS; k++) {
      const mask = masks[k];
      const masked = float32(
        [1, 3, 16, 16],
        Float32Array.from(x, (v, i) => v * mask[i % 256]),
      );
      scores[k] = ((await model.run({ input: masked })).logits.data as Float32Array)[target.index];
    }
    assertNear(weights, softmax(scores), 1e-6, 'scorecam weights');
  });

  it("Score-CAM's mask is the upsampled channel min-max scaled over its values, bit for bit; a NaN makes it all NaN", () => {
    const [h, w] = [5, 7];
    const values = randomTensor([1, 3, h, w], 41, 2).data as Float32Array;
    values.fill(0.25, h * w, 2 * h * w);
    values[2 * h * w + 4] = NaN;
    const activations = float32([1, 3, h, w], values);
    for (let k = 0; k < 3; k++) {
      const up = resizeBilinearAlignCorners(values.subarray(k * h * w, (k + 1) * h * w), h, w, 16, 20);
      const [min, max] = [up.reduce((m, v) => Math.min(m, v), Infinity), up.reduce((m, v) => Math.max(m, v), -Infinity)];
      const expected = up.map((v) => (v - min) / (max - min + 1e-8));
      assert.deepStrictEqual([...scoreCamMask(activations, k, [16, 20])], [...expected], `channel ${k}`);
    }
    assert.ok(scoreCamMask(activations, 2, [16, 20]).every(Number.isNaN));
  });

  after(() => model.dispose());
});

/**
 * A network-in-network head like squeezenet's: 'features' (Relu'd, or not: negative values) feeds
 * only a 1×1 convolution to the classes, then Relu → GlobalAveragePool → Flatten.
 */
function pointwiseHeadCnn(relu: boolean): ConvModel {
  const [c, classes] = [6, 5];
  return buildModel({
    nodes: [
      node('Conv', ['input', 'w1', 'b1'], ['conv1'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), ints('strides', [2, 2])]),
      ...(relu ? [node('Relu', ['conv1'], ['features'])] : [node('Identity', ['conv1'], ['features'])]),
      node('Conv', ['features', 'w2', 'b2'], ['classifier'], [ints('kernel_shape', [1, 1])]),
      // A tensor named like one the rank-one front adds: the front must pick other names.
      node('Relu', ['classifier'], ['ablation_sum']),
      node('GlobalAveragePool', ['ablation_sum'], ['pooled']),
      node('Flatten', ['pooled'], ['logits'], [int('axis', 1)]),
    ],
    initializers: {
      w1: randomTensor([c, 3, 3, 3], 21, 0.5),
      b1: randomTensor([c], 22, 0.2),
      w2: randomTensor([classes, c, 1, 1], 23, 1),
      b2: randomTensor([classes], 24, 0.5),
    },
    input: ['N', 3, 12, 12],
    output: ['N', classes],
  });
}

/**
 * Brute force: Ablation-CAM's raw map at the layer 'features' of a model with output 'logits', from
 * each channel of the layer ablated in turn (to 0 where its minimum is 0, else min − 1e7) and the
 * whole network after it run. Checks that the layer has negative values exactly when `relu` is false.
 */
async function ablatingEveryChannel(model: ConvModel, input: Tensor, targetIndex: number, relu: boolean): Promise<Float32Array> {
  const full = await model.run({ input }, ['features']);
  const activations = full.features;
  const a = activations.data as Float32Array;
  const min = Math.min(...a);
  assert.strictEqual(min === 0, relu, 'the layer has negative values exactly when it is not Relu’d');
  const value = min === 0 ? 0 : min - 1e7;
  const original = (full.logits.data as Float32Array)[targetIndex];
  const sub = modelAfter(model.proto, 'features', 'logits', activations.dims);
  const session = await model.session('test-brute-force-after', () => sub.proto);
  const [, c, h, w] = activations.dims;
  const weights = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    const ablated = Float32Array.from(a).fill(value, k * h * w, (k + 1) * h * w);
    const out = await run(session, { features: float32(activations.dims, ablated) }, ['logits']);
    weights[k] = (original - (out.logits.data as Float32Array)[targetIndex]) / original;
  }
  return weightedChannelSum(activations, weights).data as Float32Array;
}

describe('Ablation-CAM through a 1×1 convolution after the layer', () => {
  for (const relu of [true, false]) {
    it(`equals ablating the layer itself (${relu ? 'ablated to 0' : 'negative activations, ablated to min − 1e7'})`, async () => {
      const model = pointwiseHeadCnn(relu);
      try {
        const input = randomTensor([1, 3, 12, 12], 9, 2);
        const target = { kind: 'class' as const, index: 1 };
        const e = await explain('ablationcam', { model, input, target, layer: 'features' }, { batch: 4 });
        assert.ok(
          e.notes.some((n) => n.includes("only consumer 'classifier' is a 1×1 convolution") && n.includes('only the 3 nodes after it run')),
          e.notes.join('; '),
        );
        // Float32 rounding of scores of size up to 1e7 (min − 1e7) in both computations.
        assertNear(e.raw.data as Float32Array, await ablatingEveryChannel(model, input, target.index, relu), relu ? 1e-6 : 1e-5, 'ablationcam');
      } finally {
        model.dispose();
      }
    });
  }
});

/** How a classifier pools the layer before its linear layer. */
type Pooling = 'GlobalAveragePool' | 'ReduceMean, axes attribute, keepdims 0' | 'ReduceMean, axes input, keepdims 1';

/** 'features' (Relu'd, or not: negative values) feeds only a global average, then a linear layer to the classes. */
function pooledHeadCnn(relu: boolean, pooling: Pooling): ConvModel {
  const [c, classes] = [6, 5];
  const pool =
    pooling === 'GlobalAveragePool'
      ? [node('GlobalAveragePool', ['features'], ['pooled']), node('Flatten', ['pooled'], ['flat'], [int('axis', 1)])]
      : pooling === 'ReduceMean, axes attribute, keepdims 0'
        ? [node('ReduceMean', ['features'], ['flat'], [ints('axes', [-1, 2]), int('keepdims', 0)])]
        : [node('ReduceMean', ['features', 'axes'], ['pooled'], [int('keepdims', 1)]), node('Flatten', ['pooled'], ['flat'], [int('axis', 1)])];
  return buildModel({
    nodes: [
      node('Conv', ['input', 'w1', 'b1'], ['conv1'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), ints('strides', [2, 2])]),
      ...(relu ? [node('Relu', ['conv1'], ['features'])] : [node('Identity', ['conv1'], ['features'])]),
      ...pool,
      node('Gemm', ['flat', 'w2', 'b2'], ['logits'], [int('transB', 1)]),
    ],
    initializers: {
      w1: randomTensor([c, 3, 3, 3], 31, 0.5),
      b1: randomTensor([c], 32, 0.2),
      w2: randomTensor([classes, c], 33, 1),
      b2: randomTensor([classes], 34, 0.5),
      ...(pooling === 'ReduceMean, axes input, keepdims 1' ? { axes: { dtype: 'int64', dims: [2], data: BigInt64Array.from([2n, 3n]) } as Tensor } : {}),
    },
    input: ['N', 3, 12, 12],
    output: ['N', classes],
    opset: pooling === 'ReduceMean, axes input, keepdims 1' ? 18 : 13,
  });
}

describe('Ablation-CAM through a global average after the layer', () => {
  const poolings: Pooling[] = ['GlobalAveragePool', 'ReduceMean, axes attribute, keepdims 0', 'ReduceMean, axes input, keepdims 1'];
  for (const pooling of poolings) {
    for (const relu of [true, false]) {
      it(`${pooling}: equals ablating the layer itself (${relu ? 'ablated to 0' : 'negative activations, ablated to min − 1e7'})`, async () => {
        const model = pooledHeadCnn(relu, pooling);
        try {
          const input = randomTensor([1, 3, 12, 12], 19, 2);
          const target = { kind: 'class' as const, index: 2 };
          const e = await explain('ablationcam', { model, input, target, layer: 'features' }, { batch: 4 });
          // Only the linear layer (and a Flatten, where the average kept its axes) runs.
          const after = pooling === 'ReduceMean, axes attribute, keepdims 0' ? 1 : 2;
          assert.ok(
            e.notes.some((n) => n.includes('averages each channel over its positions') && n.includes(`only the ${after} nodes after it run`)),
            e.notes.join('; '),
          );
          // The runtime averages a channel of min − 1e7 to within float32 rounding of that value,
          // and scores of size up to 1e7 round in both computations. The method's activations
          // come from a session made for its one run, whose convolution kernels round otherwise
          // than the full session's the brute force reads (up to 1e-5 of an activation here); the
          // weights, differences of close scores, amplify that to 2e-5 of the map's scale.
          assertNear(e.raw.data as Float32Array, await ablatingEveryChannel(model, input, target.index, relu), 1e-4, 'ablationcam');
        } finally {
          model.dispose();
        }
      });
    }
  }
});
