// The compact arrays of the dataset requests (base64 of little-endian typed arrays) decoded, and the
// stylesheet of the dataset tab's error-analysis sections adopted once.
import type { DatasetMapView } from '../../../src/protocol';
import css from './dataset.css';

function bytesOf(b64: string): ArrayBuffer {
  const text = atob(b64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes.buffer;
}

export interface DecodedMap {
  count: number;
  xy: Float32Array;
  labels: Uint16Array;
  predictions: Uint16Array;
  /** Softmax probability of the prediction, to 1/255. */
  confidence: Uint8Array;
}

/** The map's arrays; a map whose arrays do not hold `count` entries each is refused. */
export function decodeMap(view: DatasetMapView): DecodedMap {
  const map = {
    count: view.count,
    xy: new Float32Array(bytesOf(view.xy)),
    labels: new Uint16Array(bytesOf(view.labels)),
    predictions: new Uint16Array(bytesOf(view.predictions)),
    confidence: new Uint8Array(bytesOf(view.confidence)),
  };
  if (map.xy.length !== 2 * map.count || map.labels.length !== map.count || map.predictions.length !== map.count || map.confidence.length !== map.count) {
    throw new Error(`the map's arrays do not hold ${view.count} points each`);
  }
  return map;
}

export function decodeUint8(b64: string): Uint8Array {
  return new Uint8Array(bytesOf(b64));
}

let adopted = false;
export function adoptDatasetStyles(): void {
  if (adopted) return;
  adopted = true;
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(css);
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
}
