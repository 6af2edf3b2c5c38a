// Dataset-level speed: feature extraction throughput next to plain forward throughput on the
// same model and batch size, and the time to distil rules for 1,000 images.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DatasetFeatures, distillRules, extractFeatures } from '../src/core/dataset';
import { ConvModel } from '../src/core/model';
import { float32 } from '../src/core/tensor';

const ROOT = path.resolve(__dirname, '../..');
const MODEL = path.join(ROOT, 'sample/shapes.onnx');
const FOLDER = path.join(ROOT, 'sample/dataset');
const LAYER = '/block4/relu/Relu_output_0';

/** The features repeated to `n` images, so rule distillation is timed at a fixed dataset size. */
function repeatTo(f: DatasetFeatures, n: number): DatasetFeatures {
  const m = f.images.length;
  const pick = <T>(rows: T[]): T[] => Array.from({ length: n }, (_, i) => rows[i % m]);
  const pickMatrix = <A extends Float32Array | Int32Array>(data: A, cols: number): A => {
    const out = new (data.constructor as { new (length: number): A })(n * cols);
    for (let i = 0; i < n; i++) out.set(data.subarray((i % m) * cols, (i % m + 1) * cols), i * cols);
    return out;
  };
  const c = f.layerShape[0];
  return {
    ...f,
    images: pick(f.images).map((img, i) => ({ ...img, relPath: `${i}-${img.relPath}` })),
    meanPooled: pickMatrix(f.meanPooled, c),
    maxPooled: pickMatrix(f.maxPooled, c),
    maxPosition: pickMatrix(f.maxPosition, c),
    penultimateFeatures: pickMatrix(f.penultimateFeatures, f.penultimateSize),
    logits: pickMatrix(f.logits, f.classNames.length),
    predictions: pickMatrix(f.predictions, 1),
  };
}

export async function benchDataset(quick: boolean): Promise<Record<string, unknown>[]> {
  const model = ConvModel.load(MODEL, { provider: 'auto' });
  try {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-bench-'));
    const started = performance.now();
    const features = await extractFeatures(model, FOLDER, { layer: LAYER, cacheDir, batchSize: 32 });
    const extractSeconds = (performance.now() - started) / 1000;
    const n = features.images.length;
    const dims = [32, ...(model.input.shape.slice(1) as number[])];
    const batch = float32(dims);
    const forwardStart = performance.now();
    const batches = Math.ceil(n / 32);
    for (let i = 0; i < batches; i++) await model.run({ [model.input.name]: batch });
    const forwardSeconds = (performance.now() - forwardStart) / 1000;
    const cachedStart = performance.now();
    await extractFeatures(model, FOLDER, { layer: LAYER, cacheDir, batchSize: 32 });
    const cachedSeconds = (performance.now() - cachedStart) / 1000;
    fs.rmSync(cacheDir, { recursive: true, force: true });
    const thousand = repeatTo(features, 1000);
    const rulesStart = performance.now();
    distillRules(thousand, { depth: 4, minLeaf: 5 });
    const rulesSeconds = (performance.now() - rulesStart) / 1000;
    console.log(`\ndataset (${path.relative(ROOT, FOLDER)}, ${n} images, ${path.basename(MODEL)}, batch 32${quick ? ', quick' : ''}):`);
    console.log(`  feature extraction ${(n / extractSeconds).toFixed(0)} images/s (decode, preprocess, forward, pooling) vs plain forward ${(n / forwardSeconds).toFixed(0)} images/s: ${(forwardSeconds / extractSeconds * 100).toFixed(0)}% of forward throughput`);
    console.log(`  second look from the cache: ${(cachedSeconds * 1000).toFixed(0)} ms (${(extractSeconds / cachedSeconds).toFixed(0)}× faster)`);
    console.log(`  distilling rules (depth 4) for 1,000 images: ${(rulesSeconds * 1000).toFixed(0)} ms`);
    return [{ dataset: FOLDER, images: n, extract_images_per_s: n / extractSeconds, forward_images_per_s: n / forwardSeconds, cached_s: cachedSeconds, rules_1000_images_s: rulesSeconds }];
  } finally {
    await model.dispose();
  }
}
