// Saliency (Simonyan et al., 2014, arXiv:1312.6034): the gradient of the target's score with
// respect to the input.
//   attr = ∂y/∂x
// Reference implementation: Captum Saliency with abs=False (raw, signed gradient); the map shows
// Σ_c |attr| by default.
import { DisplayMode } from './postprocess';
import { attributionExplanation, displayOption, inputGradient } from './attribution-common';
import { ExplanationMethod } from './types';

export type SaliencyOptions = { display: DisplayMode };

export const saliency: ExplanationMethod<SaliencyOptions> = {
  name: 'saliency',
  title: 'Saliency (input gradient)',
  kind: 'gradient',
  needsGradients: true,
  usesLayer: false,
  formula: 'attr = ∂y/∂x',
  reference: 'Simonyan et al. 2014 (arXiv:1312.6034); Captum Saliency (abs=False)',
  options: [displayOption('absolute')],
  async explain(ctx, options) {
    const { setup, gradient: raw } = await inputGradient(ctx);
    ctx.progress?.(1, 'saliency: done');
    return attributionExplanation('saliency', setup, raw, options.display);
  },
};
