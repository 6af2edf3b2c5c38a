// Width and height of a PNG or JPEG from its first bytes, so an image too large to decode is
// refused before anything reads it whole. PNG: the IHDR chunk right after the signature (PNG
// spec 11.2.2). JPEG: the first SOFn marker segment (ITU T.81, B.2.2).
import { readFileChecked } from '../core/files';

export interface ImageSize {
  width: number;
  height: number;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
// Start-of-frame markers: C0–CF except DHT (C4), JPG (C8) and DAC (CC).
const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

export function imageSize(bytes: Uint8Array): ImageSize | undefined {
  if (bytes.length >= 24 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return jpegSize(bytes);
  return undefined;
}

function jpegSize(bytes: Uint8Array): ImageSize | undefined {
  let i = 2;
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) return undefined;
    const marker = bytes[i + 1];
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    const length = (bytes[i + 2] << 8) | bytes[i + 3];
    if (SOF_MARKERS.has(marker)) return { height: (bytes[i + 5] << 8) | bytes[i + 6], width: (bytes[i + 7] << 8) | bytes[i + 8] };
    i += 2 + length;
  }
  return undefined;
}

/** The size read from the start of a file (headers within the first 256 KiB). */
export function imageFileSize(file: string): ImageSize | undefined {
  // The core's checked reader: a FIFO or device named like an image is refused, not waited on.
  return imageSize(readFileChecked(file, { what: 'image file', maxBytes: Infinity, limitHint: '', firstBytes: 256 * 1024 }));
}

/** One sentence when an image has more pixels than the limit, else undefined. */
export function tooLarge(name: string, size: ImageSize | undefined, maxPixels: number): string | undefined {
  if (!size || size.width * size.height <= maxPixels) return undefined;
  const megapixels = (n: number) => `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)} MP`;
  return `${name} is ${size.width}×${size.height} (${megapixels(size.width * size.height)}), more than the ${megapixels(maxPixels)} ConvLens reads (setting convlens.maxImagePixels).`;
}
