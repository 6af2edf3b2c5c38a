// Gradients of a target's score through the gradient engine (src/core/autodiff): the seed puts +1
// at the class (−1 at b for a difference) in every row, so a batch of inputs runs in one call.
import { GradientResult, RuleOverrides, computeGradients, guidedRelu } from '../autodiff/gradients';
import { Tensor } from '../tensor';
import { seedFor } from './target';
import { ExplainContext, ResolvedTarget } from './types';

export type { GradientResult, RuleOverrides };

/** Rules replacing the engine's built-in ones, with a name for its cache. */
export interface RuleSet {
  rules: RuleOverrides;
  key: string;
}

/**
 * ∂ score / ∂ each `wrt` tensor for a batch of inputs ([B, C, H, W]); `outputDims` are the target
 * output's dims (any batch size) so the seed has the right shape.
 */
export function gradientsOf(
  ctx: ExplainContext,
  target: ResolvedTarget,
  outputDims: number[],
  inputs: Tensor,
  wrt: string[],
  overrides?: RuleSet,
): Promise<GradientResult> {
  return computeGradients(ctx.model, { [ctx.model.input.name]: inputs }, {
    wrt,
    output: target.output,
    seed: seedFor(target, outputDims, inputs.dims[0]),
    overrides: overrides?.rules,
    overridesKey: overrides?.key,
  });
}

/** Guided Backpropagation: ReLU passes back only positive gradients, where its input was positive. */
export const GUIDED_RELU: RuleSet = { rules: { Relu: guidedRelu }, key: 'guided-relu' };
