// Properties of the gradient and CAM methods on tiny CNNs built in code: Integrated Gradients'
// completeness, exact answers on a linear model, CAM = Grad-CAM × h·w on a pooled linear head,
// difference targets, Ablation-CAM's sub-model with a skip connection, cancellation.
import * as assert from 'assert';
import { explain } from '../../../src/core/explain';
import { eigenCamRaw } from '../../../src/core/explain/eigencam';
import { modelAfter } from '../../../src/core/explain/submodel';
import { ExplainContext } from '../../../src/core/explain/types';
import { ConvModel } from '../../../src/core/model';
import { encodeModel } from '../../../src/core/onnx/proto';
import { CancelledError } from '../../../src/core/cancel';
import { run } from '../../../src/core/onnx/session';
import { resizeBilinear } from '../../../src/core/image/resize';
import { float32 } from '../../../src/core/tensor';
import { linearModel, randomTensor, skipCnn, tinyCnn } from './tiny-models';

function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]));
  return m;
}

function assertNear(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, what: string): void {
  assert.strictEqual(actual.length, expected.length, `${what}: length`);
  const tol = rtol * maxAbs(expected);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

describe('explain: gradient methods on a linear model', () => {
  const weights = randomTensor([3, 3 * 8 * 8], 21);
  const model = linearModel(weights, [3, 8, 8]);
  const input = randomTensor([1, 3, 8, 8], 22, 2);
  const ctx: ExplainContext = { model, input, target: { kind: 'class', index: 1 } };
  const row = (weights.data as Float32Array).subarray(192, 384);
  after(() => model.dispose());

  it('saliency, smoothgrad and guided-backprop give the weights; input-x-gradient and IG give w·x', async () => {
    assertNear((await explain('saliency', ctx)).raw.data as Float32Array, row, 1e-6, 'saliency');
    assertNear((await explain('smoothgrad', ctx, { samples: 5, stdev: 0.5, batch: 2 })).raw.data as Float32Array, row, 1e-5, 'smoothgrad');
    assertNear((await explain('guided-backprop', ctx)).raw.data as Float32Array, row, 1e-6, 'guided-backprop');
    const wx = row.map((w, i) => w * (input.data as Float32Array)[i]);
    assertNear((await explain('input-x-gradient', ctx)).raw.data as Float32Array, wx, 1e-6, 'input-x-gradient');
    // Step sizes sum to 1 for Gauss–Legendre (to (n−1)/n for the trapezoid, as Captum).
    assertNear((await explain('integrated-gradients', ctx, { steps: 4 })).raw.data as Float32Array, wx, 1e-5, 'integrated-gradients');
  });

  it('a difference target explains logit a − logit b', async () => {
    const e = await explain('saliency', { ...ctx, target: { kind: 'difference', a: 2, b: 0 } });
    const w = weights.data as Float32Array;
    assertNear(
      e.raw.data as Float32Array,
      Array.from({ length: 192 }, (_, i) => w[384 + i] - w[i]),
      1e-6,
      'a − b',
    );
    assert.deepStrictEqual(e.target, { kind: 'difference', a: 2, b: 0, output: 'logits' });
  });

  it("'top' resolves to the largest logit, and bad targets are refused with one sentence", async () => {
    const logits = (await model.run({ input })).logits.data as Float32Array;
    const top = logits.indexOf(Math.max(...logits));
    const e = await explain('saliency', { ...ctx, target: { kind: 'class', index: 'top' } });
    assert.deepStrictEqual(e.target, { kind: 'class', index: top, output: 'logits' });
    await assert.rejects(explain('saliency', { ...ctx, target: { kind: 'class', index: 3 } }), /class 3 is out of range: output 'logits' has 3 scores per image \(0 to 2\)/);
    await assert.rejects(explain('saliency', { ...ctx, target: { kind: 'class', index: 0, output: 'probs' } }), /no output named 'probs'; its outputs are 'logits'/);
    await assert.rejects(
      explain('saliency', { ...ctx, input: randomTensor([2, 3, 8, 8], 1) }),
      /one input as a float32 tensor \[1, C, L\] \(signal\), \[1, C, H, W\] \(image\) or \[1, C, T, H, W\] \(video\); got float32 \[2, 3, 8, 8\]/,
    );
  });
});

describe('explain: Integrated Gradients completeness on a small ReLU CNN', () => {
  const model = tinyCnn(31);
  after(() => model.dispose());

  // Gauss–Legendre steps sum to 1; Captum's trapezoid steps sum to (n − 1)/n, which alone leaves a 1/n gap.
  it('Σ attributions = f(x) − f(baseline) within 0.1% with 256 Gauss–Legendre steps, for 0 and a tensor baseline', async () => {
    const input = randomTensor([1, 3, 16, 16], 32, 1.5);
    for (const baseline of [0, randomTensor([1, 3, 16, 16], 33, 0.3)]) {
      const e = await explain('integrated-gradients', { model, input, target: { kind: 'class', index: 3 } }, { steps: 256, method: 'gausslegendre', baseline, batch: 64 });
      const { attributionSum, scoreGain, convergenceDelta } = e.metrics!;
      const sum = (e.raw.data as Float32Array).reduce((s, v) => s + v, 0);
      assert.ok(Math.abs(sum - attributionSum) < 1e-6 * Math.abs(sum) + 1e-9);
      assert.ok(Math.abs(scoreGain) > 0.5, 'the test needs a score change to explain');
      assert.ok(Math.abs(convergenceDelta) <= 1e-3 * Math.abs(scoreGain), `delta ${convergenceDelta} for gain ${scoreGain}`);
    }
  });

  it('scores the input and the baseline in its gradient runs where no forward session is open, as the forward session does', async () => {
    const input = randomTensor([1, 3, 16, 16], 36, 1.5);
    const options = { steps: 6, method: 'gausslegendre', batch: 4 };
    for (const target of [{ kind: 'class', index: 2 } as const, { kind: 'class', index: 'top' } as const]) {
      const fresh = ConvModel.fromBytes(encodeModel(model.proto));
      const opened = ConvModel.fromBytes(encodeModel(model.proto));
      try {
        const messages: string[] = [];
        const progress = (_f: number, message: string) => messages.push(message);
        const e = await explain('integrated-gradients', { model: fresh, input, target, progress }, options);
        assert.strictEqual(await fresh.baseSessionOpen(), false, 'no forward session was made');
        // 'top' was resolved by a run on the input, which gave its score: only the baseline is added.
        const added = target.index === 'top' ? 1 : 2;
        assert.deepStrictEqual(messages, [
          `integrated-gradients: path points and endpoints: 4/${6 + added}`,
          `integrated-gradients: path points and endpoints: ${6 + added}/${6 + added}`,
        ]);
        await opened.run({ input });
        const expected = await explain('integrated-gradients', { model: opened, input, target }, options);
        const scores = (await opened.run({ input })).logits.data as Float32Array;
        const atBaseline = (await opened.run({ input: float32(input.dims) })).logits.data as Float32Array;
        const index = expected.target.kind === 'class' ? expected.target.index : -1;
        // The gradient graph computes the logits with other kernels and fusions than the forward
        // session: float32 rounding apart, 1e-5 of the logit.
        assert.ok(Math.abs(e.metrics!.scoreGain - (scores[index] - atBaseline[index])) <= 1e-5 * Math.abs(scores[index]), `gain ${e.metrics!.scoreGain}`);
        assert.ok(Math.abs(e.metrics!.scoreGain - expected.metrics!.scoreGain) <= 1e-5 * Math.abs(scores[index]));
        assertNear(e.raw.data as Float32Array, expected.raw.data as Float32Array, 1e-6, 'the attribution');
      } finally {
        await Promise.all([fresh.dispose(), opened.dispose()]);
      }
    }
  });

  it('batches path points as the activation limit allows, evenly, with the same result', async () => {
    // The tiny CNN keeps ~16 KiB of activations per 16×16 input, counted twice: 0.1 MiB fits 3.
    const limited = ConvModel.fromBytes(encodeModel(model.proto), { activationMemory: { maxMegabytes: 0.1 } });
    try {
      const input = randomTensor([1, 3, 16, 16], 35);
      const sizes: number[] = [];
      const progress = (_f: number, message: string) => sizes.push(Number(/(\d+)\/10$/.exec(message)?.[1]));
      const batched = await explain('integrated-gradients', { model: limited, input, target: { kind: 'class', index: 1 }, progress }, { steps: 8 });
      // 8 path points and the input and the baseline for their scores (no forward session is open).
      assert.deepStrictEqual(sizes, [3, 6, 9, 10]);
      const single = await explain('integrated-gradients', { model, input, target: { kind: 'class', index: 1 } }, { steps: 8, batch: 1 });
      assertNear(batched.raw.data as Float32Array, single.raw.data as Float32Array, 1e-5, 'integrated-gradients');
    } finally {
      await limited.dispose();
    }
  });

  it('stops with CancelledError when the signal is aborted between batches', async () => {
    const controller = new AbortController();
    const ctx: ExplainContext = {
      model,
      input: randomTensor([1, 3, 16, 16], 34),
      target: { kind: 'class', index: 0 },
      signal: controller.signal,
      progress: (f) => f > 0 && controller.abort(),
    };
    await assert.rejects(explain('integrated-gradients', ctx, { steps: 32, batch: 4 }), CancelledError);
    await assert.rejects(explain('smoothgrad', ctx, { samples: 8, batch: 2 }), CancelledError);
  });
});

describe('explain: CAM methods on a small CNN', () => {
  const model = tinyCnn(41);
  const input = randomTensor([1, 3, 16, 16], 42, 1.5);
  after(() => model.dispose());

  it("layer 'auto' is the activation before global pooling; CAM = Grad-CAM × h·w there", async () => {
    const ctx: ExplainContext = { model, input, target: { kind: 'class', index: 1 } };
    const grad = await explain('gradcam', ctx);
    const cam = await explain('cam', ctx);
    assert.strictEqual(grad.layer, 'features');
    assert.ok(grad.notes[0].startsWith("layer 'auto': 'features' [1, 8, 8, 8]"), grad.notes[0]);
    assertNear(
      cam.raw.data as Float32Array,
      (grad.raw.data as Float32Array).map((v) => v * 64),
      1e-5,
      'CAM vs Grad-CAM',
    );
    assert.deepStrictEqual(cam.map.dims, [16, 16]);
  });

  it('a difference target gives Grad-CAM(a) − Grad-CAM(b) (Grad-CAM is linear in the seed)', async () => {
    const at = (index: number) => explain('gradcam', { model, input, target: { kind: 'class', index } });
    const [a, b] = [await at(3), await at(0)];
    const diff = await explain('gradcam', { model, input, target: { kind: 'difference', a: 3, b: 0 } });
    assertNear(
      diff.raw.data as Float32Array,
      (a.raw.data as Float32Array).map((v, i) => v - (b.raw.data as Float32Array)[i]),
      1e-5,
      'difference',
    );
  });

  it('a difference target draws its map signed: no ReLU, negative where class b dominates', async () => {
    const single = await explain('gradcam', { model, input, target: { kind: 'class', index: 3 } });
    const diff = await explain('gradcam', { model, input, target: { kind: 'difference', a: 3, b: 0 } });
    assert.strictEqual(diff.signed, true);
    assert.strictEqual(single.signed, undefined);
    assert.ok(
      diff.notes.some((n) => n.startsWith('map: signed')),
      diff.notes.join('\n'),
    );
    // map = up(raw) / max|up(raw)| (camToSignedMap); the raw CAM is 8×8 at 'features', the input 16×16.
    const raw = diff.raw.data as Float32Array;
    const up = resizeBilinear(raw, 8, 8, 16, 16);
    const max = maxAbs(up);
    // Float32 division, and the 1e-7 guard in the denominator: a few ulps of 1.
    assertNear(
      diff.map.data as Float32Array,
      up.map((v) => v / max),
      1e-5,
      'signed map',
    );
    const map = diff.map.data as Float32Array;
    // This model and input have cells where each class wins: the map keeps both signs.
    assert.ok(raw.some((v) => v < 0) && raw.some((v) => v > 0), 'raw CAM of a − b has both signs');
    assert.ok(Math.min(...map) < -0.05 && Math.max(...map) > 0.05, `map range ${Math.min(...map)} … ${Math.max(...map)}`);
    assert.ok(Math.abs(maxAbs(map) - 1) < 1e-5, 'largest |value| is 1');
    // Where b dominates (its raw cell negative, all four neighbours too) the map is negative at that cell's centre pixels.
    for (let y = 1; y < 7; y++)
      for (let x = 1; x < 7; x++) {
        const cell = [raw[y * 8 + x], raw[(y - 1) * 8 + x], raw[(y + 1) * 8 + x], raw[y * 8 + x - 1], raw[y * 8 + x + 1]];
        if (cell.every((v) => v < 0)) assert.ok(map[2 * y * 16 + 2 * x] < 0, `cell (${y}, ${x})`);
      }
    // A plain class map keeps pytorch-grad-cam's ReLU and min-max: [0, 1].
    assert.ok(Math.min(...(single.map.data as Float32Array)) >= 0);
    // Eigen-CAM does not depend on the target: no contrast, no sign.
    assert.strictEqual((await explain('eigencam', { model, input, target: { kind: 'difference', a: 3, b: 0 } })).signed, undefined);
  });

  it('names an unknown layer with near names, and refuses one without spatial axes', async () => {
    await assert.rejects(explain('gradcam', { model, input, target: { kind: 'class', index: 0 }, layer: 'featurs' }), /no tensor named 'featurs'.*did you mean 'features'/);
    await assert.rejects(
      explain('gradcam', { model, input, target: { kind: 'class', index: 0 }, layer: 'flat' }),
      /layer 'flat' \[1, 8\] cannot be laid over the input \[1, 3, 16, 16\]/,
    );
  });

  it('scorecam gives the same weights batched and one at a time', async () => {
    const ctx: ExplainContext = { model, input, target: { kind: 'class', index: 2 } };
    const [one, many] = [await explain('scorecam', ctx, { batch: 1 }), await explain('scorecam', ctx, { batch: 5 })];
    assertNear(many.raw.data as Float32Array, one.raw.data as Float32Array, 1e-5, 'scorecam');
  });

  it('eigencam of activations that are one pattern times channel gains is that pattern', async () => {
    const pattern = Array.from({ length: 9 }, (_, i) => Math.sin(i) + 2);
    const a = float32([1, 4, 3, 3]);
    [0.5, 1, 2, -1].forEach((g, k) => pattern.forEach((p, i) => (a.data[k * 9 + i] = g * p)));
    const mean = pattern.reduce((s, v) => s + v, 0) / 9;
    const raw = eigenCamRaw(a).data as Float32Array;
    const ratio = raw[0] / (pattern[0] - mean);
    assertNear(
      raw,
      pattern.map((p) => ratio * (p - mean)),
      1e-5,
      'eigencam',
    );
    assert.ok(ratio > 0, 'oriented with the summed activation');
  });
});

describe('explain: Ablation-CAM through the network after the layer', () => {
  const model = skipCnn(51);
  const input = randomTensor([1, 3, 12, 12], 52, 1.5);
  after(() => model.dispose());

  it('cuts the model at the layer, feeding the skip branch computed before it as an extra input', async () => {
    const sub = modelAfter(model.proto, 'features', 'logits', [1, 5, 12, 12]);
    assert.deepStrictEqual(sub.extraInputs, ['skip']);
    assert.strictEqual(sub.nodeCount, 6);
    const full = await model.run({ input }, ['features', 'skip']);
    const session = await model.session('test-after', () => sub.proto);
    const out = await run(session, { features: full.features, skip: full.skip }, ['logits']);
    assertNear(out.logits.data as Float32Array, full.logits.data as Float32Array, 1e-6, 'sub-model logits');
  });

  it('weights each channel by its relative score drop, the same in batches and one at a time', async () => {
    const ctx: ExplainContext = { model, input, target: { kind: 'class', index: 1 }, layer: 'features' };
    const [one, many] = [await explain('ablationcam', ctx, { batch: 1 }), await explain('ablationcam', ctx, { batch: 4 })];
    assertNear(many.raw.data as Float32Array, one.raw.data as Float32Array, 1e-5, 'ablationcam');
    assert.ok(one.notes.some((n) => n.includes("with 'skip' fed from the network before the layer")));
  });
});

describe("explain: a 'top' target is found in the run each method makes anyway", () => {
  const model = tinyCnn(41);
  const input = randomTensor([1, 3, 16, 16], 42, 2);
  after(() => model.dispose());

  const METHODS: [string, Record<string, number | string | number[]>][] = [
    ['cam', {}],
    ['gradcam', {}],
    ['gradcam++', {}],
    ['hirescam', {}],
    ['eigencam', {}],
    ['scorecam', {}],
    ['ablationcam', {}],
    ['saliency', {}],
    ['input-x-gradient', {}],
    ['guided-backprop', {}],
    ['guided-gradcam', {}],
    ['integrated-gradients', { steps: 4, method: 'riemann_trapezoid' }],
    ['occlusion', { window: [4], strides: [4] }],
  ];
  for (const [method, options] of METHODS) {
    it(`${method}: 'top' gives the largest logit's class and the same result as that class`, async () => {
      const logits = (await model.run({ input })).logits.data as Float32Array;
      const top = logits.indexOf(Math.max(...logits));
      const byTop = await explain(method, { model, input, target: { kind: 'class', index: 'top' } }, options);
      const byIndex = await explain(method, { model, input, target: { kind: 'class', index: top } }, options);
      assert.deepStrictEqual(byTop.target, { kind: 'class', index: top, output: 'logits' });
      assertNear(byTop.raw.data as Float32Array, byIndex.raw.data as Float32Array, 1e-6, method);
    });
  }

  const GRADIENT_RUNS: [string, Record<string, number | string>][] = [
    ['integrated-gradients', { steps: 4, method: 'riemann_trapezoid' }],
    ['smoothgrad', { samples: 3 }],
  ];
  for (const [method, options] of GRADIENT_RUNS) {
    it(`${method}: on a freshly opened model, 'top' is found in a gradient run, with no forward session, and gives that class's result`, async () => {
      const fresh = tinyCnn(41);
      try {
        const byTop = await explain(method, { model: fresh, input, target: { kind: 'class', index: 'top' } }, options);
        assert.strictEqual(await fresh.baseSessionOpen(), false, 'no forward session was made');
        const logits = (await fresh.run({ input })).logits.data as Float32Array;
        const top = logits.indexOf(Math.max(...logits));
        assert.deepStrictEqual(byTop.target, { kind: 'class', index: top, output: 'logits' });
        const byIndex = await explain(method, { model: fresh, input, target: { kind: 'class', index: top } }, options);
        assertNear(byTop.raw.data as Float32Array, byIndex.raw.data as Float32Array, 1e-6, method);
      } finally {
        await fresh.dispose();
      }
    });
  }
});
