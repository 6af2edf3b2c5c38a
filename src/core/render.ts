// Turning an explanation map into a picture: coloured by a colormap (a diverging one for signed
// maps) and blended over the image the model saw.
import { ColormapName, DIVERGING_COLORMAP, colorize, colorizeSigned } from './image/colormap';
import { FloatImage, RgbImage } from './image/image';
import { blendOverlay, encodePng } from './image/overlay';
import { resizeBilinear } from './image/resize';
import { Tensor, mapToFloat32 } from './tensor';

export interface RenderOptions {
  colormap?: ColormapName;
  /** Weight of the map over the image, 0 to 1 (default 0.5). */
  opacity?: number;
  /** A signed map (0 = no contribution) is drawn diverging even where no value is negative. */
  signed?: boolean;
}

export function isSigned(map: Tensor): boolean {
  return (map.data as Float32Array).some((v) => v < 0);
}

// Height in pixels of the strip a 1-D map (a signal's) is drawn as.
const SIGNAL_STRIP_HEIGHT = 24;

/**
 * The map as one picture: [H, W] as it is, a signal's [L] as a strip L wide, a video's [T, H, W]
 * as its frames side by side (H × T·W).
 */
function asPicture(map: Tensor): { values: Float32Array; width: number; height: number } {
  const data = map.data as Float32Array;
  if (map.dims.length === 1) {
    const [length] = map.dims;
    const values = new Float32Array(length * SIGNAL_STRIP_HEIGHT);
    for (let y = 0; y < SIGNAL_STRIP_HEIGHT; y++) values.set(data, y * length);
    return { values, width: length, height: SIGNAL_STRIP_HEIGHT };
  }
  if (map.dims.length === 3) {
    const [frames, height, width] = map.dims;
    const values = new Float32Array(data.length);
    for (let t = 0; t < frames; t++) {
      for (let y = 0; y < height; y++) values.set(data.subarray((t * height + y) * width, (t * height + y + 1) * width), (y * frames + t) * width);
    }
    return { values, width: frames * width, height };
  }
  const [height, width] = map.dims.slice(-2);
  return { values: data, width, height };
}

/** RGBA pixels of the map over the image (or of the map alone when there is no image). */
export function renderMap(map: Tensor, image: FloatImage | undefined, options: RenderOptions = {}): { rgba: Uint8Array; width: number; height: number } {
  const { values, width, height } = asPicture(map);
  const colors =
    options.signed || isSigned(map)
      ? colorizeSigned(values, width, height, options.colormap === 'coolwarm' || !options.colormap ? DIVERGING_COLORMAP : options.colormap)
      : colorize(values, width, height, options.colormap ?? 'viridis');
  if (!image || image.width !== width || image.height !== height) return { rgba: colors, width, height };
  return { rgba: blendOverlay(image, colors, options.opacity ?? 0.5), width, height };
}

export function renderPng(map: Tensor, image: FloatImage | undefined, options: RenderOptions = {}): Uint8Array {
  const { rgba, width, height } = renderMap(map, image, options);
  return encodePng(rgba, width, height);
}

/** A region of an image in its own pixels (fractional edges allowed): what the model saw of it. */
export interface ImageRegion {
  top: number;
  left: number;
  height: number;
  width: number;
}

/**
 * The map over the region of the original image the model saw, at that region's own resolution:
 * the map upsampled bilinearly (cv2 INTER_LINEAR) to the region's size, coloured and blended over
 * the original pixels, so the picture is what the view shows, only sharper.
 */
export function renderMapOnOriginal(map: Tensor, original: RgbImage, region: ImageRegion, options: RenderOptions = {}): { rgba: Uint8Array; width: number; height: number } {
  const top = Math.max(0, Math.round(region.top));
  const left = Math.max(0, Math.round(region.left));
  const height = Math.max(1, Math.min(original.height - top, Math.round(region.height)));
  const width = Math.max(1, Math.min(original.width - left, Math.round(region.width)));
  const crop = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) crop.set(original.data.subarray(((top + y) * original.width + left) * 3, ((top + y) * original.width + left + width) * 3), y * width * 3);
  const [mapHeight, mapWidth] = map.dims.slice(-2);
  const values = resizeBilinear(map.data as Float32Array, mapHeight, mapWidth, height, width);
  return renderMap({ dtype: 'float32', dims: [height, width], data: values }, { width, height, channels: 3, data: mapToFloat32(crop, (v) => v / 255) }, options);
}
