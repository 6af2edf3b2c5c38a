// Gradients of a target's score through the gradient engine (src/core/autodiff): the seed is
// ∂ score / ∂ output for every row (target.ts), so a batch of inputs runs in one call. Where the
// score is not linear in the output (probability, similarity, a YOLO box) each row's seed depends
// on that row's output: a forward pass of the batch computes it first (two passes). A 'top' class
// is found in the same run: the engine seeds each row's largest output (ArgMax), and the class is
// read back from the output it returns.
import { GradientResult, RuleOverrides, computeGradients, guidedRelu } from '../autodiff/gradients';
import { Tensor } from '../tensor';
import { TargetPlan, describeTarget, resolveTop, seedFor, seedReadsOutput } from './target';
import { ExplainContext, ExplainError, ResolvedTarget } from './types';

export type { GradientResult, RuleOverrides };

/** Rules replacing the engine's built-in ones, with a name for its cache. */
export interface RuleSet {
  rules: RuleOverrides;
  key: string;
}

export interface GradientOptions {
  overrides?: RuleSet;
  refuseZero?: boolean;
  once?: boolean;
}

export interface TargetGradients extends GradientResult {
  /** The target the gradients are of ('top' resolved). */
  target: ResolvedTarget;
}

/**
 * ∂ score / ∂ each `wrt` tensor for a batch of inputs ([B, C, H, W]). A 'top' target is resolved
 * in the same run, so it takes one input (for a batch, resolve it first: resolvePlan). A gradient
 * that is exactly zero everywhere is refused: every method (and the `gradient` command) would show
 * it as an empty map, though it only says that nothing differentiable reaches the target. Callers
 * that sum gradients over many points (Integrated Gradients, SmoothGrad) pass `refuseZero: false`,
 * since one batch of points may be zero where the sum is not, and check the sum instead. `once`:
 * the explanation runs these gradients once (computeGradients' `once`), not batch after batch.
 */
export async function gradientsFor(ctx: ExplainContext, plan: TargetPlan, inputs: Tensor, wrt: string[], options: GradientOptions = {}): Promise<TargetGradients> {
  const { target } = plan;
  const { overrides, refuseZero = true, once } = options;
  if (target.kind === 'top' && inputs.dims[0] !== 1) throw new ExplainError(`a 'top' target is resolved on one input, not a batch of ${inputs.dims[0]}`);
  const result = await computeGradients(
    ctx.model,
    { [ctx.model.input.name]: inputs },
    {
      wrt,
      output: target.output,
      seed: target.kind === 'top' ? 'top' : await seedForInputs(ctx, target, plan.outputDims, inputs),
      overrides: overrides?.rules,
      overridesKey: overrides?.key,
      once,
    },
  );
  const resolved = resolveTop(target, result.outputs[target.output]);
  if (refuseZero) for (const name of wrt) refuseZeroGradient(resolved, name, result.gradients[name]);
  return { ...result, target: resolved };
}

/** Throws when `gradient` (of the target with respect to tensor `name`) is exactly zero everywhere. */
export function refuseZeroGradient(target: ResolvedTarget, name: string, gradient: Tensor): void {
  for (let i = 0; i < gradient.data.length; i++) if (gradient.data[i] !== 0) return;
  throw new ExplainError(
    `the gradient of ${describeTarget(target)} of '${target.output}' with respect to '${name}' is zero everywhere: ` +
      'no differentiable path reaches the target from it for this input (e.g. inactive ReLUs, a step or rounding op), so there is no map to show',
  );
}

/** The seed for a batch of inputs: constant for a linear score, else from the batch's output (one forward pass). */
async function seedForInputs(ctx: ExplainContext, target: ResolvedTarget, outputDims: number[], inputs: Tensor): Promise<Tensor> {
  const batch = inputs.dims[0];
  if (!seedReadsOutput(target)) return seedFor(target, outputDims, batch);
  const output = (await ctx.model.run({ [ctx.model.input.name]: inputs }))[target.output];
  return seedFor(target, output.dims, batch, output);
}

/**
 * ∂ score / ∂ each `wrt` tensor for a batch of inputs ([B, C, H, W]) and a resolved target;
 * `outputDims` are the target output's dims (any batch size) so the seed has the right shape. Run
 * once (the `gradient` command).
 */
export function gradientsOf(ctx: ExplainContext, target: ResolvedTarget, outputDims: number[], inputs: Tensor, wrt: string[]): Promise<GradientResult> {
  return gradientsFor(ctx, { target, outputDims }, inputs, wrt, { once: true });
}

/** Guided Backpropagation: ReLU passes back only positive gradients, where its input was positive. */
export const GUIDED_RELU: RuleSet = { rules: { Relu: guidedRelu }, key: 'guided-relu' };
