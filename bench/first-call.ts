// First calls, as a user meets them: each method's first explanation on a freshly opened model,
// in a fresh process (child per measurement), with an empty model cache folder (cold) and again
// with the folder the cold run filled (warm, as on reopening the model), next to the peers' first
// calls timed in the same run (bench/peers-methods.py: pytorch-grad-cam, Captum; Debian's
// PyTorch, 2 threads), with issue #14's goal for each ratio. Two ways: the core's (onnxruntime's
// environment started first, as the peers' process imports torch first; then ConvModel.load, then
// the method: everything after reading the file counts, as in `convlens explain`'s seconds, but
// that start) and the panel's (the compute worker opens the model as the panel does, with its
// predictions' session and gradient check, then the first click is timed the moment the open
// returns). Also image decode+resize per image against the forward pass, to show decoding is not
// the bottleneck, and dataset features' images/s with decoding in worker threads and on the main
// thread next to plain forward passes.
import { execFileSync } from 'child_process';
import jpeg from 'jpeg-js';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ComputeClient } from '../src/compute/client';
import { ModelContext } from '../src/core/context';
import { DecodePool } from '../src/core/dataset/decode-pool';
import { explainImages } from '../src/core/dataset/explain-images';
import { extractFeatures } from '../src/core/dataset/features';
import { listDataset } from '../src/core/dataset/folder';
import { inputPipelineFor } from '../src/core/dataset/input';
import { explain } from '../src/core/explain';
import { decodeImage } from '../src/core/image/decode';
import { encodePng, rgbToRgba } from '../src/core/image/overlay';
import { resizeBilinear } from '../src/core/image/resize';
import { ConvModel } from '../src/core/model';
import { IMAGENET_MEAN, IMAGENET_STD, PreprocessSpec, preprocessImage } from '../src/core/preprocess';
import { Tensor, mapToUint8 } from '../src/core/tensor';
import { REFERENCE_DIR, ReferenceCase, loadManifest, loadTensor, referenceAvailable } from '../test/support/reference';
import { startRuntime, timeMethodPeers } from './peers';

const WORKER = path.resolve(__dirname, '../src/compute/worker.js');

interface FirstCall {
  /** The core's way: onnxruntime's environment started before the clock (startRuntime). */
  runtime_s?: number;
  /** ConvModel.load, or the panel's open (through the worker). */
  load_s: number;
  first_s: number;
  second_s?: number;
}

// peer: the computation bench/peers-methods.py times; goal: the speed-up over the peer's first call that issue #14 asks for.
const FIRST_CALLS: { method: string; peer: string; goal: number; slow?: boolean; options?: Record<string, number[]> }[] = [
  { method: 'gradcam', peer: 'GradCAM', goal: 1 },
  { method: 'ablationcam', peer: 'AblationCAM', goal: 20, slow: true },
  { method: 'scorecam', peer: 'ScoreCAM', goal: 3, slow: true },
  { method: 'occlusion', peer: 'Occlusion', goal: 3, slow: true, options: { window: [3, 32, 32], strides: [3, 16, 16] } },
];

function chelsea(): ReferenceCase {
  return loadManifest().cases.find((c) => c.model === 'resnet18' && c.image === 'chelsea') as ReferenceCase;
}

async function seconds(fn: () => Promise<unknown> | unknown): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

/** In the child: load the model, then time the method's first and second explanation. */
async function child(method: string, cacheDir: string): Promise<void> {
  const c = chelsea();
  const input = loadTensor(c, 'input');
  const options = FIRST_CALLS.find((f) => f.method === method)?.options ?? {};
  let model: ConvModel | undefined;
  const runtime_s = await seconds(startRuntime);
  const load_s = await seconds(() => (model = ConvModel.load(path.join(REFERENCE_DIR, c.onnx), { provider: 'auto', cacheDir: cacheDir === 'none' ? undefined : cacheDir })));
  const ctx = { model: model as ConvModel, input, target: { kind: 'class' as const, index: c.target_class }, layer: c.target_layer_tensor };
  const first_s = await seconds(() => explain(method, ctx, options));
  // A slow method's second call is its first less a session start or two: not worth its minutes.
  const second_s = FIRST_CALLS.find((f) => f.method === method)?.slow ? undefined : await seconds(() => explain(method, ctx, options));
  await model?.dispose();
  process.stdout.write(`${JSON.stringify({ runtime_s, load_s, first_s, second_s } satisfies FirstCall)}\n`);
}

/**
 * In the child, the panel's way: the compute worker opens the model (summary, layer shapes, the
 * session for predictions, the gradient check) and loads the image; the first click (default
 * layer, top class) is sent the moment both return, and timed to its answer.
 */
async function panelChild(method: string, cacheDir: string): Promise<void> {
  const c = chelsea();
  const modelPath = path.join(REFERENCE_DIR, c.onnx);
  const options = Object.fromEntries(Object.entries(FIRST_CALLS.find((f) => f.method === method)?.options ?? {}).map(([k, v]) => [k, v.join(',')]));
  // The reference image as the model takes it (224×224 RGB, values in [0, 1]), as a PNG.
  const [height, width] = [224, 224];
  const rgb = mapToUint8(loadTensor(c, 'rgb').data as Float32Array, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
  const png = encodePng(rgbToRgba({ width, height, data: rgb }), width, height);
  process.env.CONVLENS_CACHE_DIR = cacheDir;
  const client = new ComputeClient(WORKER);
  try {
    const load_s = await seconds(() => client.call('openModel', { modelPath, provider: 'auto' }));
    const imageId = (await client.call('loadImage', { modelPath, name: 'chelsea.png', base64: Buffer.from(png).toString('base64') })).id;
    const click = () => client.call('explain', { modelPath, imageId, method, layer: 'auto', target: { kind: 'top' }, options });
    const first_s = await seconds(click);
    const second_s = FIRST_CALLS.find((f) => f.method === method)?.slow ? undefined : await seconds(click);
    process.stdout.write(`${JSON.stringify({ load_s, first_s, second_s } satisfies FirstCall)}\n`);
  } finally {
    await client.dispose();
  }
}

function firstCallIn(way: 'child' | 'panel', method: string, cacheDir: string): FirstCall {
  const out = execFileSync(process.execPath, [__filename, way, method, cacheDir], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').pop() as string) as FirstCall;
}

/**
 * Decode (the same 500×375 photo as PNG and as a quality-90 JPEG, what datasets mostly hold) and
 * preprocessing to 224×224 per image, against one forward pass of resnet18.
 */
async function decodeAgainstForward(c: ReferenceCase): Promise<Record<string, unknown>> {
  const rgb = loadTensor(c, 'rgb').data as Float32Array;
  const [h, w, outH, outW] = [224, 224, 375, 500];
  const planes = [0, 1, 2].map((ch) =>
    resizeBilinear(
      Float32Array.from({ length: h * w }, (_, i) => rgb[i * 3 + ch]),
      h,
      w,
      outH,
      outW,
    ),
  );
  const data = Uint8Array.from({ length: outH * outW * 3 }, (_, i) => Math.round(Math.min(1, Math.max(0, planes[i % 3][Math.floor(i / 3)])) * 255));
  const rgba = rgbToRgba({ width: outW, height: outH, data });
  const files = { PNG: encodePng(rgba, outW, outH), JPEG: new Uint8Array(jpeg.encode({ data: rgba, width: outW, height: outH }, 90).data) };
  // torchvision's ImageNet evaluation transform: shorter side to 256 (antialiased, as PIL), centre crop 224.
  const spec: PreprocessSpec = {
    size: [224, 224],
    resize: 'shorter-side-crop',
    resizeTo: 256,
    antialias: 'pil',
    scale: 1 / 255,
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    layout: 'NCHW',
    colorOrder: 'RGB',
    grayscale: false,
  };
  const model = ConvModel.load(path.join(REFERENCE_DIR, c.onnx), { provider: 'auto' });
  try {
    const input = loadTensor(c, 'input');
    await model.run({ input });
    const result: Record<string, unknown> = {};
    for (const [format, bytes] of Object.entries(files)) {
      const decodeResize = () => preprocessImage(decodeImage(bytes), spec);
      for (let i = 0; i < 3; i++) decodeResize(); // compiled, as in a dataset's thousandth image
      const runs = 20;
      let decode = 0;
      let forward = 0;
      for (let i = 0; i < runs; i++) {
        decode += await seconds(decodeResize);
        forward += await seconds(() => model.run({ input }));
      }
      console.log(
        `  image decode (${format} ${outW}×${outH}) + resize, crop and normalise to 224×224: ${((decode / runs) * 1000).toFixed(1)} ms per image, ${((decode / forward) * 100).toFixed(0)}% of a resnet18 forward pass (${((forward / runs) * 1000).toFixed(1)} ms)`,
      );
      result[`${format.toLowerCase()}_decode_resize_s`] = decode / runs;
      result[`${format.toLowerCase()}_forward_s`] = forward / runs;
    }
    return { ...result, ...(await datasetThroughput(model, files.JPEG, spec)) };
  } finally {
    await model.dispose();
  }
}

/**
 * Dataset features of a folder of these JPEGs on resnet18, images/s with decoding in worker threads
 * (overlapping the forward passes) and on the main thread (the pipeline without `pooled`),
 * alternately, next to plain forward passes of the same batches.
 */
async function datasetThroughput(model: ConvModel, image: Uint8Array, spec: PreprocessSpec): Promise<Record<string, number>> {
  const images = 64;
  const batchSize = 16;
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-bench-decode-'));
  try {
    fs.mkdirSync(path.join(folder, 'cat'));
    for (let i = 0; i < images; i++) fs.writeFileSync(path.join(folder, 'cat', `${i}.jpg`), image);
    const pooled = inputPipelineFor(model, { spec });
    const mainThread = { ...pooled, pooled: undefined };
    const batch = { dtype: 'float32' as const, dims: [batchSize, 3, 224, 224], data: new Float32Array(batchSize * 3 * 224 * 224) };
    const times = { pool: [] as number[], main: [] as number[], forward: [] as number[] };
    for (let round = 0; round < 2; round++) {
      times.pool.push(await seconds(() => extractFeatures(model, folder, { input: pooled, batchSize })));
      times.main.push(await seconds(() => extractFeatures(model, folder, { input: mainThread, batchSize })));
      times.forward.push(
        await seconds(async () => {
          for (let i = 0; i < images / batchSize; i++) await model.run({ input: batch });
        }),
      );
    }
    const rate = (t: number[]) => images / Math.min(...t);
    console.log(
      `  dataset features of ${images} such JPEGs on resnet18, batches of ${batchSize}: ${rate(times.pool).toFixed(1)} images/s decoding in worker threads, ${rate(times.main).toFixed(1)} on the main thread, plain forward ${rate(times.forward).toFixed(1)} images/s (best of 2, alternated)`,
    );
    const explained = await explainThroughput(model, folder, spec, batch);
    return { dataset_pool_images_per_s: rate(times.pool), dataset_main_thread_images_per_s: rate(times.main), forward_images_per_s: rate(times.forward), ...explained };
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
}

/**
 * "Explain all" (and `convlens explain FOLDER`, which leaves out the top classes): a map and the
 * top class per image of the folder through the loop they share (explainImages: the next image
 * read in a thread meanwhile, one explanation per image, the prediction from the method's own run
 * of the input), images/s for each method next to plain forward passes of batches of the same
 * size, alternately.
 */
async function explainThroughput(model: ConvModel, folder: string, spec: PreprocessSpec, batch: Tensor): Promise<Record<string, number>> {
  const ctx = ModelContext.open(model.file as string, { provider: 'auto', preprocessing: spec });
  // One reading thread for every round, as the gallery keeps one for every page.
  const reader = DecodePool.start(1);
  try {
    const { images } = listDataset(folder);
    const result: Record<string, number> = {};
    for (const method of ['gradcam', 'saliency']) {
      const times = { explain: [] as number[], forward: [] as number[] };
      for (let round = 0; round < 2; round++) {
        times.explain.push(
          await seconds(async () => {
            for await (const item of explainImages(ctx, images, { method, target: { kind: 'class', index: 'top' }, predict: true }, { reader })) {
              if (item.error) throw new Error(`${item.image.relPath}: ${item.error}`);
            }
          }),
        );
        times.forward.push(
          await seconds(async () => {
            for (let i = 0; i < images.length / batch.dims[0]; i++) await model.run({ input: batch });
          }),
        );
      }
      const rate = (t: number[]) => images.length / Math.min(...t);
      console.log(
        `  Explain all (${method} of the top class, and the prediction) of the ${images.length} JPEGs: ${rate(times.explain).toFixed(1)} images/s, plain forward ${rate(times.forward).toFixed(1)} images/s, ${(rate(times.explain) / rate(times.forward)).toFixed(2)}× (best of 2, alternated)`,
      );
      result[`explain_${method}_images_per_s`] = rate(times.explain);
      result[`explain_${method}_forward_images_per_s`] = rate(times.forward);
    }
    return result;
  } finally {
    await reader?.dispose();
    await ctx.model.dispose();
  }
}

/** `only`: the methods to measure (all by default; `node out/bench/first-call.js gradcam ablationcam`). */
export async function benchFirstCalls(quick: boolean, only: string[] = []): Promise<Record<string, unknown>[]> {
  if (!referenceAvailable()) return [];
  const c = chelsea();
  const measured = FIRST_CALLS.filter((f) => (only.length ? only.includes(f.method) : !(f.slow && quick)));
  const peers = timeMethodPeers(
    c.model,
    measured.map((f) => f.peer),
  );
  console.log(
    `\nfirst calls on a freshly opened ${c.model} (${c.image}), each in a fresh process; cold: empty model cache folder, warm: as the cold run left it (peers: ${peers.note})`,
  );
  console.log(
    `  ${'method'.padEnd(12)} ${'cold s'.padStart(8)} ${'warm s'.padStart(8)} ${'second s'.padStart(9)} ${'peer first s'.padStart(13)} ${'× cold'.padStart(7)} ${'× warm'.padStart(7)}  goal`,
  );
  const results: Record<string, unknown>[] = [];
  for (const [way, f] of (['child', 'panel'] as const).flatMap((w) => measured.map((m) => [w, m] as const))) {
    if (f === measured[0])
      console.log(way === 'child' ? '  the core (onnxruntime started, then ConvModel.load, then the method):' : "  the panel's first click, the moment the worker's open returns:");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-first-call-'));
    try {
      const cold = firstCallIn(way, f.method, dir);
      const warm = firstCallIn(way, f.method, dir);
      const peer = peers.times?.[f.peer];
      const ratio = (s: number) => (peer ? `${(peer.first_s / s).toFixed(2)}×` : '—');
      // Beside the times: the panel's open (what its user waits for before the first click), or the
      // core's runtime start, which the clock leaves out.
      const beside =
        way === 'panel'
          ? `  (open ${cold.load_s.toFixed(2)} s cold, ${warm.load_s.toFixed(2)} s warm)`
          : `  (onnxruntime's start before it: ${((cold.runtime_s ?? 0) * 1000).toFixed(0)} ms cold, ${((warm.runtime_s ?? 0) * 1000).toFixed(0)} ms warm)`;
      console.log(
        `  ${f.method.padEnd(12)} ${cold.first_s.toFixed(2).padStart(8)} ${warm.first_s.toFixed(2).padStart(8)} ${(warm.second_s?.toFixed(2) ?? '—').padStart(9)} ${(peer ? peer.first_s.toFixed(2) : '—').padStart(13)} ${ratio(cold.first_s).padStart(7)} ${ratio(warm.first_s).padStart(7)}  ≥ ${f.goal}×${beside}`,
      );
      results.push({
        first_call: f.method,
        way: way === 'child' ? 'core' : 'panel',
        model: c.model,
        cold,
        warm,
        peer,
        goal: f.goal,
        speedup_cold: peer && peer.first_s / cold.first_s,
        speedup_warm: peer && peer.first_s / warm.first_s,
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  results.push({ decode: await decodeAgainstForward(c) });
  return results;
}

if (require.main === module && process.argv[2] === 'decode') {
  // Only the decoding figures: node out/bench/first-call.js decode
  const c = chelsea();
  decodeAgainstForward(c).catch((err) => {
    console.error(`bench failed: ${(err as Error).stack}`);
    process.exitCode = 1;
  });
} else if (require.main === module && (process.argv[2] === 'child' || process.argv[2] === 'panel')) {
  (process.argv[2] === 'child' ? child : panelChild)(process.argv[3], process.argv[4]).catch((err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exitCode = 1;
  });
} else if (require.main === module) {
  const args = process.argv.slice(2);
  benchFirstCalls(
    args.includes('--quick'),
    args.filter((a) => !a.startsWith('--')),
  ).catch((err) => {
    console.error(`bench failed: ${(err as Error).stack}`);
    process.exitCode = 1;
  });
}
