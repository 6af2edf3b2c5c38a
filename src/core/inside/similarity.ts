// Similarity of two explanation maps, as the sanity checks of Adebayo et al. (NeurIPS 2018) use.
//
// Spearman rank correlation: ρ = Pearson correlation of the ranks, ties given their average rank
// (scipy.stats.spearmanr).
//
// SSIM (Wang, Bovik, Sheikh & Simoncelli, IEEE TIP 2004): per position, over an 11×11 Gaussian
// window (σ = 1.5, weights w summing to 1),
//   SSIM = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)),
//   μ = Σ w x, σx² = Σ w x² − μx², σxy = Σ w x y − μx μy, C1 = (0.01 L)², C2 = (0.03 L)²,
// averaged over the positions where the whole window fits: skimage.metrics.structural_similarity
// with gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=L. Maps smaller
// than 11 pixels use the largest odd window that fits, same σ.
import { gaussianKernel } from '../image/blur';
import { FloatTensor } from '../tensor';

export class SimilarityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimilarityError';
  }
}

/** Ranks 1..n of the values, ties sharing their average rank. */
export function ranks(values: ArrayLike<number>): Float64Array {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const out = new Float64Array(values.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && values[order[j + 1]] === values[order[i]]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) out[order[k]] = rank;
    i = j + 1;
  }
  return out;
}

export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] / n;
    my += y[i] / n;
  }
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  // A constant map has no ranking: it correlates with nothing.
  return sxx === 0 || syy === 0 ? 0 : sxy / Math.sqrt(sxx * syy);
}

export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new SimilarityError(`maps of ${x.length} and ${y.length} values cannot be compared`);
  if (x.length < 2) throw new SimilarityError('a rank correlation needs at least two values');
  return pearson(ranks(x), ranks(y));
}

// Separable weighted sums over every window position that fits: [(h − s + 1) × (w − s + 1)].
function windowSums(image: Float64Array, h: number, w: number, kernel: Float64Array): Float64Array {
  const s = kernel.length;
  const oh = h - s + 1;
  const ow = w - s + 1;
  const rows = new Float64Array(h * ow);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < ow; x++) {
      let acc = 0;
      for (let k = 0; k < s; k++) acc += kernel[k] * image[y * w + x + k];
      rows[y * ow + x] = acc;
    }
  }
  const out = new Float64Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let acc = 0;
      for (let k = 0; k < s; k++) acc += kernel[k] * rows[(y + k) * ow + x];
      out[y * ow + x] = acc;
    }
  }
  return out;
}

/** Mean SSIM of two maps of the same [H, W] (trailing two dims), for values spanning `dataRange`. */
export function ssim(a: FloatTensor, b: FloatTensor, dataRange = 1): number {
  const [h, w] = a.dims.slice(-2);
  if (a.data.length !== b.data.length || b.dims[b.dims.length - 2] !== h || b.dims[b.dims.length - 1] !== w || a.data.length !== h * w) {
    throw new SimilarityError(`SSIM compares two single maps of one size; got [${a.dims.join(', ')}] and [${b.dims.join(', ')}]`);
  }
  const size = Math.min(11, Math.min(h, w) % 2 === 1 ? Math.min(h, w) : Math.min(h, w) - 1);
  if (size < 3) throw new SimilarityError(`maps of ${h}×${w} are too small for SSIM (a 3×3 window at least)`);
  const kernel = gaussianKernel(1.5, (size - 1) / 2);
  const x = Float64Array.from(a.data);
  const y = Float64Array.from(b.data);
  const mx = windowSums(x, h, w, kernel);
  const my = windowSums(y, h, w, kernel);
  const mxx = windowSums(
    x.map((v) => v * v),
    h,
    w,
    kernel,
  );
  const myy = windowSums(
    y.map((v) => v * v),
    h,
    w,
    kernel,
  );
  const mxy = windowSums(
    x.map((v, i) => v * y[i]),
    h,
    w,
    kernel,
  );
  const c1 = (0.01 * dataRange) ** 2;
  const c2 = (0.03 * dataRange) ** 2;
  let total = 0;
  for (let i = 0; i < mx.length; i++) {
    const vx = mxx[i] - mx[i] * mx[i];
    const vy = myy[i] - my[i] * my[i];
    const cxy = mxy[i] - mx[i] * my[i];
    total += ((2 * mx[i] * my[i] + c1) * (2 * cxy + c2)) / ((mx[i] ** 2 + my[i] ** 2 + c1) * (vx + vy + c2));
  }
  return total / mx.length;
}

/** The map scaled to [0, 1] by its minimum and maximum (all zeros when constant). */
export function minMaxNormalize(values: ArrayLike<number>): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    lo = Math.min(lo, values[i]);
    hi = Math.max(hi, values[i]);
  }
  const out = new Float32Array(values.length);
  if (hi > lo) for (let i = 0; i < values.length; i++) out[i] = (values[i] - lo) / (hi - lo);
  return out;
}
