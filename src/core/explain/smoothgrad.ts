// SmoothGrad (Smilkov et al., 2017, arXiv:1706.03825): the input gradient averaged over noisy
// copies of the input.
//   attr = (1/n) Σ_i ∂y/∂x (x + ε_i),   ε_i ~ N(0, σ²) per element
// Reference implementation: Captum NoiseTunnel(Saliency(abs=False), nt_type='smoothgrad'); σ is
// absolute (Captum's stdevs, default 1.0), not a fraction of the input range. The noise comes
// from a seeded generator, so runs are reproducible (Captum draws from torch's global RNG).
import { DisplayMode } from './postprocess';
import { BATCH_OPTION, SEED_OPTION, attributionExplanation, displayOption, setUpGradientAttribution, weightedGradientSum } from './attribution-common';
import { Random } from '../random';
import { ExplanationMethod } from './types';

export type SmoothGradOptions = { samples: number; stdev: number; seed: number; batch: number; display: DisplayMode };

export const smoothGrad: ExplanationMethod<SmoothGradOptions> = {
  name: 'smoothgrad',
  title: 'SmoothGrad',
  kind: 'gradient',
  needsGradients: true,
  usesLayer: false,
  formula: 'attr = (1/n) Σ_i ∂y/∂x (x + ε_i),  ε_i ~ N(0, σ²)',
  reference: 'Smilkov et al. 2017 (arXiv:1706.03825); Captum NoiseTunnel smoothgrad over Saliency',
  options: [
    { name: 'samples', type: 'int', default: 25, min: 1, description: 'noisy copies of the input' },
    { name: 'stdev', type: 'number', default: 1, min: 0, description: 'σ of the Gaussian noise, in input units (absolute, as Captum stdevs)' },
    SEED_OPTION,
    BATCH_OPTION,
    displayOption('absolute'),
  ],
  async explain(ctx, options) {
    const setup = await setUpGradientAttribution(ctx);
    const random = new Random(options.seed);
    const x = ctx.input.data as Float32Array;
    const { sum: raw } = await weightedGradientSum(
      ctx,
      setup,
      options.samples,
      (_i, dst) => random.addNormal(dst, x, options.stdev),
      () => 1 / options.samples,
      { batch: options.batch, label: 'smoothgrad: noisy samples' },
    );
    return attributionExplanation('smoothgrad', setup, raw, options.display, [
      `${options.samples} samples, Gaussian noise σ = ${options.stdev} (input units), seed ${options.seed}`,
    ]);
  },
};
