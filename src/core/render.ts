// Turning an explanation map into a picture: coloured by a colormap (a diverging one for signed
// maps) and blended over the image the model saw.
import { ColormapName, DIVERGING_COLORMAP, colorize, colorizeSigned } from './image/colormap';
import { FloatImage } from './image/image';
import { blendOverlay, encodePng } from './image/overlay';
import { Tensor } from './tensor';

export interface RenderOptions {
  colormap?: ColormapName;
  /** Weight of the map over the image, 0 to 1 (default 0.5). */
  opacity?: number;
}

export function isSigned(map: Tensor): boolean {
  return (map.data as Float32Array).some((v) => v < 0);
}

/** RGBA pixels of the map over the image (or of the map alone when there is no image). */
export function renderMap(map: Tensor, image: FloatImage | undefined, options: RenderOptions = {}): { rgba: Uint8Array; width: number; height: number } {
  const [height, width] = map.dims.slice(-2);
  const values = map.data as Float32Array;
  const colors = isSigned(map)
    ? colorizeSigned(values, width, height, options.colormap === 'coolwarm' || !options.colormap ? DIVERGING_COLORMAP : options.colormap)
    : colorize(values, width, height, options.colormap ?? 'viridis');
  if (!image || image.width !== width || image.height !== height) return { rgba: colors, width, height };
  return { rgba: blendOverlay(image, colors, options.opacity ?? 0.5), width, height };
}

export function renderPng(map: Tensor, image: FloatImage | undefined, options: RenderOptions = {}): Uint8Array {
  const { rgba, width, height } = renderMap(map, image, options);
  return encodePng(rgba, width, height);
}
