// The image types the core passes around: 8-bit RGB as decoded from files, and float images
// (values in [0, 1]) as resampled for the model and for overlays. Both are row-major HWC.

/** 8-bit RGB, row-major, 3 bytes per pixel. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Float image, row-major HWC with `channels` values per pixel, values in [0, 1]. */
export interface FloatImage {
  width: number;
  height: number;
  channels: number;
  data: Float32Array;
}

/** x / 255 for every byte: the [0, 1] convention of torchvision's ToTensor and skimage's img_as_float. */
export function toFloatImage(image: RgbImage): FloatImage {
  const data = new Float32Array(image.data.length);
  for (let i = 0; i < data.length; i++) data[i] = image.data[i] / 255;
  return { width: image.width, height: image.height, channels: 3, data };
}

/**
 * Luma of ITU-R 601-2, as Pillow's convert('L') computes it on 8-bit RGB:
 * L = (19595·R + 38470·G + 7471·B + 0x8000) >> 16, i.e. 0.299 R + 0.587 G + 0.114 B rounded.
 */
export function toGrayBytes(image: RgbImage): Uint8Array {
  const n = image.width * image.height;
  const out = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    const r = image.data[p * 3];
    const g = image.data[p * 3 + 1];
    const b = image.data[p * 3 + 2];
    out[p] = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16;
  }
  return out;
}
