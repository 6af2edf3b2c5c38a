// The activation memory limit: layers copied out of a run are refused before it starts when over
// the limit (with the limit and how to raise it), shape probes and dataset batches shrink to fit,
// and the limit reaches the worker from the settings and the CLI from its flag.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { ActivationMemoryError } from '../../src/core/activation-memory';
import { computeGradients } from '../../src/core/autodiff/gradients';
import { probeShapeSets } from '../../src/core/autodiff/shapes';
import { extractFeatures } from '../../src/core/dataset/features';
import { ConvModel } from '../../src/core/model';
import { ComputeClient } from '../../src/compute/client';
import { Tensor } from '../../src/core/tensor';

const ROOT = path.resolve(__dirname, '../../..');
const MODEL = path.join(ROOT, 'sample/shapes.onnx');
const IMAGE = path.join(ROOT, 'sample/dataset/test/circle/0.png');
const DATASET = path.join(ROOT, 'sample/dataset/test');
// Layer sizes of the sample model at batch 1: [1, 16, 64, 64] and [1, 64, 8, 8] float32.
const WIDE = '/relu1/Relu_output_0';
const WIDE_BYTES = 16 * 64 * 64 * 4; // 256 KiB
const NARROW = '/block4/relu/Relu_output_0';
const HINT = 'raise it with --test-limit';

function zeros(batch: number): Record<string, Tensor> {
  return { input: { dtype: 'float32', dims: [batch, 3, 64, 64], data: new Float32Array(batch * 3 * 64 * 64) } };
}

function limited(megabytes: number): ConvModel {
  return ConvModel.load(MODEL, { provider: 'cpu', activationMemory: { maxMegabytes: megabytes, limitHint: HINT } });
}

describe('activation memory limit', function () {
  const models: ConvModel[] = [];
  const open = (megabytes?: number) => {
    const m = megabytes === undefined ? ConvModel.load(MODEL, { provider: 'cpu' }) : limited(megabytes);
    models.push(m);
    return m;
  };
  after(() => Promise.all(models.map((m) => m.dispose())));

  it('probes shapes in groups that fit a small limit, giving the shapes of one unlimited run', async () => {
    const model = open();
    const [one] = await probeShapeSets(model.proto, [zeros(1)]);
    const [grouped] = await probeShapeSets(model.proto, [zeros(1)], WIDE_BYTES);
    assert.deepStrictEqual([...grouped.entries()].sort(), [...one.entries()].sort());
    assert.deepStrictEqual(one.get(WIDE), [1, 16, 64, 64]);
    assert.deepStrictEqual(await open(0.3).probeShapes(), await model.probeShapes());
  });

  it('estimates a layer by its probed size times the batch', async () => {
    const model = open();
    assert.strictEqual(await model.activationBytes([WIDE], zeros(1)), WIDE_BYTES);
    assert.strictEqual(await model.activationBytes([WIDE, NARROW], zeros(4)), 4 * (WIDE_BYTES + 64 * 8 * 8 * 4));
    assert.strictEqual(await model.activationBytes([WIDE], zeros(2), 2), 4 * WIDE_BYTES);
  });

  it('refuses a layer over the limit before running it, naming the layer, the sizes and how to raise the limit', async () => {
    const model = open(0.2);
    await assert.rejects(model.run(zeros(1), [WIDE]), (err: Error) => {
      assert.ok(err instanceof ActivationMemoryError);
      assert.strictEqual(err.message, `the activations of '${WIDE}' for an input of [1, 3, 64, 64] need about 256 KiB of memory, over the limit of 205 KiB; ${HINT}`);
      return true;
    });
    const outputs = await model.run(zeros(1), [NARROW]);
    assert.deepStrictEqual(outputs[NARROW].dims, [1, 64, 8, 8]);
  });

  it('counts the batch: a layer that fits for one input is refused for four', async () => {
    const model = open(0.5);
    assert.deepStrictEqual((await model.run(zeros(1), [WIDE]))[WIDE].dims, [1, 16, 64, 64]);
    await assert.rejects(model.run(zeros(4), [WIDE]), /for an input of \[4, 3, 64, 64\] need about 1\.0 MiB of memory, over the limit of 512 KiB/);
  });

  it('refuses gradients at a layer when the layer and its gradient together do not fit', async () => {
    const model = open(0.4);
    const seed: Tensor = { dtype: 'float32', dims: [1, 4], data: Float32Array.from([1, 0, 0, 0]) };
    await assert.rejects(
      computeGradients(model, zeros(1), { wrt: [WIDE], seed }),
      /the activations of '\/relu1\/Relu_output_0' for an input of \[1, 3, 64, 64\] and their gradients need about 512 KiB of memory, over the limit of 410 KiB/,
    );
    const { gradients } = await computeGradients(model, zeros(1), { wrt: [NARROW], seed });
    assert.deepStrictEqual(gradients[NARROW].dims, [1, 64, 8, 8]);
  });

  it('streams dataset features in batches that fit, with the same features as one large batch', async function () {
    const full = await extractFeatures(open(), DATASET, { layer: NARROW });
    // block4 (16 KiB) + the penultimate (256 B) + logits per image: 6 images fit in 100 KiB.
    const small = await extractFeatures(open(100 / 1024), DATASET, { layer: NARROW });
    const images = full.images.length;
    assert.strictEqual(full.stats.modelRuns, Math.ceil(images / 32));
    assert.strictEqual(small.stats.modelRuns, Math.ceil(images / 6));
    assert.strictEqual(small.images.length, images);
    for (const key of ['meanPooled', 'penultimateFeatures', 'logits'] as const) {
      const [a, b] = [full[key], small[key]];
      assert.strictEqual(a.length, b.length);
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-5 * (1 + Math.abs(a[i])), `${key}[${i}]: ${a[i]} vs ${b[i]}`);
    }
  });

  it('refuses dataset features when even one image does not fit', async () => {
    await assert.rejects(
      extractFeatures(open(8 / 1024), DATASET, { layer: NARROW }),
      (err: Error) => err instanceof ActivationMemoryError && /over the limit of 8 KiB; raise it with --test-limit/.test(err.message),
    );
  });

  it('reaches the worker from the settings: the feature maps of a layer over the limit are refused naming the setting', async () => {
    const client = new ComputeClient(path.join(ROOT, 'out/src/compute/worker.js'));
    try {
      const activationMemory = { maxMegabytes: 0.2, limitHint: 'raise it with the setting convlens.maxActivationMemoryMB' };
      await client.call('openModel', { modelPath: MODEL, provider: 'cpu', activationMemory });
      const { id } = await client.call('loadImage', { modelPath: MODEL, imagePath: IMAGE });
      await assert.rejects(
        client.call('activations', { modelPath: MODEL, imageId: id, layer: '/relu1/Relu', target: { kind: 'top' } }),
        /over the limit of 205 KiB; raise it with the setting convlens\.maxActivationMemoryMB/,
      );
      const shown = await client.call('activations', { modelPath: MODEL, imageId: id, layer: '/block4/relu/Relu', target: { kind: 'top' } });
      assert.strictEqual(shown.channels.length, 64);
    } finally {
      await client.dispose();
    }
  });

  it('reaches the CLI from --max-activation-mb', () => {
    const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'out/src/cli/main.js'), 'activations', MODEL, IMAGE, ...args], { encoding: 'utf8' });
    const refused = cli('--layer', WIDE, '--max-activation-mb', '0.2');
    assert.strictEqual(refused.status, 1);
    assert.match(refused.stderr, /over the limit of 205 KiB; raise it with --max-activation-mb/);
    const bad = cli('--layer', WIDE, '--max-activation-mb', 'lots');
    assert.match(bad.stderr, /--max-activation-mb takes a positive number of megabytes, got 'lots'/);
    const shown = cli('--layer', WIDE, '--max-activation-mb', '1', '--json');
    assert.strictEqual(shown.status, 0, shown.stderr);
  });
});
