// Turning raw results into displayable maps in [0, 1] with the input's spatial shape ([H, W]; [L]
// for 1-D inputs, [T, H, W] for 3-D ones), the same way for every method:
// - CAMs: ReLU, per-image min-max, bilinear upsampling (cv2 INTER_LINEAR) to the input size and
//   min-max again, exactly pytorch-grad-cam's scale_cam_image + aggregate_multi_layers. 1-D and 3-D
//   CAMs are upsampled by torch F.interpolate's 'linear' / 'trilinear' (align_corners=False, the
//   2-D convention along every axis); pytorch-grad-cam's 3-D path (scipy.ndimage.zoom, order 1)
//   maps corner to corner instead, so its 3-D maps differ slightly in the upsampling.
// - Input attributions: summed over channels (of |a| or of a), scaled as Captum's
//   visualize_image_attr does (divided by the value below which (100 − outlier)% of the total mass
//   lies, clipped), signed ones mapped to [0, 1] with 0.5 for zero.
import { resizeBilinear, resizeLinear } from '../image/resize';
import { Tensor, float32, sizeOf } from '../tensor';

export type DisplayMode = 'absolute' | 'positive' | 'signed';
export const DISPLAY_MODES: DisplayMode[] = ['absolute', 'positive', 'signed'];

export interface Map2D {
  map: Tensor;
  note: string;
}

export function relu(values: Float32Array): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] > 0 ? values[i] : 0;
  return out;
}

/** (x − min) / (max − min + 1e-7), pytorch-grad-cam's per-image scaling. */
export function minMax(values: Float32Array): Float32Array {
  let min = Infinity;
  for (let i = 0; i < values.length; i++) min = Math.min(min, values[i]);
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i] - min);
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = (values[i] - min) / (1e-7 + max);
  return out;
}

/** A raw CAM [1, ...spatial] as the final map with the input's spatial shape `out`. */
export function camToMap(raw: Tensor, out: number[]): Map2D {
  const spatial = raw.dims.slice(1);
  const scaled = minMax(relu(raw.data as Float32Array));
  const up = spatial.length === 2 ? resizeBilinear(scaled, spatial[0], spatial[1], out[0], out[1]) : resizeLinear(scaled, spatial, out);
  const how = spatial.length === 2 ? 'bilinear upsampling' : spatial.length === 1 ? 'linear upsampling' : 'trilinear upsampling';
  const convention = spatial.length === 2 ? 'cv2 INTER_LINEAR, half-pixel centres' : `torch F.interpolate '${spatial.length === 1 ? 'linear' : 'trilinear'}', align_corners=False`;
  return {
    map: float32(out, minMax(up)),
    note: `map: ReLU, min-max to [0, 1], ${how} ${spatial.join('×')} → ${out.join('×')} (${convention}), min-max again (as pytorch-grad-cam)`,
  };
}

/**
 * A raw CAM for a difference target ('why A and not B') as a signed map in [−1, 1]: no ReLU, the
 * same upsampling as camToMap, then divided by the largest |value|, so 0 stays 0 (no contribution
 * either way), positive is where the evidence is for A and negative where it is for B:
 *   map = up(cam) / max|up(cam)|,   cam = Σ_k w_k A_k with the weights of the seed e_A − e_B.
 * pytorch-grad-cam applies the ReLU whatever the target (base_cam.compute_cam_per_layer:
 * np.maximum(cam, 0), then scale_cam_image's min-max), so for the target
 * `lambda o: o[A] − o[B]` it draws only where A wins, which looks like a plain Grad-CAM of A; its
 * map is the positive part of this one, min-max scaled (the ReLU before or after the upsampling
 * differs only at the border of the positive region).
 */
export function camToSignedMap(raw: Tensor, out: number[]): Map2D {
  const spatial = raw.dims.slice(1);
  const values = raw.data as Float32Array;
  const up = spatial.length === 2 ? resizeBilinear(values, spatial[0], spatial[1], out[0], out[1]) : resizeLinear(values, spatial, out);
  let max = 0;
  for (let i = 0; i < up.length; i++) max = Math.max(max, Math.abs(up[i]));
  const map = new Float32Array(up.length);
  for (let i = 0; i < up.length; i++) map[i] = up[i] / (1e-7 + max);
  const how = spatial.length === 2 ? 'bilinear' : spatial.length === 1 ? 'linear' : 'trilinear';
  return {
    map: float32(out, map),
    note: `map: signed (a difference target: no ReLU, so evidence for the second class shows negative), ${how} upsampling ${spatial.join('×')} → ${out.join('×')}, divided by the largest |value| to [−1, 1]`,
  };
}

/**
 * Captum's _cumulative_sum_threshold: the smallest value v such that values ≤ v hold `percentile`%
 * of the sum. Non-negative values (the maps' magnitudes) are not sorted in full: they are counted
 * into buckets by value, and only the bucket where the running sum crosses the goal is sorted.
 */
export function cumulativeSumThreshold(values: Float32Array, percentile: number): number {
  let max = 0;
  let negative = false;
  for (const v of values) {
    if (v > max) max = v;
    else if (!(v >= 0)) negative = true;
  }
  if (negative || values.length < 2 * BUCKETS || max === 0 || !Number.isFinite(max)) return thresholdOfSorted(Float64Array.from(values).sort(), 0, percentile);
  const scale = BUCKETS / max;
  const bucketOf = (v: number) => Math.min(BUCKETS - 1, Math.floor(v * scale));
  const sums = new Float64Array(BUCKETS);
  const counts = new Uint32Array(BUCKETS);
  for (const v of values) {
    const b = bucketOf(v);
    sums[b] += v;
    counts[b]++;
  }
  let total = 0;
  for (const s of sums) total += s;
  const goal = total * 0.01 * percentile;
  let before = 0;
  for (let b = 0; b < BUCKETS; b++) {
    if (counts[b] === 0) continue;
    // The last non-empty bucket always holds the answer when the goal is never reached by rounding.
    if (before + sums[b] >= goal || b === bucketOf(max)) {
      const members = new Float64Array(counts[b]);
      let n = 0;
      for (const v of values) if (bucketOf(v) === b) members[n++] = v;
      return thresholdOfSorted(members.sort(), before, percentile, goal);
    }
    before += sums[b];
  }
  return max;
}

const BUCKETS = 4096;

/** The first of `sorted` at which `start` plus the running sum reaches the goal (default: percentile% of start + the sum), else the last. */
function thresholdOfSorted(sorted: Float64Array, start: number, percentile: number, goal?: number): number {
  let sum = start;
  if (goal === undefined) {
    let total = start;
    for (const v of sorted) total += v;
    goal = total * 0.01 * percentile;
  }
  for (const v of sorted) {
    sum += v;
    if (sum >= goal) return v;
  }
  return sorted[sorted.length - 1] ?? 0;
}

/** Sums an input-shaped attribution [1, C, ...spatial] over channels, of |a| when `absolute`. */
export function channelSum(attr: Tensor, absolute: boolean): { values: Float32Array; spatial: number[] } {
  const spatial = attr.dims.slice(2);
  const plane = sizeOf(spatial);
  const channels = attr.data.length / plane;
  const data = attr.data as Float32Array;
  const values = new Float32Array(plane);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < plane; i++) {
      const v = data[c * plane + i];
      values[i] += absolute ? Math.abs(v) : v;
    }
  }
  return { values, spatial };
}

/** An input-shaped attribution as a map: see the file comment for the scaling. */
export function attributionToMap(attr: Tensor, mode: DisplayMode, outlierPercent = 2): Map2D {
  const { values, spatial } = channelSum(attr, mode === 'absolute');
  const shown = mode === 'positive' ? relu(values) : values;
  const magnitudes = new Float32Array(shown.length);
  for (let i = 0; i < shown.length; i++) magnitudes[i] = Math.abs(shown[i]);
  const threshold = cumulativeSumThreshold(magnitudes, 100 - outlierPercent);
  const scale = threshold > 0 ? threshold : 1;
  const map = new Float32Array(shown.length);
  for (let i = 0; i < shown.length; i++) {
    const v = Math.max(-1, Math.min(1, shown[i] / scale));
    map[i] = mode === 'signed' ? (v + 1) / 2 : v;
  }
  const what =
    mode === 'absolute' ? 'sum over channels of |attribution|' : mode === 'positive' ? 'positive part of the sum over channels' : 'signed sum over channels (0.5 = zero)';
  return {
    map: float32(spatial, map),
    note: `map: ${what}, divided by its ${100 - outlierPercent}% cumulative-mass threshold and clipped (Captum visualize_image_attr, outlier ${outlierPercent}%)`,
  };
}

/** A non-negative-ish score map (RISE) of the input's spatial shape, min-max scaled. */
export function spatialToMap(values: Float32Array, spatial: number[]): Map2D {
  return { map: float32(spatial, minMax(values)), note: 'map: min-max to [0, 1]' };
}
