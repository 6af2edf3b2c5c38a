// Colormaps as 256-entry RGB lookup tables: viridis, inferno, turbo and the diverging cool-warm
// (for signed maps) are matplotlib's tables, jet is OpenCV's COLORMAP_JET — the same tables the
// core uses for exported PNGs (src/core/image/colormap-data.ts, pure data, so safe in a browser);
// gray is t itself. A value t in [0,1] maps to LUT[round(255·t)].
import { COLORMAP_HEX } from '../src/core/image/colormap-data';
import { EXPORT_COLORMAPS, ExportColormap } from '../src/protocol';

/** The colormaps offered; exports take the same names. */
export const COLORMAPS = EXPORT_COLORMAPS;
export type ColormapName = ExportColormap;
export const DIVERGING = 'coolwarm';

export function isColormap(name: unknown): name is ColormapName {
  return typeof name === 'string' && (COLORMAPS as readonly string[]).includes(name);
}

function fromHex(hex: string): Uint8ClampedArray {
  const table = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < table.length; i++) table[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return table;
}

function grayRamp(): Uint8ClampedArray {
  const table = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) table.fill(i, i * 3, i * 3 + 3);
  return table;
}

const LUTS: Record<ColormapName | typeof DIVERGING, Uint8ClampedArray> = {
  viridis: fromHex(COLORMAP_HEX.viridis),
  inferno: fromHex(COLORMAP_HEX.inferno),
  turbo: fromHex(COLORMAP_HEX.turbo),
  jet: fromHex(COLORMAP_HEX.jet),
  gray: grayRamp(),
  coolwarm: fromHex(COLORMAP_HEX.coolwarm),
};

export function colormapLut(name: ColormapName | typeof DIVERGING): Uint8ClampedArray {
  return LUTS[name];
}

export interface MapLike {
  width: number;
  height: number;
  values: ArrayLike<number>;
  signed?: boolean;
}

/**
 * RGBA pixels of a map. Unsigned maps: value in [0,1] → colormap, opaque. Signed maps: value in
 * [−1,1] → the diverging map with alpha |value|, so near-zero evidence lets the image show through.
 */
export function colorize(map: MapLike, name: ColormapName): ImageData {
  const pixels = new ImageData(map.width, map.height);
  const table = LUTS[map.signed ? DIVERGING : name];
  const n = map.width * map.height;
  for (let i = 0; i < n; i++) {
    const raw = Number(map.values[i]);
    const v = Number.isFinite(raw) ? raw : 0;
    const t = map.signed ? (Math.min(1, Math.max(-1, v)) + 1) / 2 : Math.min(1, Math.max(0, v));
    const k = Math.round(t * 255) * 3;
    pixels.data[i * 4] = table[k];
    pixels.data[i * 4 + 1] = table[k + 1];
    pixels.data[i * 4 + 2] = table[k + 2];
    pixels.data[i * 4 + 3] = map.signed ? Math.round(Math.min(1, Math.abs(v)) * 255) : 255;
  }
  return pixels;
}
