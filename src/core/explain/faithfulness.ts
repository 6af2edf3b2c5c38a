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
//   object's bounding box (optionally within a tolerance in pixels).
import { gaussianBlur } from '../image/blur';
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

/** Deletion and insertion curves of `map` ([H, W]) for the context's input and target. */
export async function deletionInsertion(ctx: ExplainContext, map: Tensor, options: FaithfulnessOptions = {}): Promise<Faithfulness> {
  checkInput(ctx.input);
  if (ctx.input.dims.length !== 4) throw new ExplainError(`deletion and insertion curves reveal the pixels of an image against a blurred copy; the input [${ctx.input.dims.join(', ')}] is not an image [1, C, H, W]`);
  const [, channels, H, W] = ctx.input.dims;
  const plane = H * W;
  if (map.data.length !== plane) throw new ExplainError(`the map has ${map.data.length} values but the input is ${H}×${W}`);
  const steps = options.steps ?? 32;
  const score = options.score ?? 'probability';
  const sigma = options.blurSigma ?? 5;
  const baselineKind = options.baseline ?? 'blur';
  const { target, output } = await resolveTarget(ctx.model, ctx.input, ctx.target);
  const x = ctx.input.data as Float32Array;
  const baseline = baselineKind === 'blur' ? gaussianBlur(x, channels, H, W, sigma, new Float32Array(x.length)) : new Float32Array(x.length);
  const order = pixelOrder(map);
  const fractions = Array.from({ length: steps + 1 }, (_, i) => i / steps);
  // Variant i < steps + 1: deletion at fraction i; the rest: insertion.
  const scores = await scoreVariants(ctx, target, 2 * (steps + 1), (i, dst) => {
    const insertion = i > steps;
    const moved = Math.round(fractions[insertion ? i - steps - 1 : i] * plane);
    const [first, rest] = insertion ? [x, baseline] : [baseline, x];
    dst.set(rest);
    for (let j = 0; j < moved; j++) {
      const p = order[j];
      for (let c = 0; c < channels; c++) dst[c * plane + p] = first[c * plane + p];
    }
  }, { batchSize: options.batch ?? 32, score, label: 'faithfulness: deletion and insertion' });
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
      `${steps} steps of ${Math.round(plane / steps)} pixels (all channels), in decreasing order of the map; score: ${score}`,
      `baseline: ${baselineKind === 'blur' ? `Gaussian blur of the input, σ = ${sigma} px` : 'zero'}; areas by the trapezoid rule over fractions in [0, 1], normalised by the unmodified score ${original.toPrecision(4)}`,
    ],
  };
}

export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Hit when the map's maximum (first one in row-major order) lies in the box (inclusive pixel bounds), widened by `tolerance` pixels. */
export function pointingGame(map: Tensor, box: Box, tolerance = 0): { hit: boolean; peak: { x: number; y: number } } {
  const [, w] = map.dims.slice(-2);
  const values = map.data as Float32Array;
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  const peak = { x: best % w, y: Math.floor(best / w) };
  const hit = peak.x >= box.x0 - tolerance && peak.x <= box.x1 + tolerance && peak.y >= box.y0 - tolerance && peak.y <= box.y1 + tolerance;
  return { hit, peak };
}
