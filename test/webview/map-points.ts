// Where the canvas feature map draws its points, for tests that hover, click and lasso them: the
// layout of webview/panel/dataset/scatter.ts at zoom 1 (the data bounds centred in the 560 × 400
// canvas with a 12-pixel margin, one scale on both axes, y up), and the arrays of a map view.
import { Page } from 'playwright-core';
import type { DatasetMapView } from '../../src/protocol';

const WIDTH = 560;
const HEIGHT = 400;
const PAD = 12;

export function decodedMap(view: DatasetMapView): { xy: Float32Array; labels: Uint16Array; predictions: Uint16Array } {
  const array = <T>(b64: string, make: (b: ArrayBuffer) => T) => {
    const bytes = Buffer.from(b64, 'base64');
    return make(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  };
  return { xy: array(view.xy, (b) => new Float32Array(b)), labels: array(view.labels, (b) => new Uint16Array(b)), predictions: array(view.predictions, (b) => new Uint16Array(b)) };
}

/** The page position of map point (x, y), the canvas scrolled into view first. */
export async function pointOnPage(page: Page, xy: Float32Array): Promise<(x: number, y: number) => { x: number; y: number }> {
  await page.$eval('#feature-map', (el) => el.scrollIntoView({ block: 'center' }));
  // The canvas's content box (inside its border).
  const box = await page.$eval('#feature-map', (el) => {
    const b = el.getBoundingClientRect();
    return { x: b.x + el.clientLeft, y: b.y + el.clientTop, width: el.clientWidth };
  });
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let i = 0; i < xy.length; i += 2) {
    [x0, x1] = [Math.min(x0, xy[i]), Math.max(x1, xy[i])];
    [y0, y1] = [Math.min(y0, xy[i + 1]), Math.max(y1, xy[i + 1])];
  }
  const u = Math.max((x1 - x0) / (WIDTH - 2 * PAD), (y1 - y0) / (HEIGHT - 2 * PAD));
  const scale = box.width / WIDTH;
  return (x, y) => ({ x: box.x + scale * (WIDTH / 2 + (x - (x0 + x1) / 2) / u), y: box.y + scale * (HEIGHT / 2 - (y - (y0 + y1) / 2) / u) });
}

/** The point farthest from any other (so no neighbour competes for the pointer). */
export function loneliestPoint(xy: Float32Array): number {
  const n = xy.length / 2;
  let best = { i: 0, gap: -1 };
  for (let i = 0; i < n; i++) {
    let gap = Infinity;
    for (let j = 0; j < n; j++) if (j !== i) gap = Math.min(gap, Math.hypot(xy[2 * i] - xy[2 * j], xy[2 * i + 1] - xy[2 * j + 1]));
    if (gap > best.gap) best = { i, gap };
  }
  return best.i;
}
