// Loading an input file: an image or a .npy tensor
import * as path from 'path';
import { decodeImage, DecodeOptions, readInputBytes } from '../image/decode';
import { FloatImage, RgbImage } from '../image/image';
import { SizeLimits, checkBytes, checkPixels, checkValues } from '../limits';
import { NpyFormatError, NpyHeader, parseNpy, readNpyHeader } from '../npy';
import { WavFormatError, isWav, parseWav } from '../wav';
import { DType, FloatTensor, Tensor, formatShape } from '../tensor';
import { InputError, PreprocessSpec } from './spec';
import { denormalize, preprocessImage } from './image';
export interface LoadedInput {
  tensor: FloatTensor;
  /** The image the model sees, RGB in [0, 1], when one can be shown. */
  rgb?: FloatImage;
  kind: 'image' | 'npy' | 'audio';
  /** e.g. '8-bit RGB PNG 451×300', 'float32 .npy [1, 3, 224, 224]' or '16-bit PCM WAV, 2 channels, 16000 Hz, 64000 samples'. */
  description: string;
}

function dimsFit(dims: number[], expected: (number | string)[]): boolean {
  return dims.length === expected.length && expected.every((d, i) => typeof d !== 'number' || d <= 0 || d === dims[i]);
}

function checkShape(name: string, dims: number[], expected: (number | string)[]): void {
  if (!dimsFit(dims, expected)) {
    throw new InputError(`${name} has shape ${formatShape(dims)} but the model expects ${formatShape(expected)}`);
  }
}

function tensorFromNpy(name: string, array: Tensor): FloatTensor {
  if (array.dtype === 'float32') return array as FloatTensor;
  if (array.dtype === 'float64') return { dtype: 'float32', dims: array.dims, data: Float32Array.from(array.data as Float64Array) };
  throw new InputError(`${name} holds ${array.dtype} values; a tensor input must be float32 (or float64), an image array uint8 H×W×3`);
}

function isImageArray({ dtype, dims }: { dtype: DType; dims: number[] }): boolean {
  const [h, w, c] = dims;
  return dtype === 'uint8' && (dims.length === 2 || (dims.length === 3 && (c === 3 || c === 1))) && h > 0 && w > 0;
}

function imageFromArray(array: Tensor): RgbImage {
  const [height, width] = array.dims;
  const channels = array.dims[2] ?? 1;
  if (channels === 3) return { width, height, data: array.data as Uint8Array };
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) data[p * 3] = data[p * 3 + 1] = data[p * 3 + 2] = array.data[p] as number;
  return { width, height, data };
}

/** Refuses a .npy whose declared shape is over the limits: pixels for a uint8 image, values for a tensor. */
function checkNpySize(name: string, header: NpyHeader, limits: SizeLimits): void {
  if (isImageArray(header)) checkPixels(`${name} declares an image of`, header.dims[1], header.dims[0], limits);
  else checkValues(`${name} declares`, header.dims, limits);
}

function loadNpy(name: string, bytes: Uint8Array, spec: PreprocessSpec | undefined, expected: (number | string)[], limits: SizeLimits): LoadedInput {
  let array: Tensor;
  try {
    checkNpySize(name, readNpyHeader(bytes), limits);
    // A copy: parseNpy needs a plain array, and Node's Buffers may be views into a shared pool.
    array = parseNpy(new Uint8Array(bytes));
  } catch (err) {
    if (err instanceof NpyFormatError) throw new InputError(`${name}: ${err.message}`);
    throw err;
  }
  if (isImageArray(array)) {
    if (!spec) throw new InputError(`${name} is an image array but no image preprocessing is known for this model`);
    return fromImage(name, imageFromArray(array), spec, expected, `uint8 .npy image ${array.dims[1]}×${array.dims[0]}`, limits);
  }
  let tensor = tensorFromNpy(name, array);
  if (tensor.dims.length === expected.length - 1) tensor = { ...tensor, dims: [1, ...tensor.dims] };
  checkShape(name, tensor.dims, expected);
  const rgb = spec ? denormalize(tensor, spec) : undefined;
  return { tensor, rgb, kind: 'npy', description: `${array.dtype} .npy ${formatShape(array.dims)}` };
}

/** A WAV file as [1, channels, samples], which must be the model's input shape (no resampling or cropping). */
function loadWav(name: string, bytes: Uint8Array, expected: (number | string)[], limits: SizeLimits): LoadedInput {
  let wav: ReturnType<typeof parseWav>;
  try {
    wav = parseWav(bytes, limits, name);
  } catch (err) {
    if (err instanceof WavFormatError) throw new InputError(`${name}: ${err.message}`);
    throw err;
  }
  const { tensor, info } = wav;
  const description = `${info.bitsPerSample}-bit ${info.float ? 'float' : 'PCM'} WAV, ${info.channels} channel${info.channels === 1 ? '' : 's'}, ${info.sampleRate} Hz, ${info.frames} samples`;
  if (expected.length !== 3)
    throw new InputError(`${name} is audio [1, ${info.channels}, ${info.frames}] but the model expects ${formatShape(expected)}; give a .npy tensor instead`);
  checkShape(name, tensor.dims, expected);
  return { tensor, kind: 'audio', description };
}

function fromImage(name: string, image: RgbImage, spec: PreprocessSpec, expected: (number | string)[], description: string, limits: SizeLimits): LoadedInput {
  const { tensor, rgb } = preprocessImage(image, spec, limits);
  checkShape(`${name} after preprocessing`, tensor.dims, expected);
  return { tensor, rgb, kind: 'image', description };
}

/**
 * Loads an image (PNG/JPEG, preprocessed with `spec`), a .npy tensor (float32/float64 of the
 * model's shape, of any rank, promoted to batch 1 when it lacks it; or a uint8 H×W×3 image array)
 * or a WAV file ([1, channels, samples] for a model taking [N, C, L]), checked against the model's
 * expected input shape.
 */
export function loadInput(file: string, spec: PreprocessSpec | undefined, expectedShape: (number | string)[], options: DecodeOptions = {}): LoadedInput {
  const name = path.basename(file);
  return loadInputBytes(name, readInputBytes(file, { ...options, name }), spec, expectedShape, options);
}

/** What a model's input is, by its rank: [N, C, L] a signal, [N, C, T, H, W] a video, else a picture. */
export type InputKind = 'image' | 'signal' | 'video';
export function inputKindOf(shape: readonly (number | string)[]): InputKind {
  if (shape.length === 3) return 'signal';
  if (shape.length === 5) return 'video';
  return 'image';
}

/** What a file's first bytes say it is: a .npy tensor, a WAV file, or else (to be decoded as) an image. */
export function inputFormatOf(bytes: Uint8Array): 'npy' | 'wav' | 'image' {
  if (bytes.length >= 6 && bytes[0] === 0x93 && String.fromCharCode(...bytes.subarray(1, 6)) === 'NUMPY') return 'npy';
  return isWav(bytes) ? 'wav' : 'image';
}

/** As loadInput, on a file's bytes already in memory (a dropped file); `name` names it in messages. */
export function loadInputBytes(name: string, bytes: Uint8Array, spec: PreprocessSpec | undefined, expectedShape: (number | string)[], options: DecodeOptions = {}): LoadedInput {
  checkBytes(name, bytes.length, options);
  if (bytes.length >= 6 && bytes[0] === 0x93 && String.fromCharCode(...bytes.subarray(1, 6)) === 'NUMPY') {
    return loadNpy(name, bytes, spec, expectedShape, options);
  }
  if (isWav(bytes)) return loadWav(name, bytes, expectedShape, options);
  const image = decodeImage(bytes, { ...options, name });
  if (!spec) throw new InputError(`cannot feed ${name} to this model: no image preprocessing is known for its input ${formatShape(expectedShape)}; give a .npy tensor instead`);
  return fromImage(name, image, spec, expectedShape, `${image.description} ${image.width}×${image.height}`, options);
}
