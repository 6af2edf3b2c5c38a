// The compact picture of a signal's or a video's explanation, for the small figures that draw a
// map over an image (the Compare tab's cards, the side view): a signal's map as a band over the
// signal's thumbnail, a video's first frame with its map. The Explain tab draws the full figures
// (signal-figure.ts, video-figure.ts).
import type { ImageView, MapData } from '../../../src/protocol';
import { isMapData } from '../../../src/protocol';

// Columns of a signal's band: at most this many (means of samples), at an aspect of 2:1.
const MAX_COLUMNS = 256;

/** What to draw for `image` and `map`: the image's picture (a data URL) and a plane map, or both as given for a picture. */
export function compactPicture(image: ImageView | undefined, map: MapData | undefined): { dataUrl?: string; map?: MapData } {
  if (!image?.signal && !image?.frames) return { dataUrl: image?.dataUrl, map };
  if (!map || !isMapData(map) || !map.shape) return { dataUrl: image.dataUrl, map: undefined };
  if (map.shape.length === 1 && image.signal) {
    const length = map.values.length;
    const width = Math.min(MAX_COLUMNS, length);
    const row = Array.from({ length: width }, (_, x) => {
      const from = Math.floor((x * length) / width);
      const to = Math.max(from + 1, Math.floor(((x + 1) * length) / width));
      let sum = 0;
      for (let i = from; i < to; i++) sum += map.values[i];
      return sum / (to - from);
    });
    const height = Math.max(1, Math.round(width / 2));
    return { dataUrl: image.dataUrl, map: { width, height, values: Array.from({ length: width * height }, (_, i) => row[i % width]), signed: map.signed } };
  }
  if (map.shape.length === 3 && image.frames) {
    const plane = map.width * map.height;
    return { dataUrl: image.frames[0], map: { width: map.width, height: map.height, values: map.values.slice(0, plane), signed: map.signed } };
  }
  return { dataUrl: image.dataUrl, map: undefined };
}
