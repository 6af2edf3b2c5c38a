// LIME (Ribeiro et al., 2016, arXiv:1602.04938) over superpixels: a weighted linear surrogate of the
// target's score on random on/off patterns of superpixels.
//   z ∈ {0,1}^M (first sample all ones), π(z) = √exp(−d(z, 1)² / 0.25²), d = cosine distance
//   β = argmin Σ π(z) (y(z) − β₀ − βᵀz)² + α‖β‖²,   attr of a superpixel = β_s
// Reference implementation: the lime package (lime_image.LimeImageExplainer.explain_instance and
// lime_base.explain_instance_with_data): bits uniform, kernel width 0.25, Ridge(alpha=1,
// fit_intercept=True) with sample weights, R² on the weighted samples as the fit score; hidden
// superpixels take their mean colour (hide_color=None), the score is the class probability
// (classifier_fn). Superpixels: SLIC (see superpixels.ts) instead of lime's quickshift.
import { Random } from '../random';
import { SEED_OPTION, displayOption } from './attribution-common';
import { weightedRidge } from './linalg';
import { DisplayMode } from './postprocess';
import { SEGMENT_OPTIONS, sampleSuperpixels, scoreOption, segmentMeans, superpixelExplanation } from './surrogate';
import { ScoreKind } from './target';
import { ExplanationMethod } from './types';

export type LimeOptions = {
  samples: number;
  segments: number;
  compactness: number;
  kernelWidth: number;
  alpha: number;
  seed: number;
  batch: number;
  score: ScoreKind;
  display: DisplayMode;
};

/** Coalitions as lime draws them: all on, then uniform random bits. */
export function limeCoalitions(m: number, samples: number, random: Random): Uint8Array {
  const z = new Uint8Array(samples * m);
  z.fill(1, 0, m);
  for (let i = m; i < z.length; i++) z[i] = random.int(2);
  return z;
}

/** lime's kernel on the cosine distance between a coalition with k of M features on and all-ones. */
export function limeWeight(k: number, m: number, kernelWidth: number): number {
  const d = k === 0 ? 1 : 1 - Math.sqrt(k / m);
  return Math.sqrt(Math.exp(-(d * d) / (kernelWidth * kernelWidth)));
}

export const lime: ExplanationMethod<LimeOptions> = {
  name: 'lime',
  title: 'LIME',
  kind: 'perturbation',
  needsGradients: false,
  usesLayer: false,
  formula: 'β = argmin Σ_z π(z)(y(z) − β₀ − βᵀz)² + α‖β‖²,  π(z) = √exp(−cos_dist(z,1)²/w²)',
  reference: 'Ribeiro et al. 2016 (arXiv:1602.04938); lime package LimeImageExplainer',
  options: [
    { name: 'samples', type: 'int', default: 1000, min: 2, description: 'perturbed inputs (lime num_samples)' },
    ...SEGMENT_OPTIONS,
    { name: 'kernelWidth', type: 'number', default: 0.25, min: 1e-6, description: 'width of the exponential kernel on cosine distance' },
    { name: 'alpha', type: 'number', default: 1, min: 0, description: 'ridge penalty of the surrogate (lime: 1)' },
    SEED_OPTION,
    { name: 'batch', type: 'int', default: 8, min: 1, description: 'perturbed inputs per forward pass' },
    scoreOption('probability'),
    displayOption('positive'),
  ],
  async explain(ctx, options) {
    const perturbed = await sampleSuperpixels(ctx, options, limeCoalitions, (seg) => segmentMeans(ctx.input, seg), 'lime: perturbed inputs');
    const { coalitions, scores } = perturbed;
    const m = perturbed.seg.count;
    const weights = new Float64Array(options.samples);
    for (let i = 0; i < options.samples; i++) {
      let k = 0;
      for (let s = 0; s < m; s++) k += coalitions[i * m + s];
      weights[i] = limeWeight(k, m, options.kernelWidth);
    }
    const fit = weightedRidge(Float64Array.from(coalitions), scores, weights, options.samples, m, options.alpha);
    return superpixelExplanation(
      'lime',
      ctx,
      perturbed,
      fit.coefficients,
      options.display,
      [
        `${m} SLIC superpixels, ${options.samples} samples (seed ${options.seed}), hidden superpixels take their mean colour, score: ${options.score}`,
        `surrogate: ridge (alpha ${options.alpha}) weighted by √exp(−d²/${options.kernelWidth}²) on cosine distance; weighted R² = ${fit.r2.toFixed(3)}`,
      ],
      { r2: fit.r2, intercept: fit.intercept, superpixels: m },
    );
  },
};
