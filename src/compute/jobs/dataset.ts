// The dataset jobs of the compute worker: features of a folder of images (src/core/dataset/features.ts,
// cached on disk), then on those features the distilled rules with each tested channel's top
// patches (rules.ts, exemplars.ts), the channels that respond to a planted mark (shortcut.ts), the
// nearest neighbours of a loaded image (neighbors.ts) and channel
// importance for a class (importance.ts). The methods and their references are in those files;
// this one turns their results into the protocol's views.
//
// A patch's map is the channel's activation on the image divided by the channel's largest
// activation over the shown patches, clipped to [0, 1], so a channel's patches compare.
import * as path from 'path';
import type { ChannelExemplarView, DatasetImageView, DatasetView, MarkCheckView, NeighborsView, PatchView, RulesView } from '../../protocol';
import { ModelContext } from '../../core/context';
import {
  ablationImportance,
  ActivationMap,
  channelExemplars,
  ChannelPatch,
  DatasetFeatures,
  distillRules,
  extractFeatures,
  gradientImportance,
  InputPipeline,
  neighborsOf,
  rowOf,
  RuleSet,
  rulesToJson,
  rulesToText,
  summarizeDataset,
} from '../../core/dataset';
import { MARK_EFFECT, markChannels, MarkedImage, markResponse, readMarkBoxes } from '../../core/dataset/shortcut';
import { throwIfCancelled } from '../../core/cancel';
import { FloatImage } from '../../core/image/image';
import { cropImage } from '../../core/image/resample';
import { softmax } from '../../core/labels/labels';
import { resizeForModel } from '../../core/preprocess';
import { Tensor, mapToFloat32 } from '../../core/tensor';
import { JobContext, JobHandlers } from '../jobs';
import { imageDataUrl, layerTensor, mapData, pipelineFor, WorkerState } from './state';

/** Datasets up to this many images carry thumbnails (hover in the feature map, neighbours). */
const MAX_THUMBNAILS = 2000;
export const THUMBNAIL_SIDE = 64;
const PATCH_SIDE = 96;
/** Channels the mark check lists. */
const SHOWN_MARK_CHANNELS = 8;
/** The marks file a dataset may carry at its root (as sample/dataset-shortcut does). */
const MARKS_FILE = 'boxes.json';
/** Datasets kept at once; the oldest is dropped first. */
const MAX_KEPT = 4;

export interface KeptDataset {
  modelPath: string;
  features: DatasetFeatures;
  input: InputPipeline;
  rules?: RuleSet;
}

export class DatasetGoneError extends Error {
  constructor() {
    super('the dataset is no longer loaded (the model was reopened); extract its features again');
    this.name = 'DatasetGoneError';
  }
}

/** The datasets a worker keeps between jobs, by id, the oldest dropped first beyond MAX_KEPT. */
export class KeptDatasets {
  private readonly byId = new Map<string, KeptDataset>();
  private nextId = 1;

  /** Keeps a dataset and returns its new id. */
  add(dataset: KeptDataset): string {
    const datasetId = `ds-${this.nextId++}`;
    this.byId.set(datasetId, dataset);
    while (this.byId.size > MAX_KEPT) this.byId.delete(this.byId.keys().next().value as string);
    return datasetId;
  }

  get(datasetId: string): KeptDataset | undefined {
    return this.byId.get(datasetId);
  }

  /** The dataset by id, or the error that says it is gone. */
  kept(datasetId: string): KeptDataset {
    const found = this.byId.get(datasetId);
    if (!found) throw new DatasetGoneError();
    return found;
  }

  /** How many datasets are kept now (the worker's status). */
  get size(): number {
    return this.byId.size;
  }

  /** Drops the datasets of a model that closes. */
  forgetModel(modelPath: string): void {
    for (const [id, kept] of this.byId) if (kept.modelPath === modelPath) this.byId.delete(id);
  }
}

/** The dataset jobs on the worker's state; `datasets` is the worker's own, or a fresh store for a caller that keeps none. */
export function datasetJobs(
  state: WorkerState,
  datasets = new KeptDatasets(),
): JobHandlers<'datasetFeatures' | 'datasetRules' | 'datasetMarkCheck' | 'exportRules' | 'datasetNeighbors' | 'datasetImportance'> {
  const kept = (datasetId: string): KeptDataset & { ctx: ModelContext } => {
    const found = datasets.kept(datasetId);
    return { ...found, ctx: state.contextFor(found.modelPath) };
  };

  return {
    async datasetFeatures({ modelPath, folder, layer, cacheDir }, job) {
      const ctx = state.contextFor(modelPath);
      const input = pipelineFor(ctx);
      const features = await extractFeatures(ctx.model, folder, {
        layer: await layerTensor(ctx.model, layer),
        cacheDir,
        classNames: ctx.labels,
        input,
        signal: job.signal,
        progress: (f, m) => job.progress(0.85 * f, m),
      });
      const thumbnails = features.images.length <= MAX_THUMBNAILS ? await thumbnailsOf(features, input, job) : undefined;
      const datasetId = datasets.add({ modelPath, features, input });
      return { datasetId, view: { ...datasetView(features, thumbnails, cacheDir !== undefined), marks: ownMarks(features) } };
    },

    async datasetRules({ datasetId, depth, minLeaf, pooling, patches }, job) {
      const { features, input, ctx } = kept(datasetId);
      job.progress(0.1, `distilling rules (depth ≤ ${depth}, ≥ ${minLeaf} images a leaf, channel ${pooling ?? 'mean'})`);
      const set = distillRules(features, { depth, minLeaf, pooling });
      datasets.get(datasetId)!.rules = set;
      throwIfCancelled(job.signal);
      job.progress(0.4, `top patches of ${set.channels.length} channels`);
      const exemplars = await channelExemplars(ctx.model, features, set.channels, patches ?? 6, input);
      const images = new Map<number, FloatImage>();
      const channels: ChannelExemplarView[] = [];
      for (const e of exemplars) {
        throwIfCancelled(job.signal);
        const peak = Math.max(1e-12, ...e.maps.flatMap((m) => Array.from(m.values)));
        const patchViews: PatchView[] = [];
        for (const [i, p] of e.patches.entries()) patchViews.push(patchView(features, p, e.maps[i], peak, await modelImage(features, p.image, input, images)));
        channels.push({ channel: e.channel, patches: patchViews, fieldProblem: e.fieldProblem });
      }
      return rulesView(set, channels);
    },

    async datasetMarkCheck({ datasetId, marksFile, pooling }, job) {
      const { features, input, ctx } = kept(datasetId);
      const marks = readMarkBoxes(marksFile);
      job.progress(0, `mark check: ${marks.length} images listed as marked`);
      const response = await markResponse(ctx.model, features, marks, { pooling, input, signal: job.signal, progress: job.progress });
      const className = (i: number) => features.classNames[i] ?? `class ${i}`;
      const view: MarkCheckView = {
        file: path.basename(marksFile),
        layer: response.layer,
        pooling: response.pooling,
        listed: marks.length,
        images: response.images,
        minEffect: MARK_EFFECT,
        markChannels: markChannels(response),
        channels: response.channels.slice(0, SHOWN_MARK_CHANNELS).map((c) => ({ channel: c.channel, withMark: c.withMark, withoutMark: c.withoutMark, effect: c.effect })),
        predictionChanges: response.predictionChanges.map((c) => ({ relPath: c.relPath, withMark: className(c.withMark), withoutMark: className(c.withoutMark) })),
      };
      return view;
    },

    async exportRules({ datasetId, format }) {
      const { features, rules } = kept(datasetId);
      if (!rules) throw new Error('no rules to export yet: distil them first');
      const base = `rules-${path.basename(features.root)}-${rules.layer.replace(/^\/+/, '').replace(/[^\w.-]+/g, '_')}`;
      const text = format === 'json' ? rulesToJson(rules) : rulesToText(rules);
      return { bytes: new Uint8Array(Buffer.from(`${text}\n`, 'utf8')), suggestedName: `${base}.${format}` };
    },

    async datasetNeighbors({ datasetId, imageId, k }) {
      const { features, ctx } = kept(datasetId);
      const image = state.imageFor(imageId);
      const result = await neighborsOf(ctx.model, features, image.tensor as Tensor<Float32Array>, { k });
      const view: NeighborsView = {
        imageId,
        metric: result.metric,
        space: result.space,
        predictionName: result.query.predictionName,
        neighbors: result.neighbors.map((n) => ({ image: n.image, relPath: n.relPath, distance: n.distance, labelName: n.labelName, predictionName: n.predictionName })),
      };
      return view;
    },

    async datasetImportance({ datasetId, classIndex, method, channels }, job) {
      const { features, input, ctx } = kept(datasetId);
      const options = { classIndex, input, signal: job.signal, progress: job.progress };
      const result = method === 'ablation' ? await ablationImportance(ctx.model, features, { ...options, channels }) : await gradientImportance(ctx.model, features, options);
      return { ...result, channels: result.channels.map((c) => ({ channel: c.channel, score: c.score })) };
    },
  };
}

/**
 * The dataset's own marks file when it lists marked images of the dataset; a boxes.json of another
 * kind (object boxes without marks, unreadable) is not one, and says nothing.
 */
function ownMarks(features: DatasetFeatures): DatasetView['marks'] {
  const file = path.join(features.root, MARKS_FILE);
  let listed: MarkedImage[];
  try {
    listed = readMarkBoxes(file);
  } catch {
    return undefined;
  }
  const files = new Set(listed.map((m) => path.resolve(m.file)));
  const marked = features.images.filter((im) => files.has(im.file)).length;
  return marked > 0 ? { file, marked } : undefined;
}

/** The image as the model sees it (resized and cropped as preprocessed), decoded once per job. */
async function modelImage(features: DatasetFeatures, index: number, input: InputPipeline, cache: Map<number, FloatImage>): Promise<FloatImage> {
  let image = cache.get(index);
  if (!image) {
    image = resizeForModel(await input.decode(features.images[index].file), input.spec);
    cache.set(index, image);
  }
  return image;
}

async function thumbnailsOf(features: DatasetFeatures, input: InputPipeline, job: JobContext): Promise<string[]> {
  const thumbnails: string[] = [];
  const n = features.images.length;
  for (let i = 0; i < n; i++) {
    if (i % 16 === 0) {
      throwIfCancelled(job.signal);
      job.progress(0.85 + (0.15 * i) / n, `thumbnails: ${i}/${n} images`);
    }
    thumbnails.push(imageDataUrl(resizeForModel(await input.decode(features.images[i].file), input.spec), THUMBNAIL_SIDE));
  }
  return thumbnails;
}

function datasetView(features: DatasetFeatures, thumbnails: string[] | undefined, stored: boolean): DatasetView {
  const summary = summarizeDataset(features);
  const k = features.classNames.length;
  const images: DatasetImageView[] = features.images.map((im, i) => {
    const prediction = features.predictions[i];
    return {
      relPath: im.relPath,
      labelName: im.labelName,
      label: im.label,
      prediction,
      confidence: softmax(rowOf(features.logits, i, k))[prediction],
      thumbnail: thumbnails?.[i],
    };
  });
  return {
    folder: features.root,
    layer: features.layer,
    layerShape: [...features.layerShape],
    penultimate: features.penultimate,
    inputSize: features.inputSize,
    classNames: features.classNames,
    images,
    classes: summary.classes,
    accuracy: summary.accuracy,
    confusion: summary.confusion,
    unlabelled: summary.unlabelled,
    cache: { ...summary.cache, stored },
    skipped: features.skipped,
  };
}

function patchView(features: DatasetFeatures, p: ChannelPatch, map: ActivationMap, peak: number, image: FloatImage): PatchView {
  const [x0, y0, x1, y1] = p.box;
  const crop = cropImage(image, y0, x0, Math.max(1, y1 - y0), Math.max(1, x1 - x0));
  const values = mapToFloat32(map.values, (v) => Math.min(1, Math.max(0, v / peak)));
  return {
    relPath: p.relPath,
    labelName: p.labelName,
    predictionName: features.classNames[p.prediction] ?? `class ${p.prediction}`,
    activation: p.activation,
    box: p.box,
    crop: imageDataUrl(crop, PATCH_SIDE),
    image: imageDataUrl(image, PATCH_SIDE),
    map: mapData(values, map.width, map.height),
  };
}

function rulesView(set: RuleSet, channels: ChannelExemplarView[]): RulesView {
  return {
    layer: set.layer,
    pooling: set.pooling,
    depth: set.depth,
    minLeaf: set.minLeaf,
    trainImages: set.trainImages,
    testImages: set.testImages,
    fidelity: set.fidelity,
    accuracy: set.accuracy,
    rules: set.rules.map((r) => ({
      text: r.text,
      conditions: r.conditions,
      classIndex: r.classIndex,
      className: r.className,
      coverage: r.coverage,
      purity: r.purity,
      all: r.all,
      test: r.test,
    })),
    channels,
    text: rulesToText(set),
  };
}
