// Inputs that are not pictures, for the panel: which kind of input a model takes (its input's
// rank), the one-sentence refusal of a file of the wrong kind, and how a signal [1, C, L] or a
// video [1, C, T, H, W] is shown (its values for the line plot, its frames as PNGs, a thumbnail).
import type { ImageView } from '../../protocol';
import { InputKind, inputKindOf } from '../../core/preprocess';
import { formatShape, Tensor } from '../../core/tensor';
import { pngDataUrl } from './state';

const WHAT: Record<InputKind, string> = { image: 'images', signal: 'a signal', video: 'a video clip' };
const TAKES: Record<InputKind, string> = {
  image: 'choose a PNG or JPEG image',
  signal: 'choose a .npy tensor or a WAV file of that shape',
  video: 'choose a .npy tensor of that shape',
};

/**
 * Why a file of `format` (from its first bytes) cannot be an input of a model taking `shape`, in
 * one sentence; undefined when it may be (its shape is checked when it is read). A .npy suits any
 * model (an image model's tensors too); a WAV only a signal model; a picture only an image model.
 */
export function inputFormatProblem(name: string, format: 'npy' | 'wav' | 'image', modelName: string, shape: readonly (number | string)[]): string | undefined {
  const kind = inputKindOf(shape);
  const fits = format === 'npy' || (format === 'wav' ? kind === 'signal' : kind === 'image');
  if (fits) return undefined;
  const is = format === 'wav' ? 'audio (WAV)' : 'an image';
  return `${name} is ${is}, but ${modelName} takes ${WHAT[kind]} ${formatShape(shape)}: ${TAKES[kind]}.`;
}

const round = (v: number) => Math.round(v * 1e4) / 1e4;
/** Channels of a signal whose values go to the view: the figure draws the first four (webview MAX_LANES). */
export const SHOWN_CHANNELS = 4;

/** The fields an ImageView adds for a signal or a video input; none for a picture. */
export function ndInputView(tensor: Tensor): Pick<ImageView, 'width' | 'height' | 'dataUrl' | 'signal' | 'frames'> | undefined {
  const data = tensor.data as Float32Array;
  if (tensor.dims.length === 3) {
    const [, channels, length] = tensor.dims;
    const shown = Math.min(channels, SHOWN_CHANNELS) * length;
    return { width: length, height: 1, dataUrl: signalThumbnail(data.subarray(0, length)), signal: { channels, length, values: Array.from(data.subarray(0, shown), round) } };
  }
  if (tensor.dims.length === 5) {
    const [, , , height, width] = tensor.dims;
    const frames = videoFrames(tensor);
    return { width, height, dataUrl: frames[0], frames };
  }
  return undefined;
}

const THUMB_WIDTH = 96;
const THUMB_HEIGHT = 48;

/** A small picture of a signal's first channel: its min–max envelope per column, light on dark. */
export function signalThumbnail(values: ArrayLike<number>): string {
  const rgba = new Uint8Array(THUMB_WIDTH * THUMB_HEIGHT * 4);
  for (let p = 0; p < THUMB_WIDTH * THUMB_HEIGHT; p++) rgba.set([30, 30, 30, 255], p * 4);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    min = Math.min(min, values[i]);
    max = Math.max(max, values[i]);
  }
  const range = max - min || 1;
  const row = (v: number) => Math.round((1 - (v - min) / range) * (THUMB_HEIGHT - 5)) + 2;
  for (let x = 0; x < THUMB_WIDTH; x++) {
    const from = Math.floor((x * values.length) / THUMB_WIDTH);
    const to = Math.max(from + 1, Math.floor(((x + 1) * values.length) / THUMB_WIDTH));
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = from; i < Math.min(to, values.length); i++) {
      lo = Math.min(lo, values[i]);
      hi = Math.max(hi, values[i]);
    }
    if (lo > hi) continue;
    for (let y = row(hi); y <= row(lo); y++) rgba.set([120, 190, 255, 255], (y * THUMB_WIDTH + x) * 4);
  }
  return pngDataUrl(rgba, THUMB_WIDTH, THUMB_HEIGHT);
}

/**
 * A video [1, C, T, H, W] as T PNG frames: one channel as gray, three as RGB (others: the first
 * channel), every value min–max scaled over the whole clip so frames compare.
 */
export function videoFrames(tensor: Tensor): string[] {
  const [, channels, frames, height, width] = tensor.dims;
  const data = tensor.data as Float32Array;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    min = Math.min(min, data[i]);
    max = Math.max(max, data[i]);
  }
  const range = max - min || 1;
  const plane = height * width;
  const rgb = channels === 3 ? [0, 1, 2] : [0, 0, 0];
  return Array.from({ length: frames }, (_, t) => {
    const rgba = new Uint8Array(plane * 4);
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) rgba[p * 4 + c] = Math.round((255 * (data[(rgb[c] * frames + t) * plane + p] - min)) / range);
      rgba[p * 4 + 3] = 255;
    }
    return pngDataUrl(rgba, width, height);
  });
}
