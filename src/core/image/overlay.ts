// Maps drawn over images, and PNG encoding.
//
// - blendOverlay: out = (1 − α·a)·image + α·a·colour per pixel, a = the colour's alpha / 255 and
//   α the opacity (Porter-Duff "over" with a global opacity), rounded to 8 bits.
// - showCamOnImage: pytorch-grad-cam's show_cam_on_image(img, mask, use_rgb=True, colormap=JET,
//   image_weight=w) (pytorch_grad_cam/utils/image.py), in its float32 arithmetic:
//     heatmap = applyColorMap(uint8(255·mask)) / 255;  cam = (1 − w)·heatmap + w·img;
//     cam = cam / max(cam);  out = uint8(255·cam)   (uint8() truncates).
// - encodePng: 8-bit RGBA PNG through pngjs.
import { PNG } from 'pngjs';
import { ColormapName, colormapTable } from './colormap';
import { FloatImage, RgbImage } from './image';

export class OverlayError extends Error {}

function checkPixels(length: number, perPixel: number, width: number, height: number, what: string): void {
  if (length !== width * height * perPixel) throw new OverlayError(`${what} has ${length} values, not ${width}×${height}×${perPixel}`);
}

/** RGBA (opaque) from RGB bytes. */
export function rgbToRgba(image: RgbImage): Uint8Array {
  const n = image.width * image.height;
  const out = new Uint8Array(n * 4);
  for (let p = 0; p < n; p++) {
    out[p * 4] = image.data[p * 3];
    out[p * 4 + 1] = image.data[p * 3 + 1];
    out[p * 4 + 2] = image.data[p * 3 + 2];
    out[p * 4 + 3] = 255;
  }
  return out;
}

/** Byte value of channel c of pixel p, from an 8-bit or a [0, 1] float image. */
function channelByte(image: RgbImage | FloatImage, p: number, c: number): number {
  if (image.data instanceof Uint8Array) return image.data[p * 3 + c];
  const channels = (image as FloatImage).channels;
  return 255 * Math.min(1, Math.max(0, image.data[p * channels + (channels === 1 ? 0 : c)]));
}

/** Colours (RGBA, e.g. from colorize) over an image with the given opacity; opaque RGBA out. */
export function blendOverlay(image: RgbImage | FloatImage, colors: Uint8Array, opacity: number): Uint8Array {
  const { width, height } = image;
  checkPixels(colors.length, 4, width, height, 'overlay colours');
  if (!(opacity >= 0 && opacity <= 1)) throw new OverlayError(`opacity must be in [0, 1] (got ${opacity})`);
  const out = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    const a = (opacity * colors[p * 4 + 3]) / 255;
    for (let c = 0; c < 3; c++) out[p * 4 + c] = Math.round((1 - a) * channelByte(image, p, c) + a * colors[p * 4 + c]);
    out[p * 4 + 3] = 255;
  }
  return out;
}

export interface ShowCamOptions {
  /** Weight of the image, in [0, 1] (pytorch-grad-cam's default 0.5). */
  imageWeight?: number;
  colormap?: ColormapName;
}

/** pytorch-grad-cam's show_cam_on_image with use_rgb=True: RGB bytes. */
export function showCamOnImage(image: FloatImage, mask: ArrayLike<number>, options: ShowCamOptions = {}): RgbImage {
  const { width, height } = image;
  const weight = options.imageWeight ?? 0.5;
  const colormap = options.colormap ?? 'jet';
  if (!(weight >= 0 && weight <= 1)) throw new OverlayError(`imageWeight must be in [0, 1] (got ${weight})`);
  checkPixels(mask.length, 1, width, height, 'mask');
  const f = Math.fround;
  const table = colormapTable(colormap);
  const heatWeight = f(1 - weight);
  const imageWeight = f(weight);
  const cam = new Float32Array(width * height * 3);
  let max = -Infinity;
  for (let p = 0; p < width * height; p++) {
    // np.uint8(255 * mask): float32 product, truncated; the table entry whatever the colormap.
    const entry = Math.min(255, Math.max(0, Math.trunc(f(255 * f(mask[p]))))) * 3;
    for (let c = 0; c < 3; c++) {
      const heat = f(table[entry + c] / 255);
      const pixel = f(image.data[p * image.channels + (image.channels === 1 ? 0 : c)]);
      const v = f(f(heatWeight * heat) + f(imageWeight * pixel));
      cam[p * 3 + c] = v;
      if (v > max) max = v;
    }
  }
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < cam.length; i++) data[i] = Math.min(255, Math.max(0, Math.trunc(f(255 * f(cam[i] / max)))));
  return { width, height, data };
}

/** An 8-bit RGBA PNG. */
export function encodePng(rgba: Uint8Array, width: number, height: number): Uint8Array {
  checkPixels(rgba.length, 4, width, height, 'RGBA pixels');
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return new Uint8Array(PNG.sync.write(png));
}
