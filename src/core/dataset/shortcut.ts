// Spurious-feature check: which channels of a layer respond to a mark planted in some images (a
// watermark, a ruler, a tag — here the sample's 4×4 corner mark). For every marked image the mark
// is removed by filling its box with the mean colour of the one-pixel ring around it, and the
// layer's pooled activation is compared with and without the mark (an intervention on the input, as
// in the "clever Hans" analyses of Lapuschkin et al., Nature Communications 2019):
//   difference_c = mean over marked images of p_c(image) − p_c(image without mark)
//   effect_c     = difference_c / σ_c
// where p_c is the channel's pooled activation (max over space by default: a mark is local) and
// σ_c its standard deviation over the whole dataset, so channels of different scales compare.
// Marked images whose predicted class changes without the mark are listed: a clean network
// may respond to a bright mark in some channels, a network that learned the shortcut changes its
// decisions. A channel counts as a mark channel when effect_c ≥ MARK_EFFECT (one standard
// deviation): rules that test such a channel read the mark.
import * as path from 'path';
import { FileReadError, isInside, readFileChecked } from '../files';
import { RunControl } from '../explain/forward';
import { throwIfCancelled } from '../cancel';
import { RgbImage } from '../image/image';
import { ConvModel } from '../model';
import { argmax, Tensor } from '../tensor';
import { DatasetError } from './errors';
import { DatasetFeatures, fittingBatchSize } from './features';
import { InputPipeline, inputPipelineFor } from './input';
import { Pooling } from './rules';

/** Effect (in standard deviations of the channel over the dataset) from which a channel responds to the mark. */
export const MARK_EFFECT = 1;

/** [x0, y0, x1, y1] in image pixels, x1 and y1 exclusive. */
export type Box = [number, number, number, number];

export interface MarkedImage {
  /** Absolute path. */
  file: string;
  box: Box;
}

export interface ChannelMarkResponse {
  channel: number;
  withMark: number;
  withoutMark: number;
  difference: number;
  effect: number;
}

export interface PredictionChange {
  relPath: string;
  /** Class index predicted with the mark, and without it. */
  withMark: number;
  withoutMark: number;
}

export interface MarkResponse {
  layer: string;
  pooling: Pooling;
  /** Marked images found in the dataset and measured. */
  images: number;
  /** All channels, strongest positive effect first. */
  channels: ChannelMarkResponse[];
  /** Marked images whose prediction changes when the mark is removed: the network relies on it. */
  predictionChanges: PredictionChange[];
}

/** 64 MiB of boxes is hundreds of thousands of images; more is not a boxes file. */
const MAX_BOXES_BYTES = 64 * 2 ** 20;

/**
 * Marked images from a dataset description like the sample's boxes.json:
 * { images: { "<path relative to the JSON file>": { mark: { bbox: [x0, y0, x1, y1] } | null } } }.
 */
export function readMarkBoxes(jsonFile: string): MarkedImage[] {
  let parsed: { images?: Record<string, { mark?: { bbox?: unknown } | null } | null> } | null;
  try {
    parsed = JSON.parse(readFileChecked(jsonFile, { what: 'mark boxes file', maxBytes: MAX_BOXES_BYTES, limitHint: 'it holds one box per image' }).toString('utf8'));
  } catch (err) {
    // The reader's refusal already names the file and why; a parse error needs the file named.
    if (err instanceof FileReadError) throw new DatasetError(err.message);
    throw new DatasetError(`cannot read mark boxes from ${jsonFile}: ${(err as Error).message}`);
  }
  if (!parsed?.images || typeof parsed.images !== 'object' || Array.isArray(parsed.images)) throw new DatasetError(`${jsonFile} has no "images" object`);
  const dir = path.dirname(path.resolve(jsonFile));
  return Object.entries(parsed.images).flatMap(([rel, info]) => {
    const box = typeof info === 'object' && info !== null && typeof info.mark === 'object' && info.mark !== null ? info.mark.bbox : undefined;
    if (box === undefined || box === null) return [];
    if (!Array.isArray(box) || box.length !== 4 || box.some((v) => !Number.isInteger(v))) throw new DatasetError(`the mark box of ${rel} in ${jsonFile} is not four whole numbers`);
    const file = path.resolve(dir, rel);
    if (!isInside(dir, file)) throw new DatasetError(`the mark box image ${JSON.stringify(rel)} in ${jsonFile} is outside the file's folder; only images inside it are read`);
    return [{ file, box: box as Box }];
  });
}

/** A copy of the image with the box filled by the mean colour of the one-pixel ring around it. */
export function removeMark(image: RgbImage, box: Box): RgbImage {
  const [x0, y0, x1, y1] = box;
  if (x0 < 0 || y0 < 0 || x1 > image.width || y1 > image.height || x0 >= x1 || y0 >= y1) {
    throw new DatasetError(`mark box [${box.join(', ')}] does not fit a ${image.width}×${image.height} image`);
  }
  const sum = [0, 0, 0];
  let count = 0;
  for (let y = y0 - 1; y <= y1; y++) {
    for (let x = x0 - 1; x <= x1; x++) {
      const onRing = y === y0 - 1 || y === y1 || x === x0 - 1 || x === x1;
      if (!onRing || x < 0 || y < 0 || x >= image.width || y >= image.height) continue;
      for (let c = 0; c < 3; c++) sum[c] += image.data[(y * image.width + x) * 3 + c];
      count++;
    }
  }
  const data = Uint8Array.from(image.data);
  const fill = sum.map((s) => (count ? Math.round(s / count) : 0));
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) for (let c = 0; c < 3; c++) data[(y * image.width + x) * 3 + c] = fill[c];
  return { width: image.width, height: image.height, data };
}

function pooled(activation: Float32Array, b: number, c: number, spatial: number, pooling: Pooling): Float64Array {
  const out = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    const base = (b * c + ch) * spatial;
    let acc = pooling === 'max' ? -Infinity : 0;
    for (let i = 0; i < spatial; i++) acc = pooling === 'max' ? Math.max(acc, activation[base + i]) : acc + activation[base + i];
    out[ch] = pooling === 'max' ? acc : acc / spatial;
  }
  return out;
}

export async function markResponse(
  model: ConvModel,
  features: DatasetFeatures,
  marks: MarkedImage[],
  options: RunControl & { pooling?: Pooling; input?: InputPipeline; batchSize?: number } = {},
): Promise<MarkResponse> {
  const pooling = options.pooling ?? 'max';
  const input = options.input ?? inputPipelineFor(model);
  const byFile = new Map(marks.map((m) => [path.resolve(m.file), m.box]));
  const marked = features.images.map((im, i) => ({ i, box: byFile.get(im.file) })).filter((m): m is { i: number; box: Box } => !!m.box);
  if (marked.length === 0) throw new DatasetError('none of the dataset images is listed as marked (the marks file names images by their path relative to the file)');
  const [c, h, w] = features.layerShape;
  const matrix = pooling === 'max' ? features.maxPooled : features.meanPooled;
  const withSum = new Float64Array(c);
  const withoutSum = new Float64Array(c);
  for (const { i } of marked) for (let ch = 0; ch < c; ch++) withSum[ch] += matrix[i * c + ch];
  const changes: PredictionChange[] = [];
  const batchSize = await fittingBatchSize(model, features.inputSize, [features.layer, features.output], options.batchSize ?? 32);
  for (let start = 0; start < marked.length; start += batchSize) {
    throwIfCancelled(options.signal);
    const part = marked.slice(start, start + batchSize);
    const tensors = await Promise.all(part.map(async ({ i, box }) => input.toTensor(removeMark(await input.decode(features.images[i].file), box))));
    const sample = tensors[0].data.length;
    const data = new Float32Array(part.length * sample);
    tensors.forEach((t, j) => data.set(t.data, j * sample));
    const batch: Tensor = { dtype: 'float32', dims: [part.length, ...tensors[0].dims.slice(1)], data };
    const outputs = await model.run({ [model.input.name]: batch }, [features.layer, features.output]);
    const activation = outputs[features.layer].data as Float32Array;
    const logits = outputs[features.output].data as Float32Array;
    const classes = logits.length / part.length;
    part.forEach(({ i }, b) => {
      pooled(activation, b, c, h * w, pooling).forEach((v, ch) => (withoutSum[ch] += v));
      const withoutMark = argmax(logits, b * classes, classes);
      if (withoutMark !== features.predictions[i]) changes.push({ relPath: features.images[i].relPath, withMark: features.predictions[i], withoutMark });
    });
    options.progress?.((start + part.length) / marked.length, `mark check: ${start + part.length}/${marked.length} images`);
  }
  const n = features.images.length;
  const channels = Array.from({ length: c }, (_, ch): ChannelMarkResponse => {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += matrix[i * c + ch] / n;
    let variance = 0;
    for (let i = 0; i < n; i++) variance += (matrix[i * c + ch] - mean) ** 2 / n;
    const withMark = withSum[ch] / marked.length;
    const withoutMark = withoutSum[ch] / marked.length;
    const difference = withMark - withoutMark;
    const sigma = Math.sqrt(variance);
    return { channel: ch, withMark, withoutMark, difference, effect: sigma > 0 ? difference / sigma : 0 };
  }).sort((a, b) => b.effect - a.effect || a.channel - b.channel);
  return { layer: features.layer, pooling, images: marked.length, channels, predictionChanges: changes };
}

/** The mark channels of a response: effect ≥ `minEffect`, strongest first. */
export function markChannels(response: MarkResponse, minEffect = MARK_EFFECT): number[] {
  return response.channels.filter((c) => c.effect >= minEffect).map((c) => c.channel);
}
