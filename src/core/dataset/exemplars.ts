// What a channel responds to across a dataset: the images where its peak activation is highest,
// the input patch under that peak, and the channel's activation map on those images. As in network
// dissection / "top activating patches" (Zeiler & Fergus, ECCV 2014, §2.1; Bau et al., CVPR 2017):
// rank images by max_{y,x} A[c, y, x]. The patch of layer position (y, x) is its theoretical
// receptive field (src/core/inside/receptive-field.ts): centred at start + (y, x)·jump, `size` wide,
// clipped to the input; the whole input when the field cannot be derived from the graph.
import { ConvModel } from '../model';
import { Tensor } from '../tensor';
import { DatasetError } from './errors';
import { DatasetFeatures } from './features';
import { ReceptiveField, receptiveFieldOf, receptiveFields } from '../inside/receptive-field';
import { InputPipeline, inputPipelineFor } from './input';

export interface ChannelPatch {
  /** Index into features.images. */
  image: number;
  relPath: string;
  /** The channel's peak activation on the image. */
  activation: number;
  /** Layer position of the peak. */
  row: number;
  col: number;
  /** [x0, y0, x1, y1] in model input pixels (x1, y1 exclusive): the receptive field of the peak. */
  box: [number, number, number, number];
  labelName?: string;
  prediction: number;
}

export interface ActivationMap {
  relPath: string;
  height: number;
  width: number;
  /** Row-major height × width. */
  values: Float32Array;
}

export interface ChannelExemplars {
  channel: number;
  /** Why patches are whole images, when the layer's receptive field could not be derived. */
  fieldProblem?: string;
  patches: ChannelPatch[];
  /** The channel's map on each patch's image, in the same order. */
  maps: ActivationMap[];
}

function checkChannel(features: DatasetFeatures, channel: number): void {
  const c = features.layerShape[0];
  if (!Number.isInteger(channel) || channel < 0 || channel >= c) {
    throw new DatasetError(`channel ${channel} does not exist: ${features.layer} has channels 0 to ${c - 1}`);
  }
}

/** [x0, y0, x1, y1] (x1, y1 exclusive) of the input pixels layer position (row, col) sees, clipped to the input. */
export function receptiveBox(field: Pick<ReceptiveField, 'size' | 'jump' | 'start'>, row: number, col: number, inputSize: [number, number]): [number, number, number, number] {
  const span = (axis: 0 | 1, index: number): [number, number] => {
    const low = Math.round(field.start[axis] + index * field.jump[axis] - (field.size[axis] - 1) / 2);
    return [Math.max(0, low), Math.min(inputSize[axis], low + field.size[axis])];
  };
  const [y0, y1] = span(0, row);
  const [x0, x1] = span(1, col);
  return [x0, y0, x1, y1];
}

/** The layer's receptive field, or why there is none (then patches are the whole input). */
export async function layerField(model: ConvModel, features: DatasetFeatures): Promise<{ field?: ReceptiveField; problem?: string }> {
  try {
    return { field: receptiveFieldOf(await receptiveFields(model), features.layer) };
  } catch (err) {
    return { problem: (err as Error).message };
  }
}

/** The k images where `channel` peaks highest, with the patch under each peak. */
export function topPatches(features: DatasetFeatures, channel: number, field: ReceptiveField | undefined, k = 6): ChannelPatch[] {
  checkChannel(features, channel);
  const [c, , width] = features.layerShape;
  const [inH, inW] = features.inputSize;
  const order = features.images.map((_, i) => i).sort((a, b) => features.maxPooled[b * c + channel] - features.maxPooled[a * c + channel] || a - b);
  return order.slice(0, k).map((i) => {
    const position = features.maxPosition[i * c + channel];
    const row = Math.floor(position / width);
    const col = position % width;
    return {
      image: i,
      relPath: features.images[i].relPath,
      activation: features.maxPooled[i * c + channel],
      row,
      col,
      box: field ? receptiveBox(field, row, col, features.inputSize) : [0, 0, inW, inH],
      labelName: features.images[i].labelName,
      prediction: features.predictions[i],
    };
  });
}

/** The layer's activation of `channel` on the given images (one forward pass each batch of them). */
export async function channelMaps(
  model: ConvModel,
  features: DatasetFeatures,
  channel: number,
  images: number[],
  input: InputPipeline = inputPipelineFor(model),
): Promise<ActivationMap[]> {
  checkChannel(features, channel);
  if (images.length === 0) return [];
  const tensors = await Promise.all(images.map(async (i) => input.toTensor(await input.decode(features.images[i].file))));
  const maps: ActivationMap[] = [];
  const batch = (await model.supportsBatch()) ? images.length : 1;
  for (let start = 0; start < images.length; start += batch) {
    const part = tensors.slice(start, start + batch);
    const sample = part[0].data.length;
    const data = new Float32Array(part.length * sample);
    part.forEach((t, j) => data.set(t.data, j * sample));
    const feeds: Record<string, Tensor> = { [model.input.name]: { dtype: 'float32', dims: [part.length, ...part[0].dims.slice(1)], data } };
    const out = (await model.run(feeds, [features.layer]))[features.layer];
    const [c, h, w] = features.layerShape;
    part.forEach((_, j) => {
      const base = (j * c + channel) * h * w;
      maps.push({ relPath: features.images[images[start + j]].relPath, height: h, width: w, values: Float32Array.from((out.data as Float32Array).subarray(base, base + h * w)) });
    });
  }
  return maps;
}

/** Top patches and their activation maps for each channel. */
export async function channelExemplars(model: ConvModel, features: DatasetFeatures, channels: number[], k = 6, input?: InputPipeline): Promise<ChannelExemplars[]> {
  const { field, problem } = await layerField(model, features);
  const result: ChannelExemplars[] = [];
  for (const channel of channels) {
    const patches = topPatches(features, channel, field, k);
    const maps = await channelMaps(
      model,
      features,
      channel,
      patches.map((p) => p.image),
      input,
    );
    result.push({ channel, fieldProblem: problem, patches, maps });
  }
  return result;
}
