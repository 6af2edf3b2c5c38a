// Colormaps as 256-entry RGB lookup tables, and maps coloured with them.
//
// - viridis (default: perceptually uniform, readable in grayscale and by colour-blind viewers),
//   inferno, turbo and coolwarm (diverging, for signed maps) are matplotlib's tables; a value
//   v ∈ [0, 1] takes entry min(255, ⌊256·v⌋), as matplotlib's ListedColormap(N=256) does.
// - jet is OpenCV's COLORMAP_JET, pytorch-grad-cam's default; it takes entry ⌊255·v⌋, as
//   show_cam_on_image's cv2.applyColorMap(np.uint8(255 · mask)) does, so overlays can match it.
// - gray is entry i = (i, i, i).
// Values outside [0, 1] are clamped; NaN becomes transparent.
import { COLORMAP_HEX } from './colormap-data';

export type ColormapName = 'viridis' | 'inferno' | 'turbo' | 'jet' | 'gray' | 'coolwarm';
export const COLORMAP_NAMES: readonly ColormapName[] = ['viridis', 'inferno', 'turbo', 'jet', 'gray', 'coolwarm'];
export const DIVERGING_COLORMAP: ColormapName = 'coolwarm';

export class ColormapError extends Error {}

const tables = new Map<ColormapName, Uint8Array>();

/** The 256 × RGB table of a colormap. */
export function colormapTable(name: ColormapName): Uint8Array {
  let table = tables.get(name);
  if (!table) {
    table = new Uint8Array(256 * 3);
    if (name === 'gray') {
      for (let i = 0; i < 256; i++) table.fill(i, i * 3, i * 3 + 3);
    } else {
      const hex = (COLORMAP_HEX as Record<string, string>)[name];
      if (!hex) throw new ColormapError(`unknown colormap '${name}' (known: ${COLORMAP_NAMES.join(', ')})`);
      for (let i = 0; i < 256 * 3; i++) table[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
    }
    tables.set(name, table);
  }
  return table;
}

/** Table entry of a value in [0, 1] (see the conventions above). */
export function colormapIndex(name: ColormapName, v: number): number {
  const clamped = Math.min(1, Math.max(0, v));
  return name === 'jet' ? Math.floor(255 * clamped) : Math.min(255, Math.floor(256 * clamped));
}

/** '#rrggbb' of a value in [0, 1]. */
export function colormapHex(name: ColormapName, v: number): string {
  const table = colormapTable(name);
  const i = colormapIndex(name, v) * 3;
  return `#${[table[i], table[i + 1], table[i + 2]].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** RGBA pixels of a w×h map with values in [0, 1]. */
export function colorize(map01: ArrayLike<number>, width: number, height: number, name: ColormapName = 'viridis'): Uint8Array {
  if (map01.length !== width * height) throw new ColormapError(`map has ${map01.length} values, not ${width}×${height}`);
  const table = colormapTable(name);
  const out = new Uint8Array(width * height * 4);
  for (let p = 0; p < map01.length; p++) {
    const v = map01[p];
    if (Number.isNaN(v)) continue;
    const i = colormapIndex(name, v) * 3;
    out[p * 4] = table[i];
    out[p * 4 + 1] = table[i + 1];
    out[p * 4 + 2] = table[i + 2];
    out[p * 4 + 3] = 255;
  }
  return out;
}

/**
 * RGBA pixels of a signed map on a symmetric scale: v ↦ 0.5 + 0.5·v / limit, so 0 is the
 * colormap's middle and ±limit its ends; `limit` defaults to max |v|.
 */
export function colorizeSigned(map: ArrayLike<number>, width: number, height: number, name: ColormapName = DIVERGING_COLORMAP, limit?: number): Uint8Array {
  let scale = limit;
  if (scale === undefined) {
    scale = 0;
    for (let i = 0; i < map.length; i++) if (!Number.isNaN(map[i])) scale = Math.max(scale, Math.abs(map[i]));
  }
  const centred = new Float32Array(map.length);
  for (let i = 0; i < map.length; i++) centred[i] = scale > 0 ? 0.5 + (0.5 * map[i]) / scale : Number.isNaN(map[i]) ? NaN : 0.5;
  return colorize(centred, width, height, name);
}
