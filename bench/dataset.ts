// Dataset-level speed: feature extraction throughput next to plain forward throughput on the
// same model and batch size, and the time to distil rules for 1,000 images. Then the same at
// scale: a generated folder of 100,000 small images (10,000 with --quick), features of 1,000,
// 10,000 and 100,000 of them (shards 0/100, 0/10 and all), each in a fresh child process that
// reports its peak resident memory, the bytes of the result arrays (which grow with the images by
// design) and its throughput against plain forward passes over as many batches.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DatasetFeatures, distillRules, extractFeatures } from '../src/core/dataset';
import { ConvModel } from '../src/core/model';
import { float32 } from '../src/core/tensor';
import { PNG } from 'pngjs';

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
    for (let i = 0; i < n; i++) out.set(data.subarray((i % m) * cols, ((i % m) + 1) * cols), i * cols);
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
    console.log(
      `  feature extraction ${(n / extractSeconds).toFixed(0)} images/s (decode, preprocess, forward, pooling) vs plain forward ${(n / forwardSeconds).toFixed(0)} images/s: ${((forwardSeconds / extractSeconds) * 100).toFixed(0)}% of forward throughput`,
    );
    console.log(`  second look from the cache: ${(cachedSeconds * 1000).toFixed(0)} ms (${(extractSeconds / cachedSeconds).toFixed(0)}× faster)`);
    console.log(`  distilling rules (depth 4) for 1,000 images: ${(rulesSeconds * 1000).toFixed(0)} ms`);
    return [
      {
        dataset: FOLDER,
        images: n,
        extract_images_per_s: n / extractSeconds,
        forward_images_per_s: n / forwardSeconds,
        cached_s: cachedSeconds,
        rules_1000_images_s: rulesSeconds,
      },
      ...benchScale(quick),
    ];
  } finally {
    await model.dispose();
  }
}

const MiB = 2 ** 20;
const CLASSES = ['circle', 'square', 'star', 'triangle'];
// Distinct generated images; the folder holds hard links to them (copies where links fail), so
// 100,000 files cost a few MiB of disk. Each file is still opened, read and decoded on its own.
const DISTINCT_IMAGES = 512;

/** A 64 × 64 image: a seeded colour gradient with a bright square placed by `seed`. */
function syntheticPng(seed: number): Buffer {
  const png = new PNG({ width: 64, height: 64 });
  const x0 = (seed * 7) % 48;
  const y0 = (seed * 13) % 48;
  for (let y = 0; y < 64; y++) {
    for (let x = 0; x < 64; x++) {
      const o = (y * 64 + x) * 4;
      const inSquare = x >= x0 && x < x0 + 16 && y >= y0 && y < y0 + 16;
      png.data[o] = inSquare ? 250 : (x * 4 + seed) & 255;
      png.data[o + 1] = inSquare ? 240 : (y * 4 + seed * 3) & 255;
      png.data[o + 2] = inSquare ? 30 : (seed * 11) & 255;
      png.data[o + 3] = 255;
    }
  }
  return PNG.sync.write(png);
}

function makeFolder(images: number): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-bench-100k-'));
  const sources = path.join(root, '.sources'); // hidden: not part of the dataset
  fs.mkdirSync(sources);
  for (let i = 0; i < DISTINCT_IMAGES; i++) fs.writeFileSync(path.join(sources, `${i}.png`), syntheticPng(i));
  for (const c of CLASSES) fs.mkdirSync(path.join(root, c));
  for (let i = 0; i < images; i++) {
    const file = path.join(root, CLASSES[i % CLASSES.length], `${i}.png`);
    const source = path.join(sources, `${i % DISTINCT_IMAGES}.png`);
    try {
      fs.linkSync(source, file);
    } catch {
      fs.copyFileSync(source, file);
    }
  }
  return root;
}

interface ScalePoint {
  images: number;
  seconds: number;
  forwardSeconds: number;
  peakRssMiB: number;
  resultMiB: number;
}

/** One point of the memory curve in a fresh process (see scaleChild). */
function scalePoint(folder: string, shards: number): ScalePoint {
  const out = execFileSync(process.execPath, ['--expose-gc', __filename, folder, String(shards)], { encoding: 'utf8', env: process.env, maxBuffer: 1 << 24 });
  return JSON.parse(out.trim().split('\n').pop() as string) as ScalePoint;
}

export function benchScale(quick: boolean): Record<string, unknown>[] {
  const total = quick ? 10000 : 100000;
  const started = performance.now();
  const folder = makeFolder(total);
  console.log(
    `\ndataset at scale (${total} generated 64×64 images in ${((performance.now() - started) / 1000).toFixed(0)} s, ${path.basename(MODEL)}, batch 32, a fresh process per size):`,
  );
  const rows: Record<string, unknown>[] = [];
  try {
    for (const shards of quick ? [10, 1] : [100, 10, 1]) {
      const p = scalePoint(folder, shards);
      console.log(
        `  ${String(p.images).padStart(6)} images: ${(p.images / p.seconds).toFixed(0)} images/s, ${(p.seconds > 0 ? p.forwardSeconds / p.seconds : 0).toFixed(2)}× plain forward; peak RSS ${p.peakRssMiB.toFixed(0)} MiB, of which result arrays ${p.resultMiB.toFixed(1)} MiB; the rest ${(p.peakRssMiB - p.resultMiB).toFixed(0)} MiB`,
      );
      rows.push({
        dataset: 'generated',
        images: p.images,
        extract_images_per_s: p.images / p.seconds,
        forward_ratio: p.forwardSeconds / p.seconds,
        peak_rss_MiB: p.peakRssMiB,
        result_arrays_MiB: p.resultMiB,
      });
    }
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
  return rows;
}

/** Child: features of shard 0 of `shards` of `folder` (with a fresh cache), then as many plain forward batches. */
async function scaleChild(folder: string, shards: number): Promise<void> {
  const model = ConvModel.load(MODEL, { provider: 'cpu' });
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-bench-cache-'));
  try {
    const started = performance.now();
    const f = await extractFeatures(model, folder, { layer: LAYER, cacheDir, batchSize: 32, shard: { index: 0, count: shards } });
    const seconds = (performance.now() - started) / 1000;
    const peakRssMiB = (process.resourceUsage().maxRSS * 1024) / MiB;
    const resultBytes = [f.meanPooled, f.maxPooled, f.maxPosition, f.penultimateFeatures, f.logits, f.predictions].reduce((s, a) => s + a.byteLength, 0);
    const batch = float32([32, ...(model.input.shape.slice(1) as number[])]);
    const forwardStart = performance.now();
    for (let i = 0; i < Math.ceil(f.images.length / 32); i++) await model.run({ [model.input.name]: batch });
    const forwardSeconds = (performance.now() - forwardStart) / 1000;
    const point: ScalePoint = { images: f.images.length, seconds, forwardSeconds, peakRssMiB, resultMiB: resultBytes / MiB };
    process.stdout.write(`${JSON.stringify(point)}\n`);
  } finally {
    fs.rmSync(cacheDir, { recursive: true, force: true });
    await model.dispose();
  }
}

if (require.main === module) {
  scaleChild(process.argv[2], Number(process.argv[3])).catch((err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exitCode = 1;
  });
}
