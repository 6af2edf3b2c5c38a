// Superpixels for LIME and Kernel SHAP: SLIC (Achanta et al., 2012, IEEE TPAMI 34:2274) on the
// input tensor itself. The preprocessing that made the tensor is not known here, so instead of
// CIELAB each channel is standardised over the image (zero mean, unit variance) and colour distance
// is Euclidean in those units:
//   D² = Σ_c (f_c(p) − f_c(k))² + (compactness · d_xy(p, k) / S)²,   S = √(H·W / segments)
// Ten assignment/update iterations over 2S×2S windows, then connectivity is enforced: components
// smaller than a quarter of the expected size join a neighbouring segment. Labels are 0..count−1.
import { Tensor } from '../tensor';
import { ExplainError } from './types';

export interface Segmentation {
  /** Segment of every pixel, row-major [H, W]. */
  labels: Int32Array;
  count: number;
  height: number;
  width: number;
}

function standardisedChannels(input: Tensor): Float32Array[] {
  const [, channels, h, w] = input.dims;
  const plane = h * w;
  const data = input.data as Float32Array;
  return Array.from({ length: channels }, (_, c) => {
    const v = data.subarray(c * plane, (c + 1) * plane);
    let mean = 0;
    for (const x of v) mean += x;
    mean /= plane;
    let variance = 0;
    for (const x of v) variance += (x - mean) ** 2;
    const std = Math.sqrt(variance / plane) || 1;
    return v.map((x) => (x - mean) / std);
  });
}

interface Centre {
  y: number;
  x: number;
  colour: Float64Array;
}

export function slic(input: Tensor, segments: number, compactness: number, iterations = 10): Segmentation {
  if (input.dims.length !== 4) {
    const what = input.dims.length === 3 ? 'a signal [1, C, L]' : input.dims.length === 5 ? 'a video [1, C, T, H, W]' : `a [${input.dims.join(', ')}] tensor`;
    throw new ExplainError(`LIME and Kernel SHAP perturb SLIC superpixels, which are regions of a 2-D image; the input is ${what}: use occlusion or RISE instead`);
  }
  const [, , h, w] = input.dims;
  const plane = h * w;
  const features = standardisedChannels(input);
  const step = Math.sqrt(plane / Math.max(1, segments));
  const rows = Math.max(1, Math.round(h / step));
  const cols = Math.max(1, Math.round(w / step));
  const centres: Centre[] = [];
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const y = Math.min(h - 1, Math.floor(((i + 0.5) * h) / rows));
      const x = Math.min(w - 1, Math.floor(((j + 0.5) * w) / cols));
      centres.push({ y, x, colour: Float64Array.from(features, (f) => f[y * w + x]) });
    }
  }
  const labels = new Int32Array(plane).fill(-1);
  const distance = new Float64Array(plane);
  const spatialWeight = (compactness / step) ** 2;
  for (let iter = 0; iter < iterations; iter++) {
    distance.fill(Infinity);
    centres.forEach((centre, k) => {
      const y0 = Math.max(0, Math.floor(centre.y - step));
      const y1 = Math.min(h - 1, Math.ceil(centre.y + step));
      const x0 = Math.max(0, Math.floor(centre.x - step));
      const x1 = Math.min(w - 1, Math.ceil(centre.x + step));
      for (let y = y0; y <= y1; y++) {
        for (let x = x0; x <= x1; x++) {
          const p = y * w + x;
          let d = spatialWeight * ((y - centre.y) ** 2 + (x - centre.x) ** 2);
          for (let c = 0; c < features.length; c++) d += (features[c][p] - centre.colour[c]) ** 2;
          if (d < distance[p]) {
            distance[p] = d;
            labels[p] = k;
          }
        }
      }
    });
    updateCentres(centres, labels, features, w);
  }
  return enforceConnectivity(labels, h, w, plane / centres.length);
}

function updateCentres(centres: Centre[], labels: Int32Array, features: Float32Array[], w: number): void {
  const sums = centres.map(() => ({ y: 0, x: 0, n: 0, colour: new Float64Array(features.length) }));
  for (let p = 0; p < labels.length; p++) {
    const s = sums[labels[p]];
    if (!s) continue;
    s.y += Math.floor(p / w);
    s.x += p % w;
    s.n++;
    for (let c = 0; c < features.length; c++) s.colour[c] += features[c][p];
  }
  centres.forEach((centre, k) => {
    const s = sums[k];
    if (s.n === 0) return;
    centre.y = s.y / s.n;
    centre.x = s.x / s.n;
    centre.colour = s.colour.map((v) => v / s.n);
  });
}

/** Relabels 4-connected components; those under a quarter of `expectedSize` merge into a neighbour. */
function enforceConnectivity(labels: Int32Array, h: number, w: number, expectedSize: number): Segmentation {
  const out = new Int32Array(labels.length).fill(-1);
  const minSize = Math.max(1, Math.floor(expectedSize / 4));
  const neighbours = (p: number) => {
    const y = Math.floor(p / w);
    const x = p % w;
    const list: number[] = [];
    if (x > 0) list.push(p - 1);
    if (x < w - 1) list.push(p + 1);
    if (y > 0) list.push(p - w);
    if (y < h - 1) list.push(p + w);
    return list;
  };
  let count = 0;
  for (let start = 0; start < labels.length; start++) {
    if (out[start] !== -1) continue;
    // A neighbouring component already labelled, for a small component to join.
    let adjacent = -1;
    for (const q of neighbours(start)) if (out[q] !== -1) adjacent = out[q];
    const component = [start];
    out[start] = count;
    for (let i = 0; i < component.length; i++) {
      for (const q of neighbours(component[i])) {
        if (out[q] === -1 && labels[q] === labels[start]) {
          out[q] = count;
          component.push(q);
        }
      }
    }
    if (component.length < minSize && adjacent !== -1) {
      for (const p of component) out[p] = adjacent;
    } else count++;
  }
  return { labels: out, count, height: h, width: w };
}
