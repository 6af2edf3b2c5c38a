import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConvModel } from '../../src/core/model';
import { UnknownTensorError } from '../../src/core/onnx/surgery';
import { CancelledError } from '../../src/core/cancel';
import { FloatTensor } from '../../src/core/tensor';
import { channelGallery, FeatureVisualizationError, objectiveValues, visualizeFeature, visualizeFeatures } from '../../src/core/inside/activation-maximization';
import { firstLayerKernels, kernelMontage } from '../../src/core/inside/kernels';
import { describeSample, SAMPLE_MODEL, sampleImages, sampleNormalization } from './inside-sample';

const LAYER = '/block4/relu/Relu_output_0';

describeSample('feature visualisation by activation maximisation on the sample model', () => {
  let model: ConvModel;
  let dataset: FloatTensor;
  before(() => {
    model = ConvModel.load(SAMPLE_MODEL, { provider: 'cpu' });
    dataset = sampleImages();
  });
  after(() => model.dispose());

  it('drives each of 4 channels of the last conv layer to at least 2× its maximum over the 160 test images (48 steps)', async () => {
    const objectives = [0, 1, 2, 3].map((channel) => ({ kind: 'channel' as const, tensor: LAYER, channel }));
    const progress: number[] = [];
    const results = await visualizeFeatures(model, objectives, { steps: 48, normalize: sampleNormalization(), seed: 0, progress: (f) => progress.push(f) });
    for (const r of results) {
      const onDataset = Math.max(...(await objectiveValues(model, r.objective, dataset)));
      assert.ok(r.activation >= 2 * onDataset, `channel ${(r.objective as { channel: number }).channel}: ${r.activation} < 2 × ${onDataset}`);
      assert.deepStrictEqual(r.image.dims, [3, 64, 64]);
      assert.ok(r.image.data.every((v) => v > 0 && v < 1));
      assert.strictEqual(r.history.length, 48);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      assert.ok(mean(r.history.slice(-5)) > mean(r.history.slice(0, 5)), 'the objective rose during the optimisation');
    }
    assert.strictEqual(progress[progress.length - 1], 1);
  });

  it('raises a class logit above every test image of that class (star, 32 steps)', async () => {
    const star = await visualizeFeature(model, { kind: 'class', index: 2 }, { steps: 32, normalize: sampleNormalization() });
    const logits = await objectiveValues(model, { kind: 'class', index: 2 }, dataset);
    assert.ok(star.activation > Math.max(...logits), `${star.activation} ≤ ${Math.max(...logits)}`);
  });

  it('is seeded, and stops with CancelledError when its signal is aborted', async () => {
    const options = { steps: 3, normalize: sampleNormalization(), seed: 9 };
    const a = await visualizeFeature(model, { kind: 'neuron', tensor: LAYER, channel: 5 }, options);
    const b = await visualizeFeature(model, { kind: 'neuron', tensor: LAYER, channel: 5 }, options);
    assert.deepStrictEqual(a.image.data, b.image.data);
    const controller = new AbortController();
    await assert.rejects(
      visualizeFeature(model, { kind: 'channel', tensor: LAYER, channel: 0 }, { ...options, steps: 50, signal: controller.signal, progress: () => controller.abort() }),
      CancelledError,
    );
  });

  it('caches a layer gallery: a second call computes nothing and returns the same images', async () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-inside-'));
    try {
      const options = { channels: [3, 7], steps: 2, normalize: sampleNormalization(), cacheDir };
      const first = await channelGallery(model, LAYER, options);
      let steps = 0;
      const second = await channelGallery(model, LAYER, { ...options, progress: () => steps++ });
      assert.strictEqual(steps, 0);
      assert.deepStrictEqual(
        second.map((r) => [r.objective, r.activation, Array.from(r.image.data)]),
        first.map((r) => [r.objective, r.activation, Array.from(r.image.data)]),
      );
      assert.strictEqual(fs.readdirSync(path.join(cacheDir, 'feature-visualization')).length, 4);
      // Other settings are another entry.
      await channelGallery(model, LAYER, { ...options, channels: [3], seed: 1 });
      assert.strictEqual(fs.readdirSync(path.join(cacheDir, 'feature-visualization')).length, 6);
    } finally {
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it('says clearly when the objective does not exist', async () => {
    await assert.rejects(
      visualizeFeature(model, { kind: 'channel', tensor: LAYER, channel: 64 }, { steps: 1 }),
      (err: Error) => err instanceof FeatureVisualizationError && /channel 64 does not exist in '\/block4\/relu\/Relu_output_0' \(64 channels\)/.test(err.message),
    );
    await assert.rejects(visualizeFeature(model, { kind: 'channel', tensor: '/block4/relu/Relu', channel: 0 }, { steps: 1 }), UnknownTensorError);
  });

  it("draws the first layer's 16 RGB 3×3 kernels, each scaled to [0, 1], and lays them out 4 × 4", () => {
    const { node, kernels, rgb } = firstLayerKernels(model);
    assert.strictEqual(node, '/conv1/Conv');
    assert.strictEqual(rgb, true);
    assert.strictEqual(kernels.length, 16);
    for (const k of kernels) {
      assert.deepStrictEqual(k.dims, [3, 3, 3]);
      assert.strictEqual(Math.min(...k.data), 0);
      assert.strictEqual(Math.max(...k.data), 1);
    }
    // 4 kernels of 3·4 pixels and 3 gaps of 1 per side.
    const montage = kernelMontage(kernels, { zoom: 4, gap: 1 });
    assert.deepStrictEqual(montage.dims, [3, 51, 51]);
    assert.strictEqual(montage.data[(0 * 51 + 13) * 51 + 0], kernels[4].data[0]);
  });
});
