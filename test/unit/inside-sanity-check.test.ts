import * as assert from 'assert';
import { ConvModel } from '../../src/core/model';
import { tensorFromProto } from '../../src/core/onnx/initializers';
import { FloatTensor, float32 } from '../../src/core/tensor';
import { cascadingRandomization, explanationMaps, randomizeLayers, weightedLayers } from '../../src/core/inside/sanity-check';
import { SAMPLE_MODEL, describeSample, sampleImages } from './inside-sample';

function weightOf(model: ConvModel | { proto: ConvModel['proto'] }, name: string): Float32Array {
  const t = model.proto.graph!.initializer!.find((i) => i.name === name)!;
  return tensorFromProto(t).data as Float32Array;
}

function std(values: Float32Array): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
}

/** Sobel gradient magnitude of image i summed over channels: an "explanation" that never looks at the model. */
function edges(inputs: FloatTensor, i: number): FloatTensor {
  const [, channels, h, w] = inputs.dims;
  const input = float32([1, channels, h, w], inputs.data.slice(i * channels * h * w, (i + 1) * channels * h * w));
  const map = float32([h, w]);
  const at = (c: number, y: number, x: number) => input.data[(c * h + Math.min(h - 1, Math.max(0, y))) * w + Math.min(w - 1, Math.max(0, x))];
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const gx = at(c, y - 1, x + 1) + 2 * at(c, y, x + 1) + at(c, y + 1, x + 1) - at(c, y - 1, x - 1) - 2 * at(c, y, x - 1) - at(c, y + 1, x - 1);
        const gy = at(c, y + 1, x - 1) + 2 * at(c, y + 1, x) + at(c, y + 1, x + 1) - at(c, y - 1, x - 1) - 2 * at(c, y - 1, x) - at(c, y - 1, x + 1);
        map.data[y * w + x] += Math.hypot(gx, gy);
      }
    }
  }
  return map;
}

describeSample('model-parameter randomisation test (Adebayo et al. 2018) on the sample model', () => {
  let model: ConvModel;
  let inputs: FloatTensor;
  before(() => {
    model = ConvModel.load(SAMPLE_MODEL, { provider: 'cpu' });
    // Two test images of each class, each explained for the trained model's top class.
    inputs = sampleImages(2);
  });
  after(() => model.dispose());

  it('lists the weighted layers in execution order', () => {
    assert.deepStrictEqual(
      weightedLayers(model.graph).map((l) => l.node),
      ['/conv1/Conv', '/block2/conv/Conv', '/block3/conv/Conv', '/block4/conv/Conv', '/head/Gemm'],
    );
  });

  it('re-draws weights with the trained std, seeded, leaving other layers untouched', () => {
    const [conv1, , , , head] = weightedLayers(model.graph);
    const randomized = { proto: randomizeLayers(model.proto, [head], { seed: 5 }) };
    const again = { proto: randomizeLayers(model.proto, [head], { seed: 5 }) };
    const zeroBias = { proto: randomizeLayers(model.proto, [head], { seed: 5, biases: 'zero' }) };
    const trained = weightOf(model, 'head.weight');
    const redrawn = weightOf(randomized, 'head.weight');
    assert.notDeepStrictEqual(redrawn, trained);
    assert.deepStrictEqual(redrawn, weightOf(again, 'head.weight'));
    // 256 draws: the sample std is within 25% of the trained one.
    assert.ok(Math.abs(std(redrawn) / std(trained) - 1) < 0.25, `std ${std(redrawn)} vs ${std(trained)}`);
    assert.deepStrictEqual(Array.from(weightOf(zeroBias, 'head.bias')), [0, 0, 0, 0]);
    assert.deepStrictEqual(weightOf(randomized, conv1.weight), weightOf(model, conv1.weight));
  });

  for (const method of ['gradcam', 'saliency']) {
    it(`${method} from the explanation methods: mean rank correlation over 8 images falls below the 0.5 threshold with every layer random`, async () => {
      const single = Array.from({ length: 8 }, (_, i) => float32([1, 3, 64, 64], inputs.data.slice(i * 3 * 64 * 64, (i + 1) * 3 * 64 * 64)));
      const result = await cascadingRandomization(model, explanationMaps(method, single), { seed: 1 });
      assert.deepStrictEqual(
        result.steps.map((s) => s.layer),
        ['/head/Gemm', '/block4/conv/Conv', '/block3/conv/Conv', '/block2/conv/Conv', '/conv1/Conv'],
      );
      assert.strictEqual(result.steps[0].perInput.length, 8);
      assert.ok(result.finalSpearman < 0.5, `final mean rank correlation ${result.finalSpearman}`);
      assert.ok(result.finalSpearman < result.steps[0].spearman, `the correlation falls from ${result.steps[0].spearman} to ${result.finalSpearman} as more layers are random`);
      assert.strictEqual(result.passed, true);
    });
  }

  it('flags a map that ignores the model (input edges) as not explaining the model', async () => {
    const result = await cascadingRandomization(model, async () => Array.from({ length: 8 }, (_, i) => edges(inputs, i)));
    assert.ok(result.steps.every((s) => Math.abs(s.spearman - 1) < 1e-12 && Math.abs(s.ssim - 1) < 1e-12));
    assert.strictEqual(result.passed, false);
    assert.match(result.verdict, /^not explaining the model: .* 1\.000 > 0\.5/);
  });
  it('cancels within an explanation, not only between randomisation steps', async () => {
    const controller = new AbortController();
    let runs = 0;
    const counted = ConvModel.load(SAMPLE_MODEL, { provider: 'cpu' });
    const run = counted.run.bind(counted);
    counted.run = (feeds, extra) => {
      if (++runs === 2) controller.abort();
      return run(feeds, extra);
    };
    try {
      const input = float32([1, ...inputs.dims.slice(1)], inputs.data.slice(0, inputs.data.length / inputs.dims[0]));
      // RISE with 4000 masks in batches of 8 takes 500 runs for the trained model alone.
      const maps = explanationMaps('rise', [input], { methodOptions: { masks: 4000, batch: 8 }, signal: controller.signal });
      await assert.rejects(cascadingRandomization(counted, maps, { signal: controller.signal }), (err: Error) => err.name === 'CancelledError');
      assert.ok(runs <= 3, `stopped after ${runs} runs`);
    } finally {
      await counted.dispose();
    }
  });
});
