// Kernel SHAP (Lundberg & Lee, 2017, arXiv:1705.07874) over superpixels: Shapley values as the
// coefficients of a linear model fitted to coalitions drawn with the Shapley kernel.
//   k ~ p(k) ∝ (M − 1) / (k (M − k)), k = 1..M−1; z: k superpixels on, chosen uniformly
//   β = argmin Σ_z π(z) (y(z) − β₀ − βᵀz)²,  π = 1, except 10⁶ for z = 1 and z = 0
// Sampling k this way and weighting each coalition equally is the Shapley kernel
// (M − 1) / (C(M, k) k (M − k)) in expectation. Off superpixels take the baseline.
// Reference implementation: Captum KernelShap (kernel_shap_perturb_generator, inf_weight 1e6,
// sklearn LinearRegression with intercept); for a linear model f, β_s = Σ_{i∈s} w_i (x_i − b_i).
import { Random } from '../random';
import { Tensor } from '../tensor';
import { SEED_OPTION, baselineTensor, displayOption } from './attribution-common';
import { rSquared, weightedRidge } from './linalg';
import { DisplayMode } from './postprocess';
import { SEGMENT_OPTIONS, sampleSuperpixels, scoreOption, superpixelExplanation } from './surrogate';
import { ScoreKind } from './target';
import { ExplanationMethod } from './types';

export type KernelShapOptions = {
  samples: number;
  segments: number;
  compactness: number;
  baseline: number | Tensor;
  seed: number;
  batch: number;
  score: ScoreKind;
  display: DisplayMode;
};

const INFINITE_WEIGHT = 1e6;

/** Coalitions as Captum draws them: all on, all off, then sizes from the Shapley kernel. */
export function shapleyCoalitions(m: number, samples: number, random: Random): Uint8Array {
  const z = new Uint8Array(samples * m);
  z.fill(1, 0, m);
  const probs = Array.from({ length: m }, (_, k) => (k === 0 ? 0 : (m - 1) / (k * (m - k))));
  const total = probs.reduce((a, b) => a + b, 0);
  for (let i = 2; i < samples; i++) {
    let u = random.next() * total;
    let k = 1;
    while (k < m - 1 && u >= probs[k]) u -= probs[k++];
    for (const s of random.subset(m, k)) z[i * m + s] = 1;
  }
  return z;
}

export const kernelShap: ExplanationMethod<KernelShapOptions> = {
  name: 'kernel-shap',
  title: 'Kernel SHAP',
  kind: 'perturbation',
  needsGradients: false,
  usesLayer: false,
  formula: 'β = argmin Σ_z π(z)(y(z) − β₀ − βᵀz)²,  z ~ Shapley kernel,  Σβ = y(x) − y(baseline)',
  reference: 'Lundberg & Lee 2017 (arXiv:1705.07874); Captum KernelShap',
  options: [
    { name: 'samples', type: 'int', default: 500, min: 3, description: 'coalitions evaluated (more than the number of superpixels)' },
    ...SEGMENT_OPTIONS,
    { name: 'baseline', type: 'baseline', default: 0, description: 'value of superpixels that are off: a number or an input-shaped tensor' },
    SEED_OPTION,
    { name: 'batch', type: 'int', default: 8, min: 1, description: 'perturbed inputs per forward pass' },
    scoreOption('logit'),
    displayOption('signed'),
  ],
  async explain(ctx, options) {
    const baseline = () => baselineTensor(ctx.input, options.baseline).data as Float32Array;
    const perturbed = await sampleSuperpixels(ctx, options, shapleyCoalitions, baseline, 'kernel-shap: coalitions');
    const { coalitions, scores } = perturbed;
    const m = perturbed.seg.count;
    const weights = new Float64Array(options.samples).fill(1);
    weights[0] = weights[1] = INFINITE_WEIGHT;
    const fit = weightedRidge(Float64Array.from(coalitions), scores, weights, options.samples, m, 0);
    const total = fit.coefficients.reduce((a, b) => a + b, 0);
    // The fit's own weighted R² is dominated by the two endpoint weights: judge it on the sampled coalitions.
    const sampled = options.samples - 2;
    const r2 =
      sampled > 1 ? rSquared(Float64Array.from(coalitions.subarray(2 * m)), scores.subarray(2), new Float64Array(sampled).fill(1), fit.coefficients, fit.intercept, m) : fit.r2;
    const underdetermined = options.samples <= m + 1 ? [`only ${options.samples} coalitions for ${m} superpixels: the fit is underdetermined, raise 'samples'`] : [];
    return superpixelExplanation(
      'kernel-shap',
      ctx,
      perturbed,
      fit.coefficients,
      options.display,
      [
        `${m} SLIC superpixels, ${options.samples} coalitions (seed ${options.seed}), off superpixels take the baseline, score: ${options.score}`,
        `Σ Shapley values = ${total.toPrecision(5)} vs y(x) − y(baseline) = ${(scores[0] - scores[1]).toPrecision(5)}; R² on the sampled coalitions = ${r2.toFixed(3)}`,
        ...underdetermined,
      ],
      { r2, shapleySum: total, scoreGain: scores[0] - scores[1], superpixels: m },
    );
  },
};
