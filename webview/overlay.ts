// Drawing maps on canvases: the explanation overlay (image + colorized map at an opacity), bare
// map thumbnails, and a colormap legend.
import { ColormapName, DIVERGING, MapLike, colorize, colormapLut } from './colormap';

const images = new Map<string, Promise<HTMLImageElement>>();

/** The decoded image for a data URL, cached (thumbnails, overlays and side view share it). */
export function loadImage(dataUrl: string): Promise<HTMLImageElement> {
  let loaded = images.get(dataUrl);
  if (!loaded) {
    loaded = new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error('the image could not be decoded'));
      img.src = dataUrl;
    });
    images.set(dataUrl, loaded);
  }
  return loaded;
}

/** Canvas resolution for a map: at least ~320 px on the long side so bilinear upsampling looks smooth. */
function canvasScale(width: number, height: number, minSide: number): number {
  return Math.max(1, Math.ceil(minSide / Math.max(width, height)));
}

function mapCanvas(map: MapLike, colormap: ColormapName): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = map.width;
  canvas.height = map.height;
  canvas.getContext('2d')!.putImageData(colorize(map, colormap), 0, 0);
  return canvas;
}

export interface OverlayOptions {
  colormap: ColormapName;
  opacity: number;
  minSide?: number;
}

/**
 * Draws the image, then the colorized map over it at `opacity` (both scaled to the canvas with
 * bilinear smoothing). Without a map, the bare image; without an image, the map alone.
 */
export function drawOverlay(canvas: HTMLCanvasElement, image: HTMLImageElement | undefined, map: MapLike | undefined, options: OverlayOptions): void {
  const width = map?.width ?? image?.naturalWidth ?? 1;
  const height = map?.height ?? image?.naturalHeight ?? 1;
  const scale = canvasScale(width, height, options.minSide ?? 320);
  canvas.width = width * scale;
  canvas.height = height * scale;
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (image) ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
  if (map) {
    ctx.globalAlpha = image ? Math.min(1, Math.max(0, options.opacity)) : 1;
    ctx.drawImage(mapCanvas(map, options.colormap), 0, 0, canvas.width, canvas.height);
    ctx.globalAlpha = 1;
  }
}

/** A map alone at its own resolution (CSS scales it): activation thumbnails. */
export function drawMap(canvas: HTMLCanvasElement, map: MapLike, colormap: ColormapName): void {
  canvas.width = map.width;
  canvas.height = map.height;
  canvas.getContext('2d')!.putImageData(colorize(map, colormap), 0, 0);
}

/** A horizontal colour bar of the map in use. */
export function drawLegend(canvas: HTMLCanvasElement, colormap: ColormapName, signed: boolean): void {
  const table = colormapLut(signed ? DIVERGING : colormap);
  canvas.width = 256;
  canvas.height = 1;
  const pixels = new ImageData(256, 1);
  for (let i = 0; i < 256; i++) {
    pixels.data.set([table[i * 3], table[i * 3 + 1], table[i * 3 + 2], 255], i * 4);
  }
  canvas.getContext('2d')!.putImageData(pixels, 0, 0);
}
