// The limits on sizes that come from outside: an image's declared width × height (PNG IHDR, JPEG
// SOFn, a uint8 .npy image, a resize target from settings, a sidecar or model metadata, a model's
// declared input), the values of a tensor (.npy tensors, the zero input a model is probed with)
// and the bytes of an input file. Every such size is checked here, before anything of that size is
// allocated, and a refusal names the value, the limit and how to raise it.
//
// One knob governs them: the pixel limit (`convlens.maxImagePixels`, `--max-megapixels`). A tensor
// may hold VALUES_PER_PIXEL values per pixel of it: an RGB image at the limit, as the model sees it.
import { formatShape } from './tensor';

/** Default largest image, width × height: the order of Pillow's MAX_IMAGE_PIXELS (89.5 MP). */
export const DEFAULT_MAX_PIXELS = 50_000_000;
/** Default largest input file read, in bytes. */
export const DEFAULT_MAX_BYTES = 200 * 1024 * 1024;
/** Values a tensor may hold per pixel of the pixel limit: three channels. */
export const VALUES_PER_PIXEL = 3;
/** The refusal's last words when the caller gives no setting or flag to name. */
export const DEFAULT_LIMIT_HINT = 'raise the limit only for files you trust';

export interface SizeLimits {
  /** Largest width × height accepted (default DEFAULT_MAX_PIXELS). */
  maxPixels?: number;
  /** Largest file accepted, in bytes (default DEFAULT_MAX_BYTES). */
  maxBytes?: number;
  /** How the user raises the limits, appended to a refusal, e.g. "raise it with --max-megapixels". */
  limitHint?: string;
}

export class SizeLimitError extends Error {
  constructor(
    message: string,
    readonly kind: 'pixels' | 'values' | 'bytes',
    readonly limit: number,
  ) {
    super(message);
    this.name = 'SizeLimitError';
  }
}

export function maxPixelsOf(limits: SizeLimits): number {
  return limits.maxPixels ?? DEFAULT_MAX_PIXELS;
}

export function maxValuesOf(limits: SizeLimits): number {
  return maxPixelsOf(limits) * VALUES_PER_PIXEL;
}

export function megapixels(pixels: number): string {
  return String(Number((pixels / 1e6).toPrecision(3)));
}

function hint(limits: SizeLimits): string {
  return limits.limitHint ?? DEFAULT_LIMIT_HINT;
}

/**
 * Refuses `width × height` over the pixel limit. `what` starts the sentence and says who declared
 * the size, e.g. "bomb.png declares" or "model metadata 'convlens.preprocess' sets size".
 */
export function checkPixels(what: string, width: number, height: number, limits: SizeLimits): void {
  const limit = maxPixelsOf(limits);
  const pixels = width * height;
  if (pixels <= limit) return;
  throw new SizeLimitError(
    `${what} ${width}×${height} pixels (${megapixels(pixels)} megapixels), over the limit of ${megapixels(limit)} megapixels; ${hint(limits)}`,
    'pixels',
    limit,
  );
}

/** Refuses a tensor of `dims` holding more values than the limit allows; `what` as in checkPixels. */
export function checkValues(what: string, dims: readonly number[], limits: SizeLimits): void {
  const limit = maxValuesOf(limits);
  const values = dims.reduce((a, b) => a * b, 1);
  if (values <= limit) return;
  throw new SizeLimitError(
    `${what} shape ${formatShape(dims)} (${values.toPrecision(3)} values), over the limit of ${limit.toPrecision(3)} values (${VALUES_PER_PIXEL} per pixel of the ${megapixels(maxPixelsOf(limits))}-megapixel image limit); ${hint(limits)}`,
    'values',
    limit,
  );
}

/** Refuses a file of `size` bytes over the byte limit. */
export function checkBytes(name: string, size: number, limits: SizeLimits): void {
  const limit = limits.maxBytes ?? DEFAULT_MAX_BYTES;
  if (size <= limit) return;
  throw new SizeLimitError(`${name} is ${(size / 2 ** 20).toFixed(1)} MiB, over the limit of ${(limit / 2 ** 20).toFixed(1)} MiB for input files; ${hint(limits)}`, 'bytes', limit);
}

/** Whether a declared dimension is a size we can hold in a JavaScript number exactly. */
export function isValidDim(d: number): boolean {
  return Number.isSafeInteger(d) && d >= 0;
}
