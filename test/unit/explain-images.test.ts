// The loop `convlens explain FOLDER` and "Explain all" share (core/dataset/explain-images.ts), on
// the sample classifier: with `predict`, each image's top class is the one the forward pass gives,
// taken from the run the method made of the input where it made one (no forward pass of its own),
// else from a forward pass; an unreadable image is reported and the others still explained; images
// are read in a decode thread, giving the inputs and the reasons the main thread gives.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ModelContext } from '../../src/core/context';
import { explainImages } from '../../src/core/dataset/explain-images';
import { explain } from '../../src/core/explain';
import { ConvModel } from '../../src/core/model';
import { encodeModel } from '../../src/core/onnx/proto';
import { formatNpy } from '../../src/core/npy';
import { exposeOutputs } from '../../src/core/onnx/surgery';
import type { Tensor } from '../../src/core/tensor';

const ROOT = path.resolve(__dirname, '../../..');
const MODEL = path.join(ROOT, 'sample/shapes.onnx');
const IMAGES = path.join(ROOT, 'sample/images');

describe('explaining a list of images with predictions (convlens explain FOLDER, Explain all)', function () {
  this.timeout(120000);
  const images = fs
    .readdirSync(IMAGES)
    .filter((f) => f.endsWith('.png'))
    .sort()
    .map((f) => ({ file: path.join(IMAGES, f), relPath: f }));

  const OCCLUSION = { window: [1, 16, 16], strides: [1, 16, 16] };
  // [method, target class, options, forward passes the prediction adds per image]: methods that run
  // the input anyway (a gradient run, a forward pass with the layer exposed, the pass that finds a
  // 'top' class, occlusion's run of the network after its crops) give its outputs; occlusion of a
  // given class without crops runs only occluded inputs.
  const cases: [string, number | 'top', Record<string, string | number | number[]>, number][] = [
    ['gradcam', 'top', {}, 0],
    ['saliency', 'top', {}, 0],
    ['guided-gradcam', 'top', {}, 0],
    ['scorecam', 'top', {}, 0],
    ['ablationcam', 'top', {}, 0],
    ['integrated-gradients', 'top', { steps: 4 }, 0],
    ['occlusion', 'top', OCCLUSION, 0],
    ['occlusion', 0, OCCLUSION, 0],
    ['occlusion', 0, { ...OCCLUSION, crop: 'off' }, 1],
  ];
  for (const [method, index, options, added] of cases) {
    it(`${method}, class ${index}: each prediction is the forward pass's top class, ${added ? 'from a forward pass of the image' : "from the method's own run of the image"}`, async () => {
      const ctx = ModelContext.open(MODEL, { provider: 'cpu' });
      try {
        const expected = new Map<string, { index: number; label: string; probability: number }>();
        for (const im of images) expected.set(im.relPath, (await ctx.predict(ctx.loadInput(im.file).tensor, 1)).top[0][0]);
        // Count the forward passes of one input with outputs only (what a prediction runs).
        let inputPasses = 0;
        const run = ctx.model.run.bind(ctx.model);
        ctx.model.run = (feeds: Record<string, Tensor>, extra: string[] = [], runOptions = {}) => {
          if (extra.length === 0 && Object.values(feeds).every((t) => t.dims[0] === 1)) inputPasses++;
          return run(feeds, extra, runOptions);
        };
        const request = { method, target: { kind: 'class' as const, index }, options };
        for await (const item of explainImages(ctx, images, request)) assert.strictEqual(item.error, undefined, `${item.image.relPath}: ${item.error}`);
        const without = inputPasses;
        inputPasses = 0;
        const seen: string[] = [];
        for await (const item of explainImages(ctx, images, { ...request, predict: true })) {
          assert.strictEqual(item.error, undefined, `${item.image.relPath}: ${item.error}`);
          assert.ok(item.explanation, item.image.relPath);
          const want = expected.get(item.image.relPath)!;
          const got = item.prediction!;
          assert.deepStrictEqual([got.index, got.label], [want.index, want.label], item.image.relPath);
          // The method's session sums in another order than the forward session: last digits only.
          assert.ok(Math.abs(got.probability - want.probability) <= 1e-6, `${item.image.relPath}: ${got.probability} against ${want.probability}`);
          seen.push(item.image.relPath);
        }
        assert.deepStrictEqual(
          seen,
          images.map((im) => im.relPath),
        );
        assert.strictEqual(inputPasses - without, added * images.length, `forward passes with predictions ${inputPasses}, without ${without}`);
      } finally {
        await ctx.dispose();
      }
    });
  }

  it('every method that hands over the outputs for the input gives every graph output, as a forward pass does', async () => {
    // The sample classifier, and the same with a second graph output, so a call site that handed
    // over only the target's output would show.
    const sample = ConvModel.load(MODEL, { provider: 'cpu' });
    const models = { 'one output': sample, 'two outputs': ConvModel.fromBytes(encodeModel(exposeOutputs(sample.proto, ['/block4/relu/Relu_output_0'])), { provider: 'cpu' }) };
    const ctx = ModelContext.open(MODEL, { provider: 'cpu' });
    const input = ctx.loadInput(images[0].file).tensor;
    await ctx.dispose();
    try {
      for (const [which, model] of Object.entries(models)) {
        const forward = await model.run({ [model.input.name]: input });
        const graphOutputs = Object.keys(forward).sort();
        assert.strictEqual(graphOutputs.length, which === 'one output' ? 1 : 2);
        for (const [method, options] of [
          ['gradcam', {}],
          ['gradcam++', {}],
          ['saliency', {}],
          ['input-x-gradient', {}],
          ['guided-backprop', {}],
          ['guided-gradcam', {}],
          ['cam', {}],
          ['eigencam', {}],
          ['scorecam', {}],
          ['ablationcam', {}],
          ['integrated-gradients', { steps: 4 }],
          ['smoothgrad', { samples: 2 }],
          ['occlusion', OCCLUSION],
          ['occlusion', { ...OCCLUSION, crop: 'off' }],
          ['rise', { masks: 8 }],
        ] as const) {
          const what = `${method} ${JSON.stringify(options)}, ${which}`;
          let handed: Record<string, Tensor> | undefined;
          const explanation = await explain(method, { model, input, target: { kind: 'class', index: 'top' }, inputOutputs: (o) => (handed ??= o) }, options);
          // Occlusion's network after its crops computes the target's output alone: it hands over
          // nothing where the model has others, and the caller runs its own forward pass.
          if (which === 'two outputs' && explanation.notes.some((n) => n.includes('ran on crops'))) {
            assert.strictEqual(handed, undefined, what);
            continue;
          }
          assert.ok(handed, `${what}: handed over no outputs`);
          for (const name of graphOutputs) {
            assert.ok(handed[name], `${what}: no '${name}'`);
            // Other sessions (gradient, exposed layer, the network after a cut) sum in other orders: float32 rounding of logits near 10.
            const worst = Math.max(...Array.from(forward[name].data as Float32Array, (v, i) => Math.abs(v - (handed![name].data as Float32Array)[i])));
            assert.ok(worst <= 1e-4, `${what}: '${name}' differs from the forward pass's by ${worst}`);
          }
        }
      }
    } finally {
      for (const model of Object.values(models)) await model.dispose();
    }
  });

  it('reports an image that cannot be read, with no prediction, and explains and predicts the others', async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-explain-images-'));
    const ctx = ModelContext.open(MODEL, { provider: 'cpu' });
    try {
      fs.copyFileSync(path.join(IMAGES, 'star.png'), path.join(folder, 'a.png'));
      fs.writeFileSync(path.join(folder, 'b.png'), 'not a png');
      fs.copyFileSync(path.join(IMAGES, 'circle.png'), path.join(folder, 'c.png'));
      const list = ['a.png', 'b.png', 'c.png'].map((f) => ({ file: path.join(folder, f), relPath: f }));
      const items = [];
      for await (const item of explainImages(ctx, list, { method: 'gradcam', target: { kind: 'class', index: 'top' }, predict: true })) items.push(item);
      assert.deepStrictEqual(
        items.map((i) => [i.image.relPath, i.prediction?.label, !!i.explanation, i.error !== undefined]),
        [
          ['a.png', 'star', true, false],
          ['b.png', undefined, false, true],
          ['c.png', 'circle', true, false],
        ],
      );
    } finally {
      await ctx.dispose();
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });

  it("reads the images in a decode thread: the inputs are the main thread's bit for bit, and so are the reasons an input is refused", async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-explain-images-'));
    const ctx = ModelContext.open(MODEL, { provider: 'cpu' });
    try {
      const shape = ctx.inputInfo.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
      const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
      values[5] = NaN;
      fs.writeFileSync(path.join(folder, 'nan.npy'), formatNpy({ dtype: 'float32', dims: shape, data: values }));
      fs.writeFileSync(path.join(folder, 'broken.png'), 'not a png');
      const list = [
        ...images.slice(0, 2),
        { file: path.join(folder, 'broken.png'), relPath: 'broken.png' },
        { file: path.join(folder, 'nan.npy'), relPath: 'nan.npy' },
        ...images.slice(2, 4),
      ];
      const expected = list.map((im) => {
        try {
          return { input: ctx.loadInput(im.file) };
        } catch (err) {
          return { error: (err as Error).message };
        }
      });
      // The main thread reads none of them: the thread reads each, the context checks its values.
      const readHere: string[] = [];
      const loadInput = ctx.loadInput.bind(ctx);
      ctx.loadInput = (file: string) => {
        readHere.push(path.basename(file));
        return loadInput(file);
      };
      const items = [];
      for await (const item of explainImages(ctx, list, { method: 'gradcam', target: { kind: 'class', index: 'top' } })) items.push(item);
      assert.deepStrictEqual(readHere, []);
      assert.deepStrictEqual(
        items.map((i) => i.error),
        expected.map((e) => e.error),
      );
      assert.match(items[3].error ?? '', /contains 1 NaN value/);
      items.forEach((item, k) => {
        const want = expected[k].input;
        if (!want) return assert.strictEqual(item.input, undefined);
        assert.ok(item.input && Buffer.from(item.input.tensor.data.buffer).equals(Buffer.from(want.tensor.data.buffer)), `${item.image.relPath}: the same tensor`);
        assert.ok(want.rgb && item.input.rgb && Buffer.from(item.input.rgb.data.buffer).equals(Buffer.from(want.rgb.data.buffer)), `${item.image.relPath}: the same image`);
        assert.ok(item.explanation, `${item.image.relPath} is explained`);
      });
    } finally {
      await ctx.dispose();
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });
});
