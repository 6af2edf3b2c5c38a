// Input × Gradient (Shrikumar et al., 2016, arXiv:1605.01713).
//   attr = x ⊙ ∂y/∂x
// Reference implementation: Captum InputXGradient.
import { Tensor, float32 } from '../tensor';
import { DisplayMode } from './postprocess';
import { attributionExplanation, displayOption, inputGradient } from './attribution-common';
import { ExplanationMethod } from './types';

export type InputXGradientOptions = { display: DisplayMode };

export function elementwiseProduct(a: Tensor, b: Tensor): Tensor {
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  return float32(
    a.dims,
    x.map((v, i) => v * y[i]),
  );
}

export const inputXGradient: ExplanationMethod<InputXGradientOptions> = {
  name: 'input-x-gradient',
  title: 'Input × Gradient',
  kind: 'gradient',
  needsGradients: true,
  usesLayer: false,
  formula: 'attr = x ⊙ ∂y/∂x',
  reference: 'Shrikumar et al. 2016 (arXiv:1605.01713); Captum InputXGradient',
  options: [displayOption('absolute')],
  async explain(ctx, options) {
    const { setup, gradient } = await inputGradient(ctx);
    const raw = elementwiseProduct(ctx.input, gradient);
    ctx.progress?.(1, 'input-x-gradient: done');
    return attributionExplanation('input-x-gradient', setup, raw, options.display);
  },
};
