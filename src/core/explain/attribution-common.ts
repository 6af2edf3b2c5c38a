// What the input-attribution methods share: target setup, input gradients (one input or a batched
// weighted sum over many), the 'display' option and the explanation with its map.
import { computeGradients } from '../autodiff/gradients';
import { Tensor, float32, sizeOf } from '../tensor';
import { batchForCount, inBatches } from './forward';
import { RuleSet, gradientsFor, refuseZeroGradient } from './gradients';
import { DISPLAY_MODES, DisplayMode, attributionToMap } from './postprocess';
import { checkInput, describeTarget, planTarget, resolvePlan, resolveTop, targetScores } from './target';
import { ExplainContext, ExplainError, Explanation, OptionSpec, ResolvedTarget } from './types';

export interface AttributionSetup {
  target: ResolvedTarget;
  /** The target output's dims for one input. */
  outputDims: number[];
  notes: string[];
  /** The target's score (logit) at the input, where setting up ran the model on it. */
  inputScore?: number;
}

export function attributionSetup(target: ResolvedTarget, outputDims: number[], inputScore?: number): AttributionSetup {
  return { target, outputDims, notes: [`target: ${describeTarget(target)} of output '${target.output}'`], ...(inputScore !== undefined ? { inputScore } : {}) };
}

/** Checks the input and resolves the target: a forward pass only for 'top' (or an input of another size than the probed one). */
export async function setUpAttribution(ctx: ExplainContext): Promise<AttributionSetup> {
  checkInput(ctx.input);
  const plan = await planTarget(ctx.model, ctx.input, ctx.target);
  return attributionSetup(await resolvePlan(ctx.model, ctx.input, plan, ctx.inputOutputs), plan.outputDims);
}

/**
 * setUpAttribution for methods whose every run is a gradient run (Integrated Gradients, SmoothGrad).
 * Where no forward session is open yet, a 'top' target is resolved from the input's outputs in a
 * gradient run with a zero seed, in the session the method's runs then use: a first call makes one
 * session, not two (vgg11: 2 s for the forward session of its 507 MB). Where it is open (the
 * panel's), a forward pass is cheaper than a gradient run.
 */
export async function setUpGradientAttribution(ctx: ExplainContext): Promise<AttributionSetup> {
  checkInput(ctx.input);
  const plan = await planTarget(ctx.model, ctx.input, ctx.target);
  if (plan.target.kind !== 'top' || (await ctx.model.baseSessionOpen())) return attributionSetup(await resolvePlan(ctx.model, ctx.input, plan, ctx.inputOutputs), plan.outputDims);
  const name = ctx.model.input.name;
  const { outputs } = await computeGradients(ctx.model, { [name]: ctx.input }, { wrt: [name], output: plan.target.output, seed: float32(plan.outputDims) });
  ctx.inputOutputs?.(outputs);
  const target = resolveTop(plan.target, outputs[plan.target.output]);
  return attributionSetup(target, plan.outputDims, targetScores(outputs[target.output], target)[0]);
}

export function displayOption(fallback: DisplayMode): OptionSpec {
  return {
    name: 'display',
    type: 'choice',
    default: fallback,
    choices: DISPLAY_MODES,
    description: 'how the attribution becomes a map: sum of |a| over channels, its positive part, or signed',
  };
}

// Gradient runs keep every activation of the batch, and onnxruntime keeps the memory of its largest
// run: 32 IG steps on resnet18 at 224² left 1.66 GiB resident in batches of 16 against 0.68 GiB
// in batches of 4, with no measurable gain in speed on 2 cores. Larger requests are cut to what the
// activation limit allows (batchForCount).
export const BATCH_OPTION: OptionSpec = {
  name: 'batch',
  type: 'int',
  default: 4,
  min: 1,
  description: 'most inputs per forward/backward pass (fewer where the activation memory limit needs it)',
};
export const SEED_OPTION: OptionSpec = { name: 'seed', type: 'int', default: 0, min: 0, description: 'random seed (results are reproducible)' };

export function attributionExplanation(
  method: string,
  setup: { target: ResolvedTarget; notes: string[] },
  raw: Tensor,
  display: DisplayMode,
  notes: string[] = [],
  metrics?: Record<string, number>,
): Explanation {
  const { map, note } = attributionToMap(raw, display);
  return { method, raw, map, target: setup.target, notes: [...setup.notes, ...notes, note], ...(metrics ? { metrics } : {}) };
}

/** ∂score/∂input for the single input, from one gradient run that also resolves a 'top' target. */
export async function inputGradient(ctx: ExplainContext, overrides?: RuleSet): Promise<{ setup: AttributionSetup; gradient: Tensor }> {
  checkInput(ctx.input);
  const plan = await planTarget(ctx.model, ctx.input, ctx.target);
  const name = ctx.model.input.name;
  const { gradients, outputs, target } = await gradientsFor(ctx, plan, ctx.input, [name], { overrides, once: true });
  ctx.inputOutputs?.(outputs);
  return { setup: attributionSetup(target, plan.outputDims), gradient: gradients[name] };
}

/**
 * Σ_i weight(i) · ∂score/∂input at `count` points written by `fill(i, dst)` (every element: dst
 * holds an earlier point), in batches; returns
 * the input-shaped sum and the target's score (logit) at every point, which the same runs give.
 */
export async function weightedGradientSum(
  ctx: ExplainContext,
  setup: AttributionSetup,
  count: number,
  fill: (i: number, dst: Float32Array) => void,
  weight: (i: number) => number,
  options: { batch: number; label: string },
): Promise<{ sum: Tensor; scores: Float64Array }> {
  const name = ctx.model.input.name;
  const dims = ctx.input.dims;
  const sample = sizeOf(dims.slice(1));
  const sum = new Float64Array(sample);
  const scores = new Float64Array(count);
  const plan = { target: setup.target, outputDims: setup.outputDims };
  const batchSize = await batchForCount(ctx.model, [1, ...dims.slice(1)], count, options.batch, 2);
  // One buffer for every batch (`fill` writes every element): onnxruntime reads it during the run only.
  const buffer = new Float32Array(Math.min(batchSize, count) * sample);
  await inBatches(count, batchSize, ctx, options.label, async (start, size) => {
    const data = buffer.subarray(0, size * sample);
    for (let j = 0; j < size; j++) fill(start + j, data.subarray(j * sample, (j + 1) * sample));
    const batch: Tensor = { dtype: 'float32', dims: [size, ...dims.slice(1)], data };
    const { gradients, outputs } = await gradientsFor(ctx, plan, batch, [name], { refuseZero: false });
    const grads = gradients[name].data as Float32Array;
    scores.set(targetScores(outputs[setup.target.output], setup.target), start);
    for (let j = 0; j < size; j++) {
      const w = weight(start + j);
      // A point of weight 0 is there for its score: its gradient, which may not be finite, is not added.
      if (w === 0) continue;
      const offset = j * sample;
      for (let i = 0; i < sample; i++) sum[i] += w * grads[offset + i];
    }
  });
  const total = float32(dims, Float32Array.from(sum));
  refuseZeroGradient(setup.target, name, total);
  return { sum: total, scores };
}

/** The baseline as an input-shaped tensor: a constant, or a tensor of the input's shape. */
export function baselineTensor(input: Tensor, baseline: number | Tensor): Tensor {
  if (typeof baseline === 'number') return float32(input.dims, new Float32Array(input.data.length).fill(baseline));
  if (baseline.dims.join() !== input.dims.join()) {
    throw new ExplainError(`the baseline has shape [${baseline.dims.join(', ')}] but the input has [${input.dims.join(', ')}]`);
  }
  return baseline;
}
