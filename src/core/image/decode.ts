// Decoding of PNG and JPEG files to 8-bit RGB, the way Pillow's Image.open(f).convert('RGB') sees
// them, with the size checked from the header before any pixel is decoded.
//
// - Format: identified by magic bytes (PNG signature 89 50 4E 47 0D 0A 1A 0A; JPEG SOI FF D8 FF),
//   never by the file extension.
// - Decompression-bomb guard: width × height is read from the PNG IHDR chunk or the JPEG SOFn
//   segment and refused above `maxPixels` (default 50 megapixels, the order of Pillow's
//   MAX_IMAGE_PIXELS, 89.5 MP) before decoding; files above `maxBytes` are refused unread.
// - PNG (pngjs): all colour types and bit depths. Alpha is dropped, as Pillow's RGBA → RGB convert
//   does (no compositing); grayscale is replicated to R = G = B; 16-bit samples become
//   round(v · 255 / 65535) (pngjs's rescale). CRCs are checked.
// - JPEG (jpeg-js): baseline, extended and progressive Huffman-coded, 8-bit, with 1 (grayscale),
//   3 (YCbCr/RGB) or 4 (CMYK/YCCK, Adobe) components; CMYK → RGB as jpeg-js does
//   (R = 255 − min(255, C·(1 − K/255) + K)). Lossless, hierarchical, arithmetic-coded and 12-bit
//   JPEGs are refused. A JPEG with no EOI marker after its first scan is refused as truncated
//   (Pillow raises "image file is truncated" for these). EXIF orientation is not applied, as
//   Pillow's Image.open does not apply it either.
import * as path from 'path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { FileReadError, FileTooLargeError, readFileChecked } from '../files';
import { RgbImage } from './image';

export type ImageFormat = 'png' | 'jpeg';

export interface DecodedImage extends RgbImage {
  format: ImageFormat;
  /** What the file held, e.g. '16-bit grayscale PNG' or 'progressive CMYK JPEG'. */
  description: string;
  /** Whether an alpha channel was dropped. */
  hadAlpha: boolean;
}

export interface DecodeOptions {
  /** Largest width × height accepted (default DEFAULT_MAX_PIXELS). */
  maxPixels?: number;
  /** Largest file accepted, in bytes (default DEFAULT_MAX_BYTES). */
  maxBytes?: number;
  /** How the user raises the limits, appended to the refusal, e.g. "set convlens.maxImageMegapixels". */
  limitHint?: string;
  /** Name used in messages (default 'image'). */
  name?: string;
}

export const DEFAULT_MAX_PIXELS = 50_000_000;
export const DEFAULT_MAX_BYTES = 200 * 1024 * 1024;
const DEFAULT_LIMIT_HINT = 'raise the limit only for files you trust';
const SUPPORTED = 'supported image formats: PNG, JPEG';

export class ImageDecodeError extends Error {}
export class UnsupportedImageFormatError extends ImageDecodeError {}
export class ImageTooLargeError extends ImageDecodeError {
  constructor(message: string, readonly kind: 'pixels' | 'bytes', readonly limit: number) {
    super(message);
  }
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(bytes: Uint8Array, prefix: readonly number[], at = 0): boolean {
  return bytes.length >= at + prefix.length && prefix.every((b, i) => bytes[at + i] === b);
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}

/** The format by magic bytes: 'png', 'jpeg', or undefined. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (startsWith(bytes, PNG_SIGNATURE)) return 'png';
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  return undefined;
}

/** Names formats we recognise but do not decode, so the refusal can say what the file is. */
function otherFormatName(bytes: Uint8Array): string | undefined {
  if (ascii(bytes, 0, 4) === 'GIF8') return 'a GIF image';
  if (ascii(bytes, 0, 2) === 'BM') return 'a BMP image';
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return 'a WebP image';
  if (ascii(bytes, 0, 4) === 'II*\0' || ascii(bytes, 0, 4) === 'MM\0*') return 'a TIFF image';
  if (ascii(bytes, 4, 8) === 'ftyp') return 'an HEIF/AVIF image';
  if (ascii(bytes, 1, 6) === 'NUMPY') return 'a NumPy .npy array, not an image';
  return undefined;
}

interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
  description: string;
}

const PNG_COLOR_TYPES: Record<number, string> = { 0: 'grayscale', 2: 'RGB', 3: 'palette', 4: 'grayscale+alpha', 6: 'RGBA' };

function readPngHeader(bytes: Uint8Array, name: string): ImageHeader {
  if (bytes.length < 33) throw new ImageDecodeError(`${name} is a truncated PNG (${bytes.length} bytes, shorter than its header)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (ascii(bytes, 12, 16) !== 'IHDR') throw new ImageDecodeError(`${name} is a corrupt PNG: its first chunk is not IHDR`);
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const depth = bytes[24];
  const colorType = PNG_COLOR_TYPES[bytes[25]];
  if (!colorType) throw new ImageDecodeError(`${name} is a corrupt PNG: unknown colour type ${bytes[25]}`);
  return { format: 'png', width, height, description: `${depth}-bit ${colorType} PNG` };
}

// JPEG markers that stand alone, without a length field.
function isStandaloneMarker(marker: number): boolean {
  return marker === 0x01 || marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7);
}

const SOF_KINDS: Record<number, string | undefined> = {
  0xc0: 'baseline', 0xc1: 'extended', 0xc2: 'progressive',
};
const JPEG_COLORS: Record<number, string> = { 1: 'grayscale', 3: 'colour', 4: 'CMYK' };

function readJpegHeader(bytes: Uint8Array, name: string): ImageHeader {
  const truncated = (): ImageDecodeError => new ImageDecodeError(`${name} is a truncated JPEG: its header ends before the frame size`);
  let i = 2;
  for (;;) {
    if (i >= bytes.length) throw truncated();
    if (bytes[i] !== 0xff) throw new ImageDecodeError(`${name} is a corrupt JPEG: no segment marker at byte ${i}`);
    while (bytes[i] === 0xff) i++;
    if (i >= bytes.length) throw truncated();
    const marker = bytes[i++];
    if (isStandaloneMarker(marker)) continue;
    if (marker === 0xd9 || marker === 0xda) throw new ImageDecodeError(`${name} is a corrupt JPEG: image data starts before the frame header`);
    if (i + 2 > bytes.length) throw truncated();
    const length = (bytes[i] << 8) | bytes[i + 1];
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (i + 8 > bytes.length) throw truncated();
      const kind = SOF_KINDS[marker];
      if (!kind) {
        throw new UnsupportedImageFormatError(`${name} is a lossless, hierarchical or arithmetic-coded JPEG (SOF${marker - 0xc0}), which ConvLens cannot decode; re-save it as a baseline JPEG or PNG`);
      }
      const precision = bytes[i + 2];
      if (precision !== 8) throw new UnsupportedImageFormatError(`${name} is a ${precision}-bit JPEG; only 8-bit JPEGs are supported (re-save it as PNG)`);
      const height = (bytes[i + 3] << 8) | bytes[i + 4];
      const width = (bytes[i + 5] << 8) | bytes[i + 6];
      if (height === 0) throw new UnsupportedImageFormatError(`${name} declares its height after the image data (DNL marker), which is not supported`);
      const components = bytes[i + 7];
      const color = JPEG_COLORS[components];
      if (!color) throw new UnsupportedImageFormatError(`${name} is a JPEG with ${components} colour components; 1 (grayscale), 3 (colour) or 4 (CMYK) are supported`);
      return { format: 'jpeg', width, height, description: `${kind} ${color} JPEG` };
    }
    i += length;
  }
}

/** Offset of the first start-of-scan marker, found by walking the segments. */
function firstScanOffset(bytes: Uint8Array): number {
  let i = 2;
  while (i + 4 <= bytes.length && bytes[i] === 0xff) {
    while (bytes[i] === 0xff) i++;
    const marker = bytes[i++];
    if (marker === 0xda) return i;
    if (!isStandaloneMarker(marker)) i += (bytes[i] << 8) | bytes[i + 1];
  }
  return -1;
}

function hasEndAfterScan(bytes: Uint8Array): boolean {
  const scan = firstScanOffset(bytes);
  if (scan < 0) return false;
  for (let i = bytes.length - 2; i >= scan; i--) if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return true;
  return false;
}

/** Format, size and kind of an image from its first bytes, without decoding pixels. */
export function readImageHeader(bytes: Uint8Array, name = 'image'): ImageHeader {
  const format = sniffImageFormat(bytes);
  if (format === 'png') return readPngHeader(bytes, name);
  if (format === 'jpeg') return readJpegHeader(bytes, name);
  if (bytes.length === 0) throw new ImageDecodeError(`${name} is empty`);
  const other = otherFormatName(bytes);
  throw new UnsupportedImageFormatError(`${name} is ${other ?? 'not an image ConvLens recognises'}; ${SUPPORTED}`);
}

function checkPixelLimit(header: ImageHeader, name: string, options: DecodeOptions): void {
  const limit = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const pixels = header.width * header.height;
  if (header.width === 0 || header.height === 0) throw new ImageDecodeError(`${name} declares an empty ${header.width}×${header.height} image`);
  if (pixels > limit) {
    throw new ImageTooLargeError(
      `${name} declares ${header.width}×${header.height} pixels (${megapixels(pixels)} megapixels), over the limit of ${megapixels(limit)} megapixels; ${options.limitHint ?? DEFAULT_LIMIT_HINT}`,
      'pixels', limit,
    );
  }
}

function checkByteLimit(size: number, name: string, options: DecodeOptions): void {
  const limit = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (size > limit) {
    throw new ImageTooLargeError(
      `${name} is ${(size / 2 ** 20).toFixed(1)} MiB, over the limit of ${(limit / 2 ** 20).toFixed(1)} MiB for image files; ${options.limitHint ?? DEFAULT_LIMIT_HINT}`,
      'bytes', limit,
    );
  }
}

function megapixels(pixels: number): string {
  return String(Number((pixels / 1e6).toPrecision(3)));
}

function rgbFromRgba(rgba: Uint8Array, width: number, height: number): Uint8Array {
  const n = width * height;
  const rgb = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) {
    rgb[p * 3] = rgba[p * 4];
    rgb[p * 3 + 1] = rgba[p * 4 + 1];
    rgb[p * 3 + 2] = rgba[p * 4 + 2];
  }
  return rgb;
}

/** Walks the chunks (length, type, data, CRC) to name a truncation pngjs would report obscurely. */
function pngTruncation(bytes: Uint8Array): string | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let i = 8;
  while (i + 8 <= bytes.length) {
    const end = i + 12 + view.getUint32(i);
    const type = ascii(bytes, i + 4, i + 8);
    if (end > bytes.length) return `its ${type} chunk needs ${end - bytes.length} more bytes`;
    if (type === 'IEND') return undefined;
    i = end;
  }
  return 'it has no IEND chunk';
}

function decodePng(bytes: Uint8Array, header: ImageHeader, name: string): DecodedImage {
  const truncation = pngTruncation(bytes);
  if (truncation) throw new ImageDecodeError(`${name} is a truncated PNG: ${truncation}`);
  let png: ReturnType<typeof PNG.sync.read>;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    throw new ImageDecodeError(`${name} is a corrupt PNG (${(err as Error).message})`);
  }
  return {
    format: 'png', width: png.width, height: png.height, description: header.description, hadAlpha: png.alpha,
    data: rgbFromRgba(png.data, png.width, png.height),
  };
}

function decodeJpeg(bytes: Uint8Array, header: ImageHeader, name: string, maxPixels: number): DecodedImage {
  if (!hasEndAfterScan(bytes)) throw new ImageDecodeError(`${name} is a truncated JPEG: the image data has no end marker`);
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      maxResolutionInMP: maxPixels / 1e6,
      maxMemoryUsageInMB: Math.max(512, Math.ceil((maxPixels * 8) / 2 ** 20)),
    });
  } catch (err) {
    throw new ImageDecodeError(`${name} is a corrupt JPEG (${(err as Error).message})`);
  }
  return { format: 'jpeg', width: decoded.width, height: decoded.height, description: header.description, hadAlpha: false, data: decoded.data };
}

/** Decodes PNG or JPEG bytes to RGB, refusing oversized images from their header. */
export function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): DecodedImage {
  const name = options.name ?? 'image';
  checkByteLimit(bytes.length, name, options);
  const header = readImageHeader(bytes, name);
  checkPixelLimit(header, name, options);
  return header.format === 'png'
    ? decodePng(bytes, header, name)
    : decodeJpeg(bytes, header, name, options.maxPixels ?? DEFAULT_MAX_PIXELS);
}

/**
 * Reads the bytes of an input file through the core's checked reader (files.ts: a regular file,
 * its size checked on the open descriptor before reading), with one sentence per failure.
 */
export function readInputBytes(file: string, options: DecodeOptions = {}): Uint8Array {
  const name = options.name ?? path.basename(file);
  try {
    const what = /\.npy$/i.test(file) ? '.npy file' : 'image file';
    return readFileChecked(file, { what, maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES, limitHint: options.limitHint ?? DEFAULT_LIMIT_HINT });
  } catch (err) {
    if (err instanceof FileTooLargeError) checkByteLimit(err.size, name, options);
    if (err instanceof FileReadError) throw new ImageDecodeError(err.message);
    throw err;
  }
}

/** Reads and decodes a PNG or JPEG file. */
export function readImageFile(file: string, options: DecodeOptions = {}): DecodedImage {
  const name = options.name ?? path.basename(file);
  return decodeImage(readInputBytes(file, { ...options, name }), { ...options, name });
}
