// One channel of a 1-D layer [1, C, L] (a map of shape [L]) as the Activations view draws it: the
// values as a line over a band of their colours in the colormap, the signal figure's helpers at
// thumbnail size.
import type { MapData } from '../../../src/protocol';
import type { ColormapName } from '../../colormap';
import { drawLine, mapRow } from './signal-figure';

/** Whether a channel's map is a 1-D layer's [L] rather than a plane. */
export const isStrip = (map: MapData): boolean => map.shape?.length === 1;

/** Draws `map` ([L]) into `canvas` at `width` × `height`: a colour band at half strength with the line over it. */
export function drawChannelStrip(canvas: HTMLCanvasElement, map: MapData, colormap: ColormapName, width: number, height: number): void {
  canvas.width = width;
  canvas.height = height;
  canvas.classList.add('channel-strip');
  const ctx = canvas.getContext('2d')!;
  ctx.clearRect(0, 0, width, height);
  ctx.globalAlpha = 0.5;
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(mapRow(map, colormap), 0, 0, width, height);
  ctx.globalAlpha = 1;
  const color = getComputedStyle(canvas).color || '#cccccc';
  drawLine(ctx, map.values, 3, height - 6, color, width);
}
