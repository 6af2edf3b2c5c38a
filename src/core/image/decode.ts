// Decoding of PNG and JPEG files to 8-bit RGB, the way Pillow's Image.open(f).convert('RGB') sees
// them, with the size checked from the header before any pixel is decoded.
//
// - Format: identified by magic bytes (PNG signature 89 50 4E 47 0D 0A 1A 0A; JPEG SOI FF D8 FF),
//   never by the file extension.
// - Decompression-bomb guard (limits in ../limits.ts): width × height is read from the PNG IHDR
//   chunk or the JPEG SOFn segment and refused above `maxPixels` (default 50 megapixels) before
//   decoding; files above `maxBytes` are refused unread. A PNG must hold exactly one IHDR, first,
//   and a JPEG exactly one frame header, since a decoder would size its output from the last one.
//   An interlaced PNG's data is inflated with zlib's maxOutputLength set to the size its header
//   declares (pngjs bounds only non-interlaced data), so a small file cannot inflate to gigabytes.
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
import * as zlib from 'zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { FileReadError, FileTooLargeError, readFileChecked } from '../files';
import { DEFAULT_LIMIT_HINT, DEFAULT_MAX_BYTES, SizeLimits, checkBytes, checkPixels, maxPixelsOf } from '../limits';
import { RgbImage } from './image';

export { DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, SizeLimitError as ImageTooLargeError } from '../limits';

export type ImageFormat = 'png' | 'jpeg';

export interface DecodedImage extends RgbImage {
  format: ImageFormat;
  /** What the file held, e.g. '16-bit grayscale PNG' or 'progressive CMYK JPEG'. */
  description: string;
  /** Whether an alpha channel was dropped. */
  hadAlpha: boolean;
}

export interface DecodeOptions extends SizeLimits {
  /** Name used in messages (default 'image'). */
  name?: string;
}

const SUPPORTED = 'supported image formats: PNG, JPEG';

export class ImageDecodeError extends Error {}
export class UnsupportedImageFormatError extends ImageDecodeError {}

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

function isFrameMarker(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/**
 * Offset of a frame header (SOFn) after the segment that ends at `from`, or -1 when there is none
 * before EOI: segments are walked and entropy-coded data scanned to its next marker (in it, 0xFF
 * is followed by a stuffed 0x00, a fill 0xFF or a restart marker).
 */
function laterFrameOffset(bytes: Uint8Array, from: number): number {
  let i = from;
  while (i + 1 < bytes.length) {
    if (bytes[i] !== 0xff) {
      i++; // garbage between segments, which decoders skip
      continue;
    }
    while (bytes[i] === 0xff) i++;
    const marker = bytes[i++];
    if (marker === 0xd9) return -1;
    if (isFrameMarker(marker)) return i - 2;
    if (isStandaloneMarker(marker) || i + 2 > bytes.length) continue;
    i += (bytes[i] << 8) | bytes[i + 1];
    if (marker !== 0xda) continue;
    while (i + 1 < bytes.length && !(bytes[i] === 0xff && bytes[i + 1] !== 0x00 && bytes[i + 1] !== 0xff && !(bytes[i + 1] >= 0xd0 && bytes[i + 1] <= 0xd7))) i++;
  }
  return -1;
}

const SOF_KINDS: Record<number, string | undefined> = {
  0xc0: 'baseline',
  0xc1: 'extended',
  0xc2: 'progressive',
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
    if (isFrameMarker(marker)) {
      if (i + 8 > bytes.length) throw truncated();
      const kind = SOF_KINDS[marker];
      if (!kind) {
        throw new UnsupportedImageFormatError(
          `${name} is a lossless, hierarchical or arithmetic-coded JPEG (SOF${marker - 0xc0}), which ConvLens cannot decode; re-save it as a baseline JPEG or PNG`,
        );
      }
      const precision = bytes[i + 2];
      if (precision !== 8) throw new UnsupportedImageFormatError(`${name} is a ${precision}-bit JPEG; only 8-bit JPEGs are supported (re-save it as PNG)`);
      const height = (bytes[i + 3] << 8) | bytes[i + 4];
      const width = (bytes[i + 5] << 8) | bytes[i + 6];
      if (height === 0) throw new UnsupportedImageFormatError(`${name} declares its height after the image data (DNL marker), which is not supported`);
      const components = bytes[i + 7];
      const color = JPEG_COLORS[components];
      if (!color) throw new UnsupportedImageFormatError(`${name} is a JPEG with ${components} colour components; 1 (grayscale), 3 (colour) or 4 (CMYK) are supported`);
      // A decoder would size its output from the last frame header, the size check reads the first.
      const later = laterFrameOffset(bytes, i + length);
      if (later >= 0) throw new ImageDecodeError(`${name} is a corrupt JPEG: it has a second frame header (SOF) at byte ${later}`);
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

function checkDeclaredSize(header: ImageHeader, name: string, options: DecodeOptions): void {
  if (header.width === 0 || header.height === 0) throw new ImageDecodeError(`${name} declares an empty ${header.width}×${header.height} image`);
  checkPixels(`${name} declares`, header.width, header.height, options);
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

interface PngChunks {
  /** Why the file cannot be decoded (truncated, or a second IHDR), when it cannot. */
  problem?: string;
  /** The IDAT chunks' data, in order. */
  data: Uint8Array[];
}

/**
 * Walks the chunks (length, type, data, CRC) to name a truncation pngjs would report obscurely,
 * and refuses a second IHDR: the size check reads the first, pngjs would decode the last.
 */
function pngChunks(bytes: Uint8Array): PngChunks {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data: Uint8Array[] = [];
  let i = 8;
  while (i + 8 <= bytes.length) {
    const end = i + 12 + view.getUint32(i);
    const type = ascii(bytes, i + 4, i + 8);
    if (end > bytes.length) return { problem: `a truncated PNG: its ${type} chunk needs ${end - bytes.length} more bytes`, data };
    if (type === 'IHDR' && i !== 8) return { problem: `a corrupt PNG: it has a second IHDR chunk at byte ${i}`, data };
    if (type === 'IDAT') data.push(bytes.subarray(i + 8, end - 4));
    if (type === 'IEND') return { data };
    i = end;
  }
  return { problem: 'a truncated PNG: it has no IEND chunk', data };
}

const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
// Adam7 passes: [x offset, y offset, x step, y step].
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

/** Bytes the image data inflates to, as the IHDR declares it: each row (of each pass) plus its filter byte. */
export function pngInflatedSize(width: number, height: number, bitDepth: number, colorType: number, interlaced: boolean): number {
  const bitsPerPixel = bitDepth * (PNG_CHANNELS[colorType] ?? 4);
  const rows = (w: number, h: number): number => (w > 0 && h > 0 ? h * (1 + Math.ceil((w * bitsPerPixel) / 8)) : 0);
  if (!interlaced) return rows(width, height);
  return ADAM7.reduce((sum, [x0, y0, dx, dy]) => sum + rows(Math.ceil((width - x0) / dx), Math.ceil((height - y0) / dy)), 0);
}

/**
 * Inflates an interlaced PNG's data with the output capped at the declared size, refusing a stream
 * that inflates to more: pngjs caps only non-interlaced data, so this is checked before it runs.
 */
function checkInterlacedInflation(bytes: Uint8Array, idat: Uint8Array[], name: string): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = pngInflatedSize(view.getUint32(16), view.getUint32(20), bytes[24], bytes[25], true);
  try {
    zlib.inflateSync(Buffer.concat(idat), { maxOutputLength: Math.max(1, declared) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new ImageDecodeError(`${name} is a corrupt PNG: its image data inflates to more than the ${declared} bytes its header declares`);
    }
    throw new ImageDecodeError(`${name} is a corrupt PNG (${(err as Error).message})`);
  }
}

function decodePng(bytes: Uint8Array, header: ImageHeader, name: string): DecodedImage {
  const chunks = pngChunks(bytes);
  if (chunks.problem) throw new ImageDecodeError(`${name} is ${chunks.problem}`);
  if (bytes[28] === 1) checkInterlacedInflation(bytes, chunks.data, name);
  let png: ReturnType<typeof PNG.sync.read>;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    throw new ImageDecodeError(`${name} is a corrupt PNG (${(err as Error).message})`);
  }
  return {
    format: 'png',
    width: png.width,
    height: png.height,
    description: header.description,
    hadAlpha: png.alpha,
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
  checkBytes(name, bytes.length, options);
  const header = readImageHeader(bytes, name);
  checkDeclaredSize(header, name, options);
  return header.format === 'png' ? decodePng(bytes, header, name) : decodeJpeg(bytes, header, name, maxPixelsOf(options));
}

/**
 * Reads the bytes of an input file through the core's checked reader (files.ts: a regular file,
 * its size checked on the open descriptor before reading), with one sentence per failure.
 */
export function readInputBytes(file: string, options: DecodeOptions = {}): Uint8Array {
  const name = options.name ?? path.basename(file);
  try {
    const what = /\.npy$/i.test(file) ? '.npy file' : /\.wav$/i.test(file) ? 'WAV file' : 'image file';
    return readFileChecked(file, { what, maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES, limitHint: options.limitHint ?? DEFAULT_LIMIT_HINT });
  } catch (err) {
    if (err instanceof FileTooLargeError) checkBytes(name, err.size, options);
    if (err instanceof FileReadError) throw new ImageDecodeError(err.message);
    throw err;
  }
}

/** Reads and decodes a PNG or JPEG file. */
export function readImageFile(file: string, options: DecodeOptions = {}): DecodedImage {
  const name = options.name ?? path.basename(file);
  return decodeImage(readInputBytes(file, { ...options, name }), { ...options, name });
}
