// Turning a signed attribution [C, H, W] (or [1, C, H, W], or NHWC) into a displayable map, the way
// Captum's visualization does (captum/attr/_utils/visualization.py, `_normalize_attr` with
// `_cumulative_sum_threshold` and `_normalize_scale`, as visualize_image_attr calls them):
//   1. combine channels: Captum sums the signed values over channels ('sum'); 'sum-abs' (Σ|a|) and
//      'max-abs' (max |a|, Simonyan et al.'s saliency) are offered too;
//   2. keep by sign: 'absolute_value' |m|, 'positive' max(m, 0), 'negative' min(m, 0), 'all' m;
//   3. threshold t = the smallest value whose cumulative sum over the ascending sorted |values|
//      reaches (100 − outlierPerc)% of the total (outlierPerc = 2 by default): the largest values
//      holding the last 2% of the mass are treated as outliers;
//   4. m / t clipped to [−1, 1] ('negative' divides by −t, so its map is in [0, 1] too).
// The cumulative sum accumulates in float32, as numpy's cumsum does on Captum's float32 arrays.
// An all-zero attribution gives an all-zero map (Captum asserts instead).
import { Tensor } from '../tensor';

export type AttributionSign = 'absolute_value' | 'positive' | 'negative' | 'all';
export type ChannelReduction = 'sum' | 'sum-abs' | 'max-abs';

export interface AttributionMapOptions {
  sign?: AttributionSign;
  outlierPerc?: number;
  reduction?: ChannelReduction;
  layout?: 'NCHW' | 'NHWC';
}

export interface AttributionMap {
  width: number;
  height: number;
  /** In [0, 1], or [−1, 1] when `signed`. */
  map: Float32Array;
  signed: boolean;
  /** The value that maps to 1 (Captum's threshold), 0 for an all-zero attribution. */
  threshold: number;
}

export class AttributionMapError extends Error {}

/** Channels combined into an H×W map. */
export function reduceChannels(attr: Tensor, reduction: ChannelReduction = 'sum', layout: 'NCHW' | 'NHWC' = 'NCHW'): { width: number; height: number; map: Float32Array } {
  const dims = attr.dims.length === 4 && attr.dims[0] === 1 ? attr.dims.slice(1) : attr.dims;
  if (dims.length !== 3) throw new AttributionMapError(`an image attribution has shape [C, H, W] or [1, C, H, W], not [${attr.dims.join(', ')}]`);
  const [c, h, w] = layout === 'NCHW' ? dims : [dims[2], dims[0], dims[1]];
  const map = new Float32Array(h * w);
  for (let p = 0; p < h * w; p++) {
    let acc = 0;
    for (let ch = 0; ch < c; ch++) {
      const v = Number(attr.data[layout === 'NCHW' ? ch * h * w + p : p * c + ch]);
      if (reduction === 'sum') acc += v;
      else if (reduction === 'sum-abs') acc += Math.abs(v);
      else acc = Math.max(acc, Math.abs(v));
    }
    map[p] = acc;
  }
  return { width: w, height: h, map };
}

/** Captum's _cumulative_sum_threshold of non-negative values. */
export function cumulativeSumThreshold(values: ArrayLike<number>, percentile: number): number {
  if (!(percentile >= 0 && percentile <= 100)) throw new AttributionMapError(`percentile must be in [0, 100] (got ${percentile})`);
  const sorted = Float32Array.from(values).sort();
  const cumulative = new Float32Array(sorted.length);
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) cumulative[i] = sum = Math.fround(sum + sorted[i]);
  const target = sum * 0.01 * percentile;
  const index = cumulative.findIndex((v) => v >= target);
  return sorted[index < 0 ? sorted.length - 1 : index];
}

/** An attribution as a map to colour: [0, 1] for one-sided signs, [−1, 1] for 'all'. */
export function normalizeAttribution(attr: Tensor, options: AttributionMapOptions = {}): AttributionMap {
  const sign = options.sign ?? 'absolute_value';
  const outlierPerc = options.outlierPerc ?? 2;
  const { width, height, map } = reduceChannels(attr, options.reduction ?? 'sum', options.layout ?? 'NCHW');
  const kept = map.map((v) => (sign === 'absolute_value' ? Math.abs(v) : sign === 'positive' ? Math.max(v, 0) : sign === 'negative' ? Math.min(v, 0) : v));
  const threshold = cumulativeSumThreshold(kept.map(Math.abs), 100 - outlierPerc);
  const divisor = sign === 'negative' ? -threshold : threshold;
  const out = new Float32Array(kept.length);
  if (threshold > 0) for (let i = 0; i < kept.length; i++) out[i] = Math.min(1, Math.max(-1, kept[i] / divisor)) + 0; // + 0 turns −0 into 0
  return { width, height, map: out, signed: sign === 'all', threshold };
}
