// Turning an image (or a .npy tensor) into the model's input tensor, and deciding how.
//
// Pipeline of preprocessImage, in torchvision's order:
//   [grayscale: Pillow convert('L'), L = 0.299 R + 0.587 G + 0.114 B on 8-bit values]
//   → resize: 'stretch' to size, or 'shorter-side-crop' = torchvision Resize(resizeTo) +
//     CenterCrop(size), with the resampler of `antialias` (see image/resample.ts):
//       'skimage' skimage.transform.resize(anti_aliasing=True)   (the reference data's choice)
//       'pil'     Pillow Image.resize(BILINEAR), what torchvision's Resize does to PIL images
//       'none'    bilinear without antialiasing (F.interpolate(antialias=False), cv2 INTER_LINEAR)
//   → x = pixel · scale (pixel in 0..255), then (x − mean[c]) / std[c] per tensor channel
//     (torchvision ToTensor + Normalize when scale = 1/255)
//   → colorOrder 'BGR' reverses the channels (mean/std are given in the tensor's order)
//   → layout NCHW or NHWC, batch 1.
//
// resolvePreprocessing merges, field by field, from highest priority: settings, the sidecar
// `<model>.convlens.json` beside the model, the model's `convlens.preprocess` metadata (JSON), and
// defaults from the input shape: 3 channels → ImageNet mean [0.485, 0.456, 0.406] and std
// [0.229, 0.224, 0.225] with scale 1/255 (torchvision's ImageNet models); 1 channel → grayscale
// with scale 1/255 and no normalisation (ToTensor alone); size from the shape, 224 where symbolic;
// resize 'stretch' with scikit-image antialiasing (the convention of the reference data).
//
// Every size from outside (the resolved size and resizeTo, the intermediate shorter-side resize of
// an image, the shape a .npy declares) is checked against the limits of ./limits.ts before
// anything of that size is allocated.
import * as fs from 'fs';
import * as path from 'path';
import { FileReadError, readFileChecked } from './files';
import { decodeImage, DecodeOptions, readInputBytes } from './image/decode';
import { FloatImage, RgbImage, toGrayBytes } from './image/image';
import { SizeLimits, checkPixels, checkValues } from './limits';
import { centerCropBox, cropImage, ImageLike, resizePilBytes, resizeSkimage, resizeTriangle, ResizedImage, shorterSideSize } from './image/resample';
import { LabelsSource, labelsFromObject } from './labels/labels';
import { NpyFormatError, NpyHeader, parseNpy, readNpyHeader } from './npy';
import { WavFormatError, isWav, parseWav } from './wav';
import { DType, FloatTensor, Tensor, formatShape } from './tensor';
import { editDistance } from './edit-distance';

export type ResizeMode = 'stretch' | 'shorter-side-crop';
export type Antialias = 'skimage' | 'pil' | 'none';
export type Layout = 'NCHW' | 'NHWC';
export type ColorOrder = 'RGB' | 'BGR';

/** A complete preprocessing description. */
export interface PreprocessSpec {
  /** Model input [height, width]. */
  size: [number, number];
  resize: ResizeMode;
  /** Shorter side before the center crop (shorter-side-crop only), e.g. 256 for 224. */
  resizeTo?: number;
  antialias: Antialias;
  /** Multiplies 8-bit pixel values, e.g. 1/255. */
  scale: number;
  /** Per tensor channel (length 1 or C), after scaling. */
  mean: number[];
  std: number[];
  layout: Layout;
  colorOrder: ColorOrder;
  grayscale: boolean;
}

/**
 * What settings, sidecars and metadata may give: any subset of the spec, where `size` may be one
 * number, `scale` a fraction string like "1/255" and `antialias` a boolean (true: the resize mode's
 * own convention, 'skimage' for stretch and 'pil' for shorter-side-crop; false: 'none').
 */
export interface PreprocessOverrides {
  size?: [number, number] | number;
  resize?: ResizeMode;
  resizeTo?: number;
  antialias?: Antialias | boolean;
  scale?: number | string;
  mean?: number[];
  std?: number[];
  layout?: Layout;
  colorOrder?: ColorOrder;
  grayscale?: boolean;
}

/** The sidecar file: the overrides plus labels (a file name, or the names inline) and the input to feed. */
export interface SidecarFile extends PreprocessOverrides {
  labels?: string | string[];
  input?: string;
}

export type PreprocessSource = 'settings' | 'sidecar' | 'model metadata' | 'defaults';

export interface ResolvedPreprocessing {
  spec: PreprocessSpec;
  /** The highest-priority source that set any field. */
  source: PreprocessSource;
  /** One or two sentences for the user: what will be done and where it came from. */
  explanation: string;
  sidecarPath?: string;
  /** The labels the settings, sidecar or metadata give: a file to read, or names inline. */
  labels?: LabelsSource;
  /** Input name the sidecar names. */
  inputName?: string;
  /** Unknown sidecar/metadata fields, reported rather than fatal. */
  warnings: string[];
}

export interface PreprocessContext {
  modelPath?: string;
  /** The model input's declared shape (numbers, or strings for symbolic dims). */
  inputShape: (number | string)[];
  /** The model's metadata_props. */
  metadataProps?: { key?: string; value?: string }[];
  settings?: PreprocessOverrides;
  /**
   * The folder a file named in `settings` is resolved against and must stay inside: the workspace,
   * given by the VS Code layer. Without it, the model's folder, as for the sidecar and metadata.
   */
  settingsFolder?: string;
  /** Limits on the sizes the preprocessing resizes to (default: ./limits.ts's). */
  limits?: SizeLimits;
}

export class PreprocessSpecError extends Error {}
export class InputError extends Error {}

export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];
export const METADATA_KEY = 'convlens.preprocess';

const SPEC_FIELDS = ['size', 'resize', 'resizeTo', 'antialias', 'scale', 'mean', 'std', 'layout', 'colorOrder', 'grayscale'] as const;
const SIDECAR_FIELDS = [...SPEC_FIELDS, 'labels', 'input'];

// ---------------------------------------------------------------------------------------------
// Preprocessing an image

export interface PreprocessedImage {
  tensor: FloatTensor;
  /** The resized (and cropped) image the model sees, RGB in [0, 1] (gray replicated), for overlays. */
  rgb: FloatImage;
}

function resample(src: ImageLike, outH: number, outW: number, antialias: Antialias): ResizedImage {
  if (antialias === 'skimage') return resizeSkimage(src, outH, outW, 1 / 255);
  if (antialias === 'none') return resizeTriangle(src, outH, outW, false, 1 / 255);
  const bytes = resizePilBytes(src, outH, outW);
  return { ...bytes, data: Float32Array.from(bytes.data, (v) => v / 255) };
}

/**
 * Resizes (and crops) an 8-bit image as the spec says: values in [0, 1], 1 or 3 channels. The
 * shorter-side resize of a very elongated image is refused when it is over the pixel limit.
 */
export function resizeForModel(image: RgbImage, spec: PreprocessSpec, limits: SizeLimits = {}): FloatImage {
  const src: ImageLike = spec.grayscale
    ? { width: image.width, height: image.height, channels: 1, data: toGrayBytes(image) }
    : { width: image.width, height: image.height, channels: 3, data: image.data };
  const [h, w] = spec.size;
  if (spec.resize === 'stretch') return resample(src, h, w, spec.antialias);
  const [rh, rw] = shorterSideSize(image.height, image.width, spec.resizeTo ?? Math.max(h, w));
  checkPixels(`resizing the ${image.width}×${image.height} image to a shorter side of ${spec.resizeTo} gives`, rw, rh, limits);
  const resized = resample(src, rh, rw, spec.antialias);
  const { top, left } = centerCropBox(rh, rw, h, w);
  return cropImage(resized, top, left, h, w);
}

/**
 * The part of a width × height image that resizeForModel shows the model, in the image's own
 * pixels: all of it when stretched, the centre crop scaled back by the resize factor otherwise.
 */
export function modelRegion(width: number, height: number, spec: PreprocessSpec): { top: number; left: number; height: number; width: number } {
  const [h, w] = spec.size;
  if (spec.resize === 'stretch') return { top: 0, left: 0, height, width };
  const [rh, rw] = shorterSideSize(height, width, spec.resizeTo ?? Math.max(h, w));
  const { top, left } = centerCropBox(rh, rw, h, w);
  const sy = height / rh;
  const sx = width / rw;
  return { top: top * sy, left: left * sx, height: h * sy, width: w * sx };
}

/** (v · 255 · scale − mean) / std for a [0, 1] image, in the spec's channel order and layout. */
export function normalizeImage(image: FloatImage, spec: PreprocessSpec): FloatTensor {
  const { width: w, height: h, channels: c } = image;
  const mean = perChannel(spec.mean, c, 'mean');
  const std = perChannel(spec.std, c, 'std');
  const data = new Float32Array(w * h * c);
  for (let t = 0; t < c; t++) {
    const source = spec.colorOrder === 'BGR' && c === 3 ? 2 - t : t;
    for (let p = 0; p < w * h; p++) {
      const value = (image.data[p * c + source] * 255 * spec.scale - mean[t]) / std[t];
      data[spec.layout === 'NCHW' ? t * w * h + p : p * c + t] = value;
    }
  }
  const dims = spec.layout === 'NCHW' ? [1, c, h, w] : [1, h, w, c];
  return { dtype: 'float32', dims, data };
}

function perChannel(values: number[], channels: number, what: string): number[] {
  if (values.length === channels) return values;
  if (values.length === 1) return new Array(channels).fill(values[0]);
  throw new PreprocessSpecError(`${what} has ${values.length} values but the input has ${channels} channels`);
}

function asRgb(image: FloatImage): FloatImage {
  if (image.channels === 3) return image;
  const n = image.width * image.height;
  const data = new Float32Array(n * 3);
  for (let p = 0; p < n; p++) data[p * 3] = data[p * 3 + 1] = data[p * 3 + 2] = image.data[p];
  return { width: image.width, height: image.height, channels: 3, data };
}

export function preprocessImage(image: RgbImage, spec: PreprocessSpec, limits: SizeLimits = {}): PreprocessedImage {
  const resized = resizeForModel(image, spec, limits);
  return { tensor: normalizeImage(resized, spec), rgb: asRgb(resized) };
}

/**
 * The image a [1, C, H, W] (or NHWC) input tensor shows, undoing the normalisation: RGB in [0, 1],
 * clipped; undefined when the tensor does not have the spec's channel count.
 */
export function denormalize(tensor: Tensor, spec: PreprocessSpec): FloatImage | undefined {
  if (tensor.dims.length !== 4 || tensor.dims[0] !== 1) return undefined;
  const [, a, b, d] = tensor.dims;
  const [c, h, w] = spec.layout === 'NCHW' ? [a, b, d] : [d, a, b];
  if (c !== (spec.grayscale ? 1 : 3)) return undefined;
  const mean = perChannel(spec.mean, c, 'mean');
  const std = perChannel(spec.std, c, 'std');
  const out = new Float32Array(h * w * 3);
  for (let t = 0; t < c; t++) {
    const target = spec.colorOrder === 'BGR' && c === 3 ? 2 - t : t;
    for (let p = 0; p < h * w; p++) {
      const x = Number(tensor.data[spec.layout === 'NCHW' ? t * h * w + p : p * c + t]);
      const v = Math.min(1, Math.max(0, (x * std[t] + mean[t]) / spec.scale / 255));
      if (c === 1) out[p * 3] = out[p * 3 + 1] = out[p * 3 + 2] = v;
      else out[p * 3 + target] = v;
    }
  }
  return { width: w, height: h, channels: 3, data: out };
}

// ---------------------------------------------------------------------------------------------
// Loading an input file: an image or a .npy tensor

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
  const bytes = readInputBytes(file, { ...options, name });
  if (bytes.length >= 6 && bytes[0] === 0x93 && String.fromCharCode(...bytes.subarray(1, 6)) === 'NUMPY') {
    return loadNpy(name, bytes, spec, expectedShape, options);
  }
  if (isWav(bytes)) return loadWav(name, bytes, expectedShape, options);
  const image = decodeImage(bytes, { ...options, name });
  if (!spec) throw new InputError(`cannot feed ${name} to this model: no image preprocessing is known for its input ${formatShape(expectedShape)}; give a .npy tensor instead`);
  return fromImage(name, image, spec, expectedShape, `${image.description} ${image.width}×${image.height}`, options);
}

// ---------------------------------------------------------------------------------------------
// Deciding the preprocessing

/** `<dir>/<model name without .onnx>.convlens.json`. */
export function sidecarPathFor(modelPath: string): string {
  return path.join(path.dirname(modelPath), `${path.basename(modelPath).replace(/\.onnx$/i, '')}.convlens.json`);
}

function fail(where: string, field: string, expected: string, value: unknown): never {
  throw new PreprocessSpecError(`${where}: '${field}' must be ${expected} (got ${JSON.stringify(value)})`);
}

const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
const isNumberList = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x));

function parseScale(value: unknown, where: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
  const fraction = typeof value === 'string' ? /^\s*([\d.]+)\s*\/\s*([\d.]+)\s*$/.exec(value) : null;
  const scale = fraction ? Number(fraction[1]) / Number(fraction[2]) : NaN;
  if (Number.isFinite(scale) && scale > 0) return scale;
  return fail(where, 'scale', 'a positive number or a fraction like "1/255"', value);
}

/**
 * Checks a sidecar / metadata / settings object field by field. Unknown fields close to a known one
 * are errors (a typo would silently change the numbers); others become warnings.
 */
export function parseOverrides(raw: unknown, where: string, warnings: string[] = []): SidecarFile {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new PreprocessSpecError(`${where} must hold a JSON object`);
  const o = raw as Record<string, unknown>;
  const out: SidecarFile = {};
  for (const key of Object.keys(o)) {
    if (SIDECAR_FIELDS.includes(key)) continue;
    const near = SIDECAR_FIELDS.find((k) => editDistance(k, key) <= 2);
    if (near) throw new PreprocessSpecError(`${where}: unknown field '${key}'; did you mean '${near}'?`);
    warnings.push(`${where}: field '${key}' is not used by ConvLens`);
  }
  const has = (key: string): boolean => o[key] !== undefined;
  if (has('size')) {
    const v = o.size;
    if (isPositiveInt(v)) out.size = [v, v];
    else if (Array.isArray(v) && v.length === 2 && v.every(isPositiveInt)) out.size = [v[0], v[1]];
    else fail(where, 'size', '[height, width] in pixels or one number', v);
  }
  if (has('resize')) {
    if (o.resize !== 'stretch' && o.resize !== 'shorter-side-crop') fail(where, 'resize', `"stretch" or "shorter-side-crop"`, o.resize);
    out.resize = o.resize;
  }
  if (has('resizeTo')) {
    if (!isPositiveInt(o.resizeTo)) fail(where, 'resizeTo', 'a positive whole number of pixels', o.resizeTo);
    out.resizeTo = o.resizeTo;
  }
  if (has('antialias')) {
    const v = o.antialias;
    if (typeof v !== 'boolean' && v !== 'skimage' && v !== 'pil' && v !== 'none') fail(where, 'antialias', 'true, false, "skimage", "pil" or "none"', v);
    out.antialias = v;
  }
  if (has('scale')) out.scale = parseScale(o.scale, where);
  if (has('mean')) {
    if (!isNumberList(o.mean)) fail(where, 'mean', 'a list of numbers, one per channel', o.mean);
    out.mean = o.mean;
  }
  if (has('std')) {
    if (!isNumberList(o.std) || o.std.some((s) => s === 0)) fail(where, 'std', 'a list of non-zero numbers, one per channel', o.std);
    out.std = o.std;
  }
  if (has('layout')) {
    if (o.layout !== 'NCHW' && o.layout !== 'NHWC') fail(where, 'layout', '"NCHW" or "NHWC"', o.layout);
    out.layout = o.layout;
  }
  if (has('colorOrder')) {
    if (o.colorOrder !== 'RGB' && o.colorOrder !== 'BGR') fail(where, 'colorOrder', '"RGB" or "BGR"', o.colorOrder);
    out.colorOrder = o.colorOrder;
  }
  if (has('grayscale')) {
    if (typeof o.grayscale !== 'boolean') fail(where, 'grayscale', 'true or false', o.grayscale);
    out.grayscale = o.grayscale;
  }
  if (has('labels')) out.labels = parseInlineLabels(o.labels, where);
  if (has('input')) {
    if (typeof o.input !== 'string' || o.input === '') fail(where, 'input', 'a non-empty string', o.input);
    out.input = o.input;
  }
  return out;
}

/** 'labels': a file name, or the names inline as a list or an {index: name} object. */
function parseInlineLabels(value: unknown, where: string): string | string[] {
  if (typeof value === 'string' && value !== '') return value;
  if (Array.isArray(value) && value.length > 0 && value.every((x) => typeof x === 'string')) return value;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    try {
      return labelsFromObject(value as Record<string, unknown>, `${where} 'labels'`);
    } catch (err) {
      throw new PreprocessSpecError((err as Error).message);
    }
  }
  return fail(where, 'labels', 'a file name, a list of class names or an object {"0": "name", ...}', value);
}

/** A sidecar is a few settings; 1 MiB is far more than one needs. */
const MAX_SIDECAR_BYTES = 2 ** 20;

function readSidecar(file: string, warnings: string[]): SidecarFile | undefined {
  if (!fs.existsSync(file)) return undefined;
  let text: string;
  try {
    // Inside the model's folder only: a sidecar that links elsewhere could show another file's text in a JSON error.
    const folder = path.dirname(file);
    const rules = { what: 'sidecar', maxBytes: MAX_SIDECAR_BYTES, limitHint: 'a sidecar holds a few preprocessing fields', inside: { folder, name: "the model's folder" } };
    text = readFileChecked(file, rules, path.basename(file)).toString('utf8');
  } catch (err) {
    if (err instanceof FileReadError) throw new PreprocessSpecError(err.message);
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PreprocessSpecError(`${path.basename(file)} is not valid JSON: ${(err as Error).message}`);
  }
  return parseOverrides(raw, path.basename(file), warnings);
}

function readMetadata(props: { key?: string; value?: string }[] | undefined, warnings: string[]): SidecarFile | undefined {
  const entry = props?.find((p) => p.key === METADATA_KEY);
  if (!entry) return undefined;
  const where = `model metadata '${METADATA_KEY}'`;
  let raw: unknown;
  try {
    raw = JSON.parse(entry.value ?? '');
  } catch (err) {
    throw new PreprocessSpecError(`${where} is not valid JSON: ${(err as Error).message}`);
  }
  return parseOverrides(raw, where, warnings);
}

interface ShapeFacts {
  layout: Layout;
  channels?: number;
  height?: number;
  width?: number;
}

const fixed = (d: number | string | undefined): number | undefined => (typeof d === 'number' && d > 0 ? d : undefined);

function shapeFacts(shape: (number | string)[], layout: Layout | undefined): ShapeFacts {
  if (shape.length !== 4) {
    throw new PreprocessSpecError(`the model input ${formatShape(shape)} is not an image batch [N, C, H, W] or [N, H, W, C]; give a .npy tensor instead`);
  }
  const isChannels = (d: number | string): boolean => d === 1 || d === 3;
  const chosen = layout ?? (!isChannels(shape[1]) && isChannels(shape[3]) ? 'NHWC' : 'NCHW');
  const [c, h, w] = chosen === 'NCHW' ? [shape[1], shape[2], shape[3]] : [shape[3], shape[1], shape[2]];
  return { layout: chosen, channels: fixed(c), height: fixed(h), width: fixed(w) };
}

function defaultsFor(facts: ShapeFacts): PreprocessSpec {
  const gray = facts.channels === 1;
  return {
    size: [facts.height ?? 224, facts.width ?? 224],
    resize: 'stretch',
    antialias: 'skimage',
    scale: 1 / 255,
    mean: gray ? [0] : IMAGENET_MEAN,
    std: gray ? [1] : IMAGENET_STD,
    layout: facts.layout,
    colorOrder: 'RGB',
    grayscale: gray,
  };
}

function formatNumber(x: number): string {
  return String(Number(x.toPrecision(6)));
}

function formatScale(scale: number): string {
  return Math.abs(scale * 255 - 1) < 1e-9 ? '1/255' : formatNumber(scale);
}

const ANTIALIAS_NAMES: Record<Antialias, string> = {
  skimage: 'scikit-image antialiasing',
  pil: 'Pillow bilinear',
  none: 'bilinear, no antialiasing',
};

/** e.g. "stretch to 224×224 (scikit-image antialiasing), ×1/255, mean [0.485, 0.456, 0.406], std [...], RGB NCHW". */
export function describeSpec(spec: PreprocessSpec): string {
  const [h, w] = spec.size;
  const resize = spec.resize === 'stretch' ? `stretch to ${h}×${w}` : `resize the shorter side to ${spec.resizeTo}, center-crop ${h}×${w}`;
  const list = (xs: number[]): string => `[${xs.map(formatNumber).join(', ')}]`;
  return `${spec.grayscale ? 'grayscale, ' : ''}${resize} (${ANTIALIAS_NAMES[spec.antialias]}), ×${formatScale(spec.scale)}, mean ${list(spec.mean)}, std ${list(spec.std)}, ${spec.grayscale ? '' : `${spec.colorOrder} `}${spec.layout}`;
}

function checkAgainstShape(spec: PreprocessSpec, facts: ShapeFacts, shape: (number | string)[], origin: (field: string) => string): void {
  const [h, w] = spec.size;
  if ((facts.height !== undefined && facts.height !== h) || (facts.width !== undefined && facts.width !== w)) {
    throw new PreprocessSpecError(`${origin('size')} sets size [${h}, ${w}] but the model input ${formatShape(shape)} is ${facts.height ?? h}×${facts.width ?? w}`);
  }
  const channels = spec.grayscale ? 1 : 3;
  if (facts.channels !== undefined && facts.channels !== channels) {
    const why = facts.channels === 1 || facts.channels === 3 ? `${origin('grayscale')} says ${spec.grayscale ? 'grayscale' : 'colour'}` : 'images have 1 or 3 channels';
    throw new PreprocessSpecError(`the model input ${formatShape(shape)} has ${facts.channels} channels but ${why}; give a .npy tensor or fix the preprocessing`);
  }
  for (const field of ['mean', 'std'] as const) {
    if (spec[field].length !== 1 && spec[field].length !== channels) {
      throw new PreprocessSpecError(`${origin(field)} gives ${spec[field].length} ${field} values for a ${channels}-channel input`);
    }
  }
  if (spec.resize === 'shorter-side-crop' && (spec.resizeTo ?? 0) < Math.max(h, w)) {
    throw new PreprocessSpecError(`${origin('resizeTo')} sets resizeTo ${spec.resizeTo}, smaller than the ${h}×${w} crop`);
  }
}

/** Refuses a size or resizeTo over the pixel limit, naming who set it (a size not set comes from the input shape). */
function checkResizeSizes(spec: PreprocessSpec, context: PreprocessContext, origins: Map<string, string>): void {
  const limits = context.limits ?? {};
  const [h, w] = spec.size;
  const sizeOrigin = origins.get('size');
  checkPixels(sizeOrigin ? `${sizeOrigin} sets size` : `the model input ${formatShape(context.inputShape)} declares`, w, h, limits);
  if (spec.resizeTo !== undefined) {
    checkPixels(`${origins.get('resizeTo') ?? 'the default'} sets resizeTo ${spec.resizeTo}, a resize to at least`, spec.resizeTo, spec.resizeTo, limits);
  }
}

/** Decides the preprocessing of a model input: settings > sidecar > model metadata > defaults. */
export function resolvePreprocessing(context: PreprocessContext): ResolvedPreprocessing {
  const warnings: string[] = [];
  const sidecarPath = context.modelPath ? sidecarPathFor(context.modelPath) : undefined;
  const sidecar = sidecarPath ? readSidecar(sidecarPath, warnings) : undefined;
  const metadata = readMetadata(context.metadataProps, warnings);
  const settings = context.settings ? parseOverrides(context.settings, 'settings', warnings) : undefined;
  const sidecarName = sidecarPath ? path.basename(sidecarPath) : 'sidecar';
  const layers: { source: PreprocessSource; name: string; values: SidecarFile | undefined }[] = [
    { source: 'settings', name: 'settings', values: settings },
    { source: 'sidecar', name: sidecarName, values: sidecar },
    { source: 'model metadata', name: `model metadata '${METADATA_KEY}'`, values: metadata },
  ];
  const pick = <K extends keyof SidecarFile>(key: K): { value: SidecarFile[K]; from: string } | undefined => {
    for (const layer of layers) if (layer.values?.[key] !== undefined) return { value: layer.values[key], from: layer.name };
    return undefined;
  };

  const facts = shapeFacts(context.inputShape, pick('layout')?.value);
  const defaults = defaultsFor(facts);
  const origins = new Map<string, string>();
  const take = <K extends keyof SidecarFile>(key: K): SidecarFile[K] | undefined => {
    const found = pick(key);
    if (found) origins.set(key, found.from);
    return found?.value;
  };
  const size = take('size');
  const grayscale = take('grayscale') ?? defaults.grayscale;
  const resize = take('resize') ?? defaults.resize;
  const [h, w] = typeof size === 'number' ? [size, size] : (size ?? defaults.size);
  const antialias = take('antialias');
  const spec: PreprocessSpec = {
    size: [h, w],
    resize,
    antialias: antialias === true || antialias === undefined ? (resize === 'stretch' ? 'skimage' : 'pil') : antialias === false ? 'none' : antialias,
    scale: (take('scale') as number | undefined) ?? defaults.scale,
    mean: take('mean') ?? (grayscale === defaults.grayscale ? defaults.mean : grayscale ? [0] : IMAGENET_MEAN),
    std: take('std') ?? (grayscale === defaults.grayscale ? defaults.std : grayscale ? [1] : IMAGENET_STD),
    layout: take('layout') ?? defaults.layout,
    colorOrder: take('colorOrder') ?? defaults.colorOrder,
    grayscale,
  };
  if (resize === 'shorter-side-crop') spec.resizeTo = take('resizeTo') ?? Math.floor((Math.max(h, w) * 256) / 224);
  const origin = (field: string): string => origins.get(field) ?? 'the default';
  checkResizeSizes(spec, context, origins);
  checkAgainstShape(spec, facts, context.inputShape, origin);

  const labels = pick('labels');
  const source = layers.find((l) => [...origins.values()].includes(l.name))?.source ?? 'defaults';
  return {
    spec,
    source,
    explanation: explain(spec, origins, facts, context, sidecarName),
    sidecarPath: sidecar ? sidecarPath : undefined,
    labels: labels ? labelsSource(labels.value as string | string[], labels.from, context) : undefined,
    inputName: pick('input')?.value as string | undefined,
    warnings,
  };
}

/**
 * Where named labels are read: a file named by the settings inside `settingsFolder` (else the
 * model's folder), one named by the sidecar or the metadata inside the model's folder.
 */
function labelsSource(value: string | string[], from: string, context: PreprocessContext): LabelsSource {
  if (Array.isArray(value)) return { names: value, origin: from };
  const modelFolder = context.modelPath ? path.dirname(path.resolve(context.modelPath)) : undefined;
  const inside =
    from === 'settings' && context.settingsFolder
      ? { folder: path.resolve(context.settingsFolder), name: 'the workspace' }
      : modelFolder
        ? { folder: modelFolder, name: "the model's folder" }
        : undefined;
  if (!inside) throw new PreprocessSpecError(`${from} names the labels file ${JSON.stringify(value)} but the model was not opened from a file; give the labels inline`);
  return { file: value, base: inside.folder, inside, origin: from };
}

function explain(spec: PreprocessSpec, origins: Map<string, string>, facts: ShapeFacts, context: PreprocessContext, sidecarName: string): string {
  const what = `Preprocessing: ${describeSpec(spec)}.`;
  if (origins.size === 0) {
    const channels = spec.grayscale
      ? 'a 1-channel input is fed grayscale values in [0, 1] without normalisation'
      : 'a 3-channel input gets ImageNet mean/std on [0, 1] values (torchvision convention)';
    const size = facts.height && facts.width ? `the size comes from the input shape ${formatShape(context.inputShape)}` : 'symbolic sizes default to 224';
    return `${what} No settings, no ${sidecarName} beside the model and no '${METADATA_KEY}' metadata, so defaults apply: ${channels}; ${size}. Write ${sidecarName} to change them.`;
  }
  const bySource = new Map<string, string[]>();
  for (const [field, from] of origins) bySource.set(from, [...(bySource.get(from) ?? []), field]);
  const parts = [...bySource].map(([from, fields]) => `${from} (${fields.join(', ')})`);
  const rest = SPEC_FIELDS.some((f) => !origins.has(f)) ? '; other fields are defaults' : '';
  return `${what} Taken from ${parts.join(', ')}${rest}.`;
}
