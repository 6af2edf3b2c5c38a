// Faithfulness of a map: does the model's score depend on the pixels the map ranks highest?
// - Deletion (Petsiuk et al., 2018, arXiv:1806.07421): pixels in decreasing order of the map are
//   replaced by the baseline in equal steps; the score should fall fast (low area is good).
// - Insertion: starting from the baseline, pixels are restored in the same order; the score should
//   rise fast (high area is good).
//   Curves are sampled at fractions k/steps of the pixels, all channels of a pixel at once; the area
//   is the trapezoid rule over fractions in [0, 1]; the normalised area divides it by the score of
//   the unmodified input. Baseline: a Gaussian blur of the input (σ in pixels, edges clamped;
//   image/blur.ts) or 0.
// - Pointing game (Zhang et al., 2016, arXiv:1608.00507): a hit when the map's maximum lies in the
//   object's bounding box (optionally within a tolerance in pixels), or on its mask.
// - Mask IoU: the map thresholded to its k highest pixels, k = the mask's area in pixels (so the two
//   regions have equal size and no free threshold is chosen), against the mask: |top-k ∩ M| / |top-k ∪ M|.
//   Ties at the k-th value go in row-major order, as in deletion.
// - Energy inside (Wang et al., 2020, Score-CAM, arXiv:1910.01279): Σ of the map's positive values on
//   the mask / Σ over the whole map.
import { gaussianBlur } from '../image/blur';
import { centerCropBox, shorterSideSize } from '../image/resample';
import { PreprocessSpec } from '../preprocess';
import { Tensor } from '../tensor';
import { scoreVariants } from './forward';
import { ScoreKind, checkInput, resolveTarget, targetScores } from './target';
import { ExplainContext, ExplainError } from './types';

export interface FaithfulnessOptions {
  /** Number of steps from 0 to all pixels (default 32). */
  steps?: number;
  baseline?: 'blur' | 'zero';
  /** Blur σ in pixels (default 5). */
  blurSigma?: number;
  batch?: number;
  /** Default 'probability', as in the RISE paper. */
  score?: ScoreKind;
}

export interface Curve {
  /** Fraction of pixels deleted (or inserted) at each point, 0 to 1. */
  fractions: number[];
  scores: number[];
  auc: number;
  normalizedAuc: number;
}

export interface Faithfulness {
  deletion: Curve;
  insertion: Curve;
  notes: string[];
}

/** Pixel indices in decreasing order of the map (ties in index order). */
export function pixelOrder(map: Tensor): Int32Array {
  const values = map.data as Float32Array;
  const order = Int32Array.from({ length: values.length }, (_, i) => i);
  return order.sort((a, b) => values[b] - values[a] || a - b);
}

export function trapezoidArea(fractions: number[], scores: number[]): number {
  let area = 0;
  for (let i = 1; i < fractions.length; i++) area += ((scores[i] + scores[i - 1]) / 2) * (fractions[i] - fractions[i - 1]);
  return area;
}

/**
 * Deletion and insertion curves of `map` for the context's input and target. The map has one value
 * per position of the input [1, C, ...positions]: a picture's [H, W], a signal's [L] (samples), a
 * video's [T, H, W] (frames × pixels); all channels of a position move together. The blurred
 * baseline blurs each picture or frame over its pixels, a signal along its samples (σ in samples).
 */
export async function deletionInsertion(ctx: ExplainContext, map: Tensor, options: FaithfulnessOptions = {}): Promise<Faithfulness> {
  checkInput(ctx.input);
  const rank = ctx.input.dims.length;
  if (rank < 3 || rank > 5)
    throw new ExplainError(
      `deletion and insertion curves reveal positions of an input [1, C, L], [1, C, H, W] or [1, C, T, H, W] against a blurred copy; the input is [${ctx.input.dims.join(', ')}]`,
    );
  const [, channels, ...positionDims] = ctx.input.dims;
  const plane = positionDims.reduce((a, b) => a * b, 1);
  if (map.data.length !== plane) throw new ExplainError(`the map has ${map.data.length} values but the input has ${positionDims.join('×')} positions`);
  // Blurred planes: a signal is one 1 × L row per channel, a video T frames of H × W per channel.
  const [H, W] = rank === 3 ? [1, positionDims[0]] : positionDims.slice(-2);
  const planes = channels * (rank === 5 ? positionDims[0] : 1);
  const unit = rank === 3 ? 'samples' : rank === 5 ? 'positions (frames × pixels)' : 'pixels';
  const steps = options.steps ?? 32;
  const score = options.score ?? 'probability';
  const sigma = options.blurSigma ?? 5;
  const baselineKind = options.baseline ?? 'blur';
  const { target, output } = await resolveTarget(ctx.model, ctx.input, ctx.target);
  const x = ctx.input.data as Float32Array;
  const baseline = baselineKind === 'blur' ? gaussianBlur(x, planes, H, W, sigma, new Float32Array(x.length)) : new Float32Array(x.length);
  const order = pixelOrder(map);
  const fractions = Array.from({ length: steps + 1 }, (_, i) => i / steps);
  // Variant i < steps + 1: deletion at fraction i; the rest: insertion.
  const scores = await scoreVariants(
    ctx,
    target,
    2 * (steps + 1),
    (i, dst) => {
      const insertion = i > steps;
      const moved = Math.round(fractions[insertion ? i - steps - 1 : i] * plane);
      const [first, rest] = insertion ? [x, baseline] : [baseline, x];
      dst.set(rest);
      for (let j = 0; j < moved; j++) {
        const p = order[j];
        for (let c = 0; c < channels; c++) dst[c * plane + p] = first[c * plane + p];
      }
    },
    { batchSize: options.batch ?? 32, score, label: 'faithfulness: deletion and insertion' },
  );
  const original = targetScores(output, target, score)[0];
  const curve = (values: number[]): Curve => {
    const auc = trapezoidArea(fractions, values);
    return { fractions, scores: values, auc, normalizedAuc: auc / original };
  };
  const all = Array.from(scores);
  return {
    deletion: curve(all.slice(0, steps + 1)),
    insertion: curve(all.slice(steps + 1)),
    notes: [
      `${steps} steps of ${Math.round(plane / steps)} ${unit} (all channels), in decreasing order of the map; score: ${score}`,
      `baseline: ${baselineKind === 'blur' ? `Gaussian blur of the input, σ = ${sigma} ${rank === 3 ? 'samples, along each channel' : rank === 5 ? 'px, frame by frame' : 'px'}` : 'zero'}; areas by the trapezoid rule over fractions in [0, 1], normalised by the unmodified score ${original.toPrecision(4)}`,
    ],
  };
}

export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Index of the map's maximum (the first one in row-major order). */
function peakIndex(map: Tensor): number {
  const values = map.data as Float32Array;
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Hit when the map's maximum (first one in row-major order) lies in the box (inclusive pixel bounds), widened by `tolerance` pixels. */
export function pointingGame(map: Tensor, box: Box, tolerance = 0): { hit: boolean; peak: { x: number; y: number } } {
  const [, w] = map.dims.slice(-2);
  const best = peakIndex(map);
  const peak = { x: best % w, y: Math.floor(best / w) };
  const hit = peak.x >= box.x0 - tolerance && peak.x <= box.x1 + tolerance && peak.y >= box.y0 - tolerance && peak.y <= box.y1 + tolerance;
  return { hit, peak };
}

/** A known region on a pixel grid: `inside[y * width + x]` is 1 on the region, 0 off it. */
export interface RegionMask {
  width: number;
  height: number;
  inside: Uint8Array;
}

/** The mask of a box with inclusive pixel bounds (as `pointingGame`), clipped to the grid. */
export function boxMask(box: Box, width: number, height: number): RegionMask {
  const inside = new Uint8Array(width * height);
  for (let y = Math.max(0, Math.ceil(box.y0)); y <= Math.min(height - 1, Math.floor(box.y1)); y++) {
    for (let x = Math.max(0, Math.ceil(box.x0)); x <= Math.min(width - 1, Math.floor(box.x1)); x++) inside[y * width + x] = 1;
  }
  return { width, height, inside };
}

/**
 * A mask drawn on the original image carried to the model's input grid by the geometry of the
 * preprocessing (stretch, or shorter-side resize then centre crop), nearest neighbour at pixel
 * centres: input pixel (x, y) takes the image pixel under its centre.
 */
export function maskOnInput(mask: RegionMask, spec: PreprocessSpec): RegionMask {
  const [h, w] = spec.size;
  const [rh, rw] = spec.resize === 'stretch' ? [h, w] : shorterSideSize(mask.height, mask.width, spec.resizeTo ?? Math.max(h, w));
  const { top, left } = spec.resize === 'stretch' ? { top: 0, left: 0 } : centerCropBox(rh, rw, h, w);
  const inside = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(mask.height - 1, Math.floor(((y + top + 0.5) * mask.height) / rh));
    for (let x = 0; x < w; x++) {
      const sx = Math.min(mask.width - 1, Math.floor(((x + left + 0.5) * mask.width) / rw));
      inside[y * w + x] = mask.inside[sy * mask.width + sx];
    }
  }
  return { width: w, height: h, inside };
}

export interface RegionScores {
  /** The map's maximum lies on the region (or within the tolerance of it). */
  pointingHit: boolean;
  peak: { x: number; y: number };
  /** IoU of the map's top-`area` pixels with the region. */
  iou: number;
  /** The region's area in pixels: the k of the top-k threshold. */
  area: number;
  /** The k-th largest map value: the threshold the top-k set corresponds to. */
  threshold: number;
  /** Share of the map's positive mass that lies on the region (NaN when the map has none). */
  energyInside: number;
}

/**
 * How well `map` ([H, W]) picks out a known region on the same grid: the pointing game (a hit
 * when the peak is on the region or within `tolerance` pixels of it, Chebyshev distance), the IoU
 * of the top-k pixels with k = the region's area, and the share of positive mass inside.
 */
export function regionScores(map: Tensor, region: RegionMask, tolerance = 0): RegionScores {
  const [h, w] = map.dims.slice(-2);
  if (h !== region.height || w !== region.width) throw new ExplainError(`the map is ${w}×${h} but the mask is ${region.width}×${region.height}`);
  const values = map.data as Float32Array;
  const area = region.inside.reduce((sum, v) => sum + (v ? 1 : 0), 0);
  if (area === 0) throw new ExplainError('the mask has no pixels inside it');
  const best = peakIndex(map);
  const peak = { x: best % w, y: Math.floor(best / w) };
  let pointingHit = false;
  for (let y = Math.max(0, peak.y - tolerance); y <= Math.min(h - 1, peak.y + tolerance) && !pointingHit; y++) {
    for (let x = Math.max(0, peak.x - tolerance); x <= Math.min(w - 1, peak.x + tolerance); x++) {
      if (region.inside[y * w + x]) {
        pointingHit = true;
        break;
      }
    }
  }
  const order = pixelOrder(map);
  let overlap = 0;
  for (let j = 0; j < area; j++) if (region.inside[order[j]]) overlap++;
  let positive = 0;
  let positiveInside = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] > 0) {
      positive += values[i];
      if (region.inside[i]) positiveInside += values[i];
    }
  }
  return {
    pointingHit,
    peak,
    iou: overlap / (2 * area - overlap),
    area,
    threshold: values[order[area - 1]],
    energyInside: positive > 0 ? positiveInside / positive : NaN,
  };
}
