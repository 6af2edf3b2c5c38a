// What LIME and Kernel SHAP share: superpixels as interpretable features, seeded coalitions (which
// superpixels keep the input's values, the others take a replacement), batched scoring of the
// perturbed inputs, and the per-superpixel coefficients spread back to input shape.
import { Random } from '../random';
import { Tensor, float32 } from '../tensor';
import { AttributionSetup, attributionExplanation, setUpAttribution } from './attribution-common';
import { scoreVariants } from './forward';
import { DisplayMode } from './postprocess';
import { Segmentation, slic } from './superpixels';
import { ScoreKind } from './target';
import { ExplainContext, Explanation, OptionSpec, ResolvedTarget } from './types';

export const SEGMENT_OPTIONS: OptionSpec[] = [
  { name: 'segments', type: 'int', default: 50, min: 2, description: 'number of SLIC superpixels aimed for' },
  { name: 'compactness', type: 'number', default: 1, min: 0, description: 'SLIC compactness: higher gives squarer superpixels' },
];

export function scoreOption(fallback: ScoreKind): OptionSpec {
  return {
    name: 'score',
    type: 'choice',
    default: fallback,
    choices: ['logit', 'probability'],
    description:
      "for a class or difference target: its raw output, or its softmax over the output row ('logit' when the model already outputs probabilities); other targets score as they define",
  };
}

/** Per-channel mean of the input over each superpixel, as an input-shaped replacement (lime's hide_color=None). */
export function segmentMeans(input: Tensor, seg: Segmentation): Float32Array {
  const [, channels, h, w] = input.dims;
  const plane = h * w;
  const x = input.data as Float32Array;
  const counts = new Float64Array(seg.count);
  for (const l of seg.labels) counts[l]++;
  const out = new Float32Array(x.length);
  for (let c = 0; c < channels; c++) {
    const sums = new Float64Array(seg.count);
    for (let p = 0; p < plane; p++) sums[seg.labels[p]] += x[c * plane + p];
    for (let p = 0; p < plane; p++) out[c * plane + p] = sums[seg.labels[p]] / counts[seg.labels[p]];
  }
  return out;
}

/**
 * Scores of the inputs where superpixel s keeps the input if coalitions[i·M + s] is 1 and takes
 * `replacement` (input-shaped) if 0.
 */
function scoreCoalitions(
  ctx: ExplainContext,
  target: ResolvedTarget,
  seg: Segmentation,
  coalitions: Uint8Array,
  rows: number,
  replacement: Float32Array,
  options: { batch: number; score: ScoreKind; label: string },
): Promise<Float64Array> {
  const x = ctx.input.data as Float32Array;
  const plane = seg.height * seg.width;
  const channels = x.length / plane;
  return scoreVariants(
    ctx,
    target,
    rows,
    (i, dst) => {
      const row = coalitions.subarray(i * seg.count, (i + 1) * seg.count);
      for (let p = 0; p < plane; p++) {
        const source = row[seg.labels[p]] ? x : replacement;
        for (let c = 0; c < channels; c++) dst[c * plane + p] = source[c * plane + p];
      }
    },
    { batchSize: options.batch, score: options.score, label: options.label },
  );
}

/** Coefficient of each pixel's superpixel in every channel: input-shaped, as Captum returns with a feature mask. */
function spreadToInput(input: Tensor, seg: Segmentation, coefficients: ArrayLike<number>): Tensor {
  const plane = seg.height * seg.width;
  const channels = input.data.length / plane;
  const out = new Float32Array(input.data.length);
  for (let c = 0; c < channels; c++) for (let p = 0; p < plane; p++) out[c * plane + p] = coefficients[seg.labels[p]];
  return float32(input.dims, out);
}

function segmentsTensor(seg: Segmentation): Tensor {
  return { dtype: 'int32', dims: [seg.height, seg.width], data: seg.labels };
}

export interface SuperpixelSamples {
  setup: AttributionSetup;
  seg: Segmentation;
  /** samples × M, row-major: 1 where the superpixel keeps the input. */
  coalitions: Uint8Array;
  /** The target's score on each perturbed input. */
  scores: Float64Array;
}

/**
 * The target, the input's SLIC superpixels, `samples` coalitions drawn over them with the seeded
 * `draw`, and the score of each input whose off superpixels take `replacement(seg)`.
 */
export async function sampleSuperpixels(
  ctx: ExplainContext,
  options: { samples: number; segments: number; compactness: number; seed: number; batch: number; score: ScoreKind },
  draw: (m: number, samples: number, random: Random) => Uint8Array,
  replacement: (seg: Segmentation) => Float32Array,
  label: string,
): Promise<SuperpixelSamples> {
  const setup = await setUpAttribution(ctx);
  const seg = slic(ctx.input, options.segments, options.compactness);
  const coalitions = draw(seg.count, options.samples, new Random(options.seed));
  const scores = await scoreCoalitions(ctx, setup.target, seg, coalitions, options.samples, replacement(seg), { batch: options.batch, score: options.score, label });
  return { setup, seg, coalitions, scores };
}

/** The explanation of per-superpixel coefficients: spread to input shape, with the superpixels. */
export function superpixelExplanation(
  method: string,
  ctx: ExplainContext,
  perturbed: SuperpixelSamples,
  coefficients: ArrayLike<number>,
  display: DisplayMode,
  notes: string[],
  metrics: Record<string, number>,
): Explanation {
  return {
    ...attributionExplanation(method, perturbed.setup, spreadToInput(ctx.input, perturbed.seg, coefficients), display, notes, metrics),
    segments: segmentsTensor(perturbed.seg),
  };
}
