// Memory of a dataset run is bounded by its result arrays: no per-image record survives the run,
// and reading the cache holds one chunk at a time. Bounds on retained memory, never on time.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as v8 from 'v8';
import * as vm from 'vm';
import { DatasetFeatures, extractFeatures } from '../../src/core/dataset/features';
import { ConvModel } from '../../src/core/model';

const ROOT = path.resolve(__dirname, '../../..');
const SAMPLE = path.join(ROOT, 'sample/dataset/test');
const LAYER = '/block4/relu/Relu_output_0';
const IMAGES = 3000;
const MiB = 2 ** 20;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function retained(): { heap: number; buffers: number } {
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers };
}

function resultBytes(f: DatasetFeatures): number {
  return [f.meanPooled, f.maxPooled, f.maxPosition, f.penultimateFeatures, f.logits, f.predictions].reduce((s, a) => s + a.byteLength, 0);
}

describe('dataset memory', () => {
  it(`keeps only the result arrays and ~1 KiB of listing per image, computing and reading the cache (${IMAGES} images)`, async () => {
    const data = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-memory-'));
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-memory-cache-'));
    const model = ConvModel.load(path.join(ROOT, 'sample/shapes.onnx'), { provider: 'cpu' });
    try {
      // Hard links to the 160 sample images: many files, little disk.
      const classes = fs.readdirSync(SAMPLE);
      for (const c of classes) fs.mkdirSync(path.join(data, c));
      for (let i = 0; i < IMAGES; i++) {
        const c = classes[i % classes.length];
        const source = path.join(SAMPLE, c, `${Math.floor(i / classes.length) % 40}.png`);
        const file = path.join(data, c, `${i}.png`);
        try {
          fs.linkSync(source, file);
        } catch {
          fs.copyFileSync(source, file);
        }
      }
      for (const phase of ['computing', 'from the cache'] as const) {
        const before = retained();
        // The live memory after each batch (garbage collected first): the peak of the run.
        let peakBuffers = 0;
        const progress = () => (peakBuffers = Math.max(peakBuffers, retained().buffers - before.buffers));
        const f = await extractFeatures(model, data, { layer: LAYER, cacheDir: cache, batchSize: 64, progress });
        const after = retained();
        assert.strictEqual(f.images.length, IMAGES);
        assert.strictEqual(phase === 'computing' ? f.stats.computed : f.stats.cached, IMAGES);
        const bufferGrowth = after.buffers - before.buffers;
        const heapGrowth = after.heap - before.heap;
        // Typed arrays beyond the results: a few batches in flight, independent of the image count. A batch
        // of 64 images of 64 × 64 is 64 × (48 KiB input + 12 KiB RGB) ≈ 4 MiB, held as decoded images,
        // the batch tensor and the model's outputs, for this batch and the next: 32 MiB is ample.
        const BATCHES = 32 * MiB;
        assert.ok(
          bufferGrowth < resultBytes(f) + BATCHES,
          `${phase}: array buffers grew ${(bufferGrowth / MiB).toFixed(1)} MiB for ${(resultBytes(f) / MiB).toFixed(1)} MiB of results`,
        );
        assert.ok(
          peakBuffers < resultBytes(f) + BATCHES,
          `${phase}: array buffers peaked ${(peakBuffers / MiB).toFixed(1)} MiB above the start for ${(resultBytes(f) / MiB).toFixed(1)} MiB of results`,
        );
        console.log(
          `      ${phase}: results ${(resultBytes(f) / MiB).toFixed(1)} MiB, array buffers +${(bufferGrowth / MiB).toFixed(1)} MiB (peak +${(peakBuffers / MiB).toFixed(1)}), heap +${(heapGrowth / MiB).toFixed(1)} MiB`,
        );
        // The JS heap keeps the listing (path strings and one small object per image).
        assert.ok(heapGrowth < IMAGES * 1024 + 4 * MiB, `${phase}: heap grew ${(heapGrowth / MiB).toFixed(1)} MiB`);
      }
    } finally {
      await model.dispose();
      fs.rmSync(data, { recursive: true, force: true });
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });
});
