// Features of every image of a dataset, computed in batches and cached on disk.
//
// For a layer output A [C, H, W] of one image:
//   mean_c = (1 / HW) Σ_{y,x} A[c, y, x]        (global average pooling)
//   max_c  = max_{y,x} A[c, y, x],  maxPosition_c = argmax as y·W + x (first in row-major order)
// plus the penultimate features (the classifier head's input, globally averaged when it is still
// spatial; see head.ts) and the logits of the first output, whose argmax is the prediction.
// The pooled channel activations are per-unit summaries as in network dissection (Bau et al.,
// CVPR 2017); the rules (rules.ts) and the mark check (shortcut.ts) read them.
import { RunControl, usableBatchSize } from '../explain/forward';
import { throwIfCancelled } from '../cancel';
import { findLabelsFile, labelsFor } from '../labels/labels';
import { concreteInputDims, ConvModel } from '../model';
import { assertTensorExists } from '../onnx/surgery';
import { argmax, Tensor } from '../tensor';
import { entryKey, FeatureCache, parseEntryKey, RecordLayout, recordLength, sha256, statEntry } from './cache';
import { DecodePool, DecodePoolError } from './decode-pool';
import { DatasetError } from './errors';
import { chooseClassNames, DatasetImage, listDataset, withClassNames } from './folder';
import { findClassifierHead } from './head';
import { InputPipeline, inputPipelineFor } from './input';
import { describeShard, Shard, shardOfPath } from './shard';

export interface FeatureOptions extends RunControl {
  /** Tensor name of the layer whose channels are pooled; default: the penultimate tensor (enough for maps and neighbours). */
  layer?: string;
  /** Folder for the cache (the extension's workspace storage, the CLI's .convlens-cache); none: no cache. */
  cacheDir?: string;
  /** Tensor the classifier head reads; found from the graph when absent. */
  penultimate?: string;
  /** Class names in logit order; default: the model's labels file, else sorted label folders, else 'class i'. */
  classNames?: string[];
  /** Images per forward pass (and per cache chunk) when the model takes a batch; default 32. */
  batchSize?: number;
  /** How images become inputs; default: the model's preprocessing sidecar. */
  input?: InputPipeline;
  /** Only this shard's images (shard.ts); with a cache, a finished run leaves its shard manifest there. */
  shard?: Shard;
}

export interface FeatureStats {
  /** Images whose features were computed in this call. */
  computed: number;
  /** Images whose features came from the cache. */
  cached: number;
  /** Forward passes run. */
  modelRuns: number;
}

export interface DatasetFeatures {
  root: string;
  /** sha256 of the model file's bytes. */
  modelHash: string;
  layer: string;
  penultimate: string;
  /** The output whose argmax is the prediction. */
  output: string;
  classNames: string[];
  images: DatasetImage[];
  /** Whether every image has a folder label among the classes. */
  labelled: boolean;
  /** The layer's output for one image as [C, H, W] (H = W = 1 for a flat layer). */
  layerShape: [number, number, number];
  /** Model input [height, width]: the pixel space of receptive-field boxes. */
  inputSize: [number, number];
  /** Row-major N × C. */
  meanPooled: Float32Array;
  /** Row-major N × C. */
  maxPooled: Float32Array;
  /** Row-major N × C: y·W + x of each channel's maximum. */
  maxPosition: Int32Array;
  /** Row-major N × P. */
  penultimateFeatures: Float32Array;
  penultimateSize: number;
  /** Row-major N × K. */
  logits: Float32Array;
  predictions: Int32Array;
  stats: FeatureStats;
  /** Images that could not be decoded, left out of everything above. */
  skipped: SkippedImage[];
}

export interface SkippedImage {
  relPath: string;
  reason: string;
}

/** The features of one input, as in DatasetFeatures. */
export interface ImageFeatures {
  meanPooled: Float32Array;
  maxPooled: Float32Array;
  maxPosition: Int32Array;
  penultimate: Float32Array;
  logits: Float32Array;
  prediction: number;
}

/** Row i of a row-major matrix with `width` columns. */
export function rowOf<T extends Float32Array | Int32Array>(matrix: T, i: number, width: number): T {
  return matrix.subarray(i * width, (i + 1) * width) as T;
}

const modelHashes = new WeakMap<ConvModel, string>();

export function modelHash(model: ConvModel): string {
  let hash = modelHashes.get(model);
  if (!hash) {
    hash = sha256(model.bytes);
    modelHashes.set(model, hash);
  }
  return hash;
}

/** Layer and penultimate tensors checked against the graph (with near names suggested), the head found when not given. */
export function resolveTensors(model: ConvModel, layer?: string, penultimate?: string): { layer: string; penultimate: string; output: string } {
  const head = findClassifierHead(model.graph);
  for (const name of [layer, penultimate]) if (name) assertTensorExists(model.graph, name);
  const resolvedPenultimate = penultimate ?? head.penultimate;
  return { layer: layer ?? resolvedPenultimate, penultimate: resolvedPenultimate, output: head.output };
}

/** Splits one batch's outputs into per-image records (layout as in cache.ts). */
function recordsOf(
  outputs: Record<string, Tensor>,
  tensors: { layer: string; penultimate: string; output: string },
  batch: number,
): { layout: RecordLayout; records: Float32Array[] } {
  const layerOut = floatOutput(outputs, tensors.layer);
  if (layerOut.dims.length < 2 || layerOut.dims.length > 4) {
    throw new DatasetError(`layer '${tensors.layer}' has shape [${layerOut.dims.join(', ')}]; a layer needs 2 to 4 dimensions (N, C, H, W)`);
  }
  const channels = layerOut.dims[1];
  const height = layerOut.dims.length === 4 ? layerOut.dims[2] : 1;
  const width = layerOut.dims.length >= 3 ? layerOut.dims[layerOut.dims.length - 1] : 1;
  const pen = floatOutput(outputs, tensors.penultimate);
  const penChannels = pen.dims[1] ?? 1;
  const penSpatial = pen.dims.slice(2).reduce((a, b) => a * b, 1);
  const logits = floatOutput(outputs, tensors.output);
  const classes = logits.data.length / batch;
  const layout: RecordLayout = { channels, height, width, penultimate: penChannels, classes };
  const spatial = height * width;
  const records: Float32Array[] = [];
  for (let b = 0; b < batch; b++) {
    const record = new Float32Array(recordLength(layout));
    for (let c = 0; c < channels; c++) {
      const base = (b * channels + c) * spatial;
      let sum = 0;
      let best = 0;
      for (let i = 0; i < spatial; i++) {
        const v = layerOut.data[base + i];
        sum += v;
        if (v > layerOut.data[base + best]) best = i;
      }
      record[c] = sum / spatial;
      record[channels + c] = layerOut.data[base + best];
      record[2 * channels + c] = best;
    }
    for (let c = 0; c < penChannels; c++) {
      let sum = 0;
      for (let i = 0; i < penSpatial; i++) sum += pen.data[(b * penChannels + c) * penSpatial + i];
      record[3 * channels + c] = sum / penSpatial;
    }
    record.set(logits.data.subarray(b * classes, (b + 1) * classes), 3 * channels + penChannels);
    records.push(record);
  }
  return { layout, records };
}

function floatOutput(outputs: Record<string, Tensor>, name: string): Tensor<Float32Array> {
  const t = outputs[name];
  if (!t || !(t.data instanceof Float32Array)) throw new DatasetError(`tensor '${name}' is not a float32 output of the model`);
  return t as Tensor<Float32Array>;
}

/**
 * The batch size for running dataset images of `inputSize` with `tensors` exposed (`copies` as in
 * ConvModel.activationBytes): as requested where the model takes a batch, shrunk so that the
 * activations keep within the model's activation memory limit.
 */
export async function fittingBatchSize(model: ConvModel, inputSize: [number, number], tensors: string[], requested: number, copies = 1): Promise<number> {
  const itemDims = [1, concreteInputDims(model.input.shape)[1], ...inputSize];
  return model.batchThatFits(tensors, itemDims, await usableBatchSize(model, requested), copies);
}

function exposedTensors(tensors: { layer: string; penultimate: string; output: string }): string[] {
  return [...new Set([tensors.layer, tensors.penultimate, tensors.output])];
}

async function runBatch(model: ConvModel, inputs: Tensor<Float32Array>[], tensors: { layer: string; penultimate: string; output: string }) {
  const sample = inputs[0].data.length;
  const data = new Float32Array(inputs.length * sample);
  inputs.forEach((t, i) => data.set(t.data, i * sample));
  const batch: Tensor = { dtype: 'float32', dims: [inputs.length, ...inputs[0].dims.slice(1)], data };
  const outputs = await model.run({ [model.input.name]: batch }, exposedTensors(tensors));
  return recordsOf(outputs, tensors, inputs.length);
}

/** Features of one preprocessed input [1, C, H, W] (not cached): for queries such as neighbours. */
export async function imageFeatures(model: ConvModel, input: Tensor<Float32Array>, layer?: string, penultimate?: string): Promise<ImageFeatures> {
  const tensors = resolveTensors(model, layer, penultimate);
  const { layout, records } = await runBatch(model, [input], tensors);
  return unpack(records[0], layout);
}

function unpack(record: Float32Array, layout: RecordLayout): ImageFeatures {
  const c = layout.channels;
  const logits = record.subarray(3 * c + layout.penultimate);
  return {
    meanPooled: record.subarray(0, c),
    maxPooled: record.subarray(c, 2 * c),
    maxPosition: Int32Array.from(record.subarray(2 * c, 3 * c)),
    penultimate: record.subarray(3 * c, 3 * c + layout.penultimate),
    logits,
    prediction: argmax(logits),
  };
}

/** Decodes and preprocesses one image (in a pool thread when there is one); the reason when it cannot be read. */
async function loadImage(input: InputPipeline, image: DatasetImage, pool: DecodePool | undefined): Promise<{ tensor: Tensor<Float32Array> } | { reason: string }> {
  try {
    if (pool && input.pooled) {
      try {
        return { tensor: await pool.decode(image.file, input.pooled.spec, input.pooled.limits) };
      } catch (err) {
        // The pool failed, not the image: decoded here instead (unless the work was given up).
        if (!(err instanceof DecodePoolError) || pool.closed) throw err;
      }
    }
    return { tensor: input.toTensor(await input.decode(image.file)) };
  } catch (err) {
    return { reason: (err as Error).message };
  }
}

/** The images `indices` decoded, in order, with those that cannot be read recorded in `skipped` (in order too). */
async function loadImages(input: InputPipeline, images: DatasetImage[], indices: number[], pool: DecodePool | undefined, skipped: SkippedImage[]) {
  const loaded = await Promise.all(indices.map((i) => loadImage(input, images[i], pool)));
  const ready: { i: number; tensor: Tensor<Float32Array> }[] = [];
  loaded.forEach((l, j) => {
    if ('tensor' in l) ready.push({ i: indices[j], tensor: l.tensor });
    else skipped.push({ relPath: images[indices[j]].relPath, reason: l.reason });
  });
  return ready;
}

/** The per-image arrays of DatasetFeatures for `n` images, filled row by row. */
class FeatureRows {
  readonly meanPooled: Float32Array;
  readonly maxPooled: Float32Array;
  readonly maxPosition: Int32Array;
  readonly penultimate: Float32Array;
  readonly logits: Float32Array;
  readonly predictions: Int32Array;
  /** 1 where row i holds a record. */
  readonly filled: Uint8Array;

  constructor(
    readonly layout: RecordLayout,
    readonly n: number,
  ) {
    const c = layout.channels;
    this.meanPooled = new Float32Array(n * c);
    this.maxPooled = new Float32Array(n * c);
    this.maxPosition = new Int32Array(n * c);
    this.penultimate = new Float32Array(n * layout.penultimate);
    this.logits = new Float32Array(n * layout.classes);
    this.predictions = new Int32Array(n);
    this.filled = new Uint8Array(n);
  }

  set(i: number, record: Float32Array): void {
    const f = unpack(record, this.layout);
    const c = this.layout.channels;
    this.meanPooled.set(f.meanPooled, i * c);
    this.maxPooled.set(f.maxPooled, i * c);
    this.maxPosition.set(f.maxPosition, i * c);
    this.penultimate.set(f.penultimate, i * this.layout.penultimate);
    this.logits.set(f.logits, i * this.layout.classes);
    this.predictions[i] = f.prediction;
    this.filled[i] = 1;
  }

  /** The filled rows only, in order (a copy only when some row is empty). */
  kept(): { rows: number[]; arrays: Pick<DatasetFeatures, 'meanPooled' | 'maxPooled' | 'maxPosition' | 'penultimateFeatures' | 'logits' | 'predictions'> } {
    const rows = Array.from({ length: this.n }, (_, i) => i).filter((i) => this.filled[i]);
    const c = this.layout.channels;
    const pick = <A extends Float32Array | Int32Array>(data: A, width: number): A => {
      if (rows.length === this.n) return data;
      const out = new (data.constructor as new (length: number) => A)(rows.length * width);
      rows.forEach((row, j) => out.set(data.subarray(row * width, (row + 1) * width), j * width));
      return out;
    };
    return {
      rows,
      arrays: {
        meanPooled: pick(this.meanPooled, c),
        maxPooled: pick(this.maxPooled, c),
        maxPosition: pick(this.maxPosition, c),
        penultimateFeatures: pick(this.penultimate, this.layout.penultimate),
        logits: pick(this.logits, this.layout.classes),
        predictions: pick(this.predictions, 1),
      },
    };
  }
}

/** "1m05s" style duration for progress lines. */
function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Progress message with the rate and time left, measured on the images computed so far. */
export function progressWithEta(done: number, total: number, computed: number, remaining: number, startedMs: number, nowMs: number): string {
  const seconds = (nowMs - startedMs) / 1000;
  if (computed === 0 || seconds <= 0 || remaining === 0) return `${done}/${total} images`;
  const rate = computed / seconds;
  return `${done}/${total} images, ${rate.toFixed(rate < 10 ? 1 : 0)} images/s, ${formatDuration(remaining / rate)} left`;
}

/**
 * Features of every image under `folder` (or of one shard of them): read from the cache where
 * valid, computed in batches otherwise (each batch written to the cache as soon as it is done, so a
 * cancelled or crashed run resumes). Memory is the result arrays plus one batch and one cache chunk:
 * records go straight into their rows. Images that cannot be decoded are left out and listed in `skipped`.
 */
export async function extractFeatures(model: ConvModel, folder: string, options: FeatureOptions = {}): Promise<DatasetFeatures> {
  const tensors = resolveTensors(model, options.layer, options.penultimate);
  const input = options.input ?? inputPipelineFor(model);
  const outputDims = (await model.probeShapes()).get(tensors.output) ?? [];
  const classCount = outputDims[outputDims.length - 1] ?? 0;
  const labels = input.labels ?? (model.file ? findLabelsFile(model.file) : undefined);
  const unlabelled = listDataset(folder);
  const whole = withClassNames(unlabelled, chooseClassNames(unlabelled, classCount, options.classNames ?? labelsFor(classCount, labels)));
  const shard = options.shard;
  const listing = shard ? { ...whole, images: whole.images.filter((im) => shardOfPath(im.relPath, shard.count) === shard.index) } : whole;
  const hash = modelHash(model);
  const cache = options.cacheDir
    ? FeatureCache.open(options.cacheDir, hash, { layer: tensors.layer, penultimate: tensors.penultimate, output: tensors.output, input: input.key })
    : undefined;

  const total = listing.images.length;
  const rowOfKey = new Map<string, number>();
  listing.images.forEach((im, i) => {
    const entry = statEntry(im.file);
    if (!entry) throw new DatasetError(`cannot read ${im.relPath}`);
    rowOfKey.set(entryKey(entry), i);
  });
  let rows: FeatureRows | undefined;
  const stats: FeatureStats = { computed: 0, cached: 0, modelRuns: 0 };
  cache?.scan(
    (entry, record, layout) => {
      const i = rowOfKey.get(entryKey(entry));
      if (i === undefined) return;
      rows ??= new FeatureRows(layout, total);
      if (rows.filled[i]) return;
      rows.set(i, record);
      stats.cached++;
    },
    (entry) => rowOfKey.has(entryKey(entry)),
  );
  const keys = [...rowOfKey.keys()];
  rowOfKey.clear();
  const missing = Array.from({ length: total }, (_, i) => i).filter((i) => !rows?.filled[i]);
  const skipped: SkippedImage[] = [];
  const started = Date.now();
  const report = () => {
    const done = stats.cached + stats.computed + skipped.length;
    const remaining = total - done;
    options.progress?.(
      total === 0 ? 1 : done / total,
      `features${shard ? ` (${describeShard(shard)})` : ''}: ${progressWithEta(done, total, stats.computed, remaining, started, Date.now())} (${stats.cached} from the cache)`,
    );
  };
  const batchSize = missing.length > 0 ? await fittingBatchSize(model, input.size, exposedTensors(tensors), options.batchSize ?? 32) : 1;
  // onnxruntime-node runs a session synchronously on this thread: with a decode pool, the next
  // batch's images are decoded in its threads while this batch runs (one batch ahead, so memory
  // stays two batches of inputs); without one, image after image here, as before.
  const pool = missing.length > 1 && input.pooled ? DecodePool.start() : undefined;
  try {
    const batchAt = (start: number) => loadImages(input, listing.images, missing.slice(start, start + batchSize), pool, skipped);
    let next = missing.length > 0 ? batchAt(0) : undefined;
    for (let start = 0; start < missing.length; start += batchSize) {
      throwIfCancelled(options.signal);
      const ready = await (next as ReturnType<typeof batchAt>);
      next = pool && start + batchSize < missing.length ? batchAt(start + batchSize) : undefined;
      if (ready.length > 0) {
        const batch = await runBatch(
          model,
          ready.map((x) => x.tensor),
          tensors,
        );
        stats.modelRuns++;
        stats.computed += ready.length;
        if (rows && JSON.stringify(rows.layout) !== JSON.stringify(batch.layout)) {
          throw new DatasetError(`images give layer outputs of different shapes; the dataset's images must all preprocess to one size`);
        }
        rows ??= new FeatureRows(batch.layout, total);
        const batchRows = rows;
        ready.forEach((x, j) => batchRows.set(x.i, batch.records[j]));
        cache?.write(
          batch.layout,
          ready.map((x) => parseEntryKey(keys[x.i])),
          batch.records,
        );
      }
      report();
      next ??= start + batchSize < missing.length ? batchAt(start + batchSize) : undefined;
    }
  } finally {
    await pool?.dispose();
  }
  if (missing.length === 0) report();
  if (cache && shard) {
    cache.writeShardManifest({
      index: shard.index,
      count: shard.count,
      listing: sha256(whole.images.map((im) => im.relPath).join('\n')),
      images: total,
      computed: stats.computed,
      skipped: skipped.length,
    });
  }
  if (!rows) throw new DatasetError(`no image in ${folder}${shard ? ` (${describeShard(shard)})` : ''} could be read: ${skipped[0]?.reason ?? 'no images'}`);
  const kept = rows.kept();
  const images = kept.rows.map((i) => listing.images[i]);
  const layout = rows.layout;
  return {
    root: listing.root,
    modelHash: hash,
    layer: tensors.layer,
    penultimate: tensors.penultimate,
    output: tensors.output,
    classNames: listing.classNames,
    images,
    labelled: images.every((im) => im.label !== undefined),
    layerShape: [layout.channels, layout.height, layout.width],
    inputSize: input.size,
    ...kept.arrays,
    penultimateSize: layout.penultimate,
    stats,
    skipped,
  };
}
