// What the job modules share with the worker's job runner: the open models and loaded images,
// and the small conversions every view needs (PNG data URLs, maps for the protocol, layer names).
import type { MapData } from '../../protocol';
import type { ModelContext } from '../../core/context';
import { InputPipeline, inputPipelineFor } from '../../core/dataset/input';
import { FloatImage } from '../../core/image/image';
import { encodePng } from '../../core/image/overlay';
import { resizeSkimage } from '../../core/image/resample';
import { FloatTensor, Tensor, mapToFloat32 } from '../../core/tensor';

export { layerTensor } from '../../core/explain/layer';

export interface WorkerImage {
  modelPath: string;
  name: string;
  tensor: Tensor;
  rgb?: FloatImage;
  /** Where the image's file is (or its bytes, when dropped): exports decode it again at full size. */
  source?: { path: string } | { bytes: Uint8Array };
}

/** The job runner's state, as the job modules reach it. */
export interface WorkerState {
  contextFor(modelPath: string): ModelContext;
  imageFor(imageId: string): WorkerImage;
}

/** How the model's images become inputs, as the worker's context resolved it (settings, sidecar, ...). */
export function pipelineFor(ctx: ModelContext): InputPipeline {
  if (!ctx.preprocessing) throw new Error(`cannot preprocess images for ${ctx.name}: ${ctx.preprocessingProblem}`);
  return { ...inputPipelineFor(ctx.model, { spec: ctx.preprocessing.spec }), labels: ctx.preprocessing.labels };
}

/** Values (any range) as protocol map data, rounded to 1e-4 (enough for 256-level colormaps). */
export function mapData(values: ArrayLike<number>, width: number, height: number): MapData {
  const rounded = Array.from(values, (v) => Math.round(v * 1e4) / 1e4);
  return { width, height, values: rounded, signed: rounded.some((v) => v < 0) || undefined };
}

/**
 * A map tensor as protocol map data: [..., h, w] as one plane; a signal's [L] and a video's
 * [T, H, W] (T > 1) with their shape, so they reach the view intact.
 */
export function tensorMapData(map: Tensor): MapData {
  if (map.dims.length === 1) return { ...mapData(map.data as ArrayLike<number>, map.dims[0], 1), shape: [...map.dims] };
  const [height, width] = map.dims.slice(-2);
  const data = mapData(map.data as ArrayLike<number>, width, height);
  return map.dims.length === 3 && map.dims[0] > 1 ? { ...data, shape: [...map.dims] } : data;
}

/** (v − min) / (max − min), all zeros for a constant map. */
export function scaled01(values: ArrayLike<number>): Float32Array {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < min) min = values[i];
    if (values[i] > max) max = values[i];
  }
  const range = max - min;
  return mapToFloat32(values, (v) => (range > 0 ? (v - min) / range : 0));
}

export function pngDataUrl(rgba: Uint8Array, width: number, height: number): string {
  return `data:image/png;base64,${Buffer.from(encodePng(rgba, width, height)).toString('base64')}`;
}

/** An HWC image in [0, 1] (1 or 3 channels) as a PNG data URL, downscaled (antialiased) to at most `maxSide`. */
export function imageDataUrl(image: FloatImage, maxSide = Infinity): string {
  let { width, height, data } = image;
  const channels = image.channels;
  if (Math.max(width, height) > maxSide) {
    const scale = maxSide / Math.max(width, height);
    const resized = resizeSkimage(image, Math.max(1, Math.round(height * scale)), Math.max(1, Math.round(width * scale)), 1);
    ({ width, height, data } = resized);
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) rgba[p * 4 + c] = Math.round(255 * Math.min(1, Math.max(0, data[p * channels + (channels === 1 ? 0 : c)])));
    rgba[p * 4 + 3] = 255;
  }
  return pngDataUrl(rgba, width, height);
}

/** A [C, H, W] image in [0, 1] (C = 1 or 3) as a PNG data URL. */
export function chwDataUrl(t: FloatTensor): string {
  const [c, h, w] = t.dims;
  const hwc = new Float32Array(h * w * c);
  for (let k = 0; k < c; k++) for (let p = 0; p < h * w; p++) hwc[p * c + k] = t.data[k * h * w + p];
  return imageDataUrl({ width: w, height: h, channels: c, data: hwc });
}
