// Targets: which output and which class score an explanation is about. The score of a row is
// out[index] for a class, out[a] − out[b] for a difference; the backward seed puts +1 at the class
// (and −1 at b) so gradients are those of that score.
import { ConvModel, concreteInputDims } from '../model';
import { Tensor, argmax, float32, sizeOf } from '../tensor';
import { ExplainError, ResolvedTarget, Target } from './types';

export type ScoreKind = 'logit' | 'probability';

export function outputName(model: ConvModel, target: Target): string {
  const outputs = (model.graph.output ?? []).map((o) => o.name);
  if (target.output === undefined) {
    if (outputs.length === 0) throw new ExplainError('the model declares no outputs');
    return outputs[0];
  }
  if (!outputs.includes(target.output)) {
    throw new ExplainError(`the model has no output named '${target.output}'; its outputs are ${outputs.map((o) => `'${o}'`).join(', ')}`);
  }
  return target.output;
}

/** Number of scores per example: the output's size without its batch dimension. */
export function scoresPerRow(outputDims: number[]): number {
  return sizeOf(outputDims.slice(1));
}

function checkIndex(i: number, count: number, output: string): void {
  if (!Number.isInteger(i) || i < 0 || i >= count) {
    throw new ExplainError(`class ${i} is out of range: output '${output}' has ${count} scores per image (0 to ${count - 1})`);
  }
}

/** A difference target with both classes checked against the output's `count` scores per image. */
function checkedDifference(target: { a: number; b: number }, count: number, output: string): ResolvedTarget {
  checkIndex(target.a, count, output);
  checkIndex(target.b, count, output);
  if (target.a === target.b) throw new ExplainError(`a difference target needs two different classes (got ${target.a} twice)`);
  return { kind: 'difference', a: target.a, b: target.b, output };
}

/** One example, channels first: a signal [1, C, L], an image [1, C, H, W] or a video [1, C, T, H, W]. */
export function checkInput(input: Tensor): void {
  if (input.dtype !== 'float32' || input.dims.length < 3 || input.dims.length > 5 || input.dims[0] !== 1) {
    throw new ExplainError(`explanations take one input as a float32 tensor [1, C, L] (signal), [1, C, H, W] (image) or [1, C, T, H, W] (video); got ${input.dtype} [${input.dims.join(', ')}]`);
  }
}

/** The target with 'top' resolved against the model's output for the input, and indices checked. */
export async function resolveTarget(model: ConvModel, input: Tensor, target: Target): Promise<{ target: ResolvedTarget; output: Tensor }> {
  const name = outputName(model, target);
  const output = (await model.run({ [model.input.name]: input }))[name];
  const count = scoresPerRow(output.dims);
  if (target.kind === 'difference') return { target: checkedDifference(target, count, name), output };
  const index = target.index === 'top' ? argmax(output.data as Float32Array, 0, count) : target.index;
  checkIndex(index, count, name);
  return { target: { kind: 'class', index, output: name }, output };
}

/** A class target whose index is 'top': it becomes a class once the output for the input is known. */
export interface TopTarget {
  kind: 'top';
  output: string;
}

export interface TargetPlan {
  /** The resolved target, or 'top' still to be read from the first output computed for the input. */
  target: ResolvedTarget | TopTarget;
  /** The target output's dims for the input (batch 1). */
  outputDims: number[];
}

/**
 * The target with its indices checked and its output's dims, without running the model when the
 * input has the size the model's shapes were probed at (the dims are then the probed ones); 'top'
 * stays open (resolveTop) so the run that needs the output anyway also resolves it. Other input
 * sizes take one forward pass, as resolveTarget.
 */
export async function planTarget(model: ConvModel, input: Tensor, target: Target): Promise<TargetPlan> {
  const name = outputName(model, target);
  const outputDims = await probedOutputDims(model, input, name);
  if (!outputDims) {
    const { target: resolved, output } = await resolveTarget(model, input, target);
    return { target: resolved, outputDims: output.dims };
  }
  const count = scoresPerRow(outputDims);
  if (target.kind === 'difference') return { target: checkedDifference(target, count, name), outputDims };
  if (target.index === 'top') return { target: { kind: 'top', output: name }, outputDims };
  checkIndex(target.index, count, name);
  return { target: { kind: 'class', index: target.index, output: name }, outputDims };
}

/** The output's probed dims, when the input has the probed size (batch aside) and the probe runs. */
async function probedOutputDims(model: ConvModel, input: Tensor, name: string): Promise<number[] | undefined> {
  const probed = concreteInputDims(model.input.shape);
  const sameSize = probed.length === input.dims.length && probed.every((d, i) => i === 0 || d === input.dims[i]);
  const dims = sameSize ? await model.probeShapes().then((shapes) => shapes.get(name), () => undefined) : undefined;
  return dims && dims[0] === 1 ? dims : undefined;
}

/** The plan's target, 'top' resolved from the output for the input (row 0: first maximum, as ArgMax). */
export function resolveTop(target: ResolvedTarget | TopTarget, output: Tensor): ResolvedTarget {
  if (target.kind !== 'top') return target;
  const count = scoresPerRow(output.dims);
  return { kind: 'class', index: argmax(output.data as Float32Array, 0, count), output: target.output };
}

/** The plan's target resolved, with one forward pass when it is 'top'. */
export async function resolvePlan(model: ConvModel, input: Tensor, plan: TargetPlan): Promise<ResolvedTarget> {
  if (plan.target.kind !== 'top') return plan.target;
  return resolveTop(plan.target, (await model.run({ [model.input.name]: input }))[plan.target.output]);
}

/** Backward seed for `batch` rows of an output shaped like `outputDims`. */
export function seedFor(target: ResolvedTarget, outputDims: number[], batch: number): Tensor {
  const count = scoresPerRow(outputDims);
  const seed = float32([batch, ...outputDims.slice(1)]);
  for (let row = 0; row < batch; row++) {
    if (target.kind === 'class') seed.data[row * count + target.index] = 1;
    else {
      seed.data[row * count + target.a] = 1;
      seed.data[row * count + target.b] = -1;
    }
  }
  return seed;
}

function softmaxAt(data: ArrayLike<number>, offset: number, count: number, index: number): number {
  let max = -Infinity;
  for (let i = 0; i < count; i++) max = Math.max(max, data[offset + i]);
  let sum = 0;
  for (let i = 0; i < count; i++) sum += Math.exp(data[offset + i] - max);
  return Math.exp(data[offset + index] - max) / sum;
}

/** The target's score for every row of an output (batch first); 'probability' takes a softmax over the row first. */
export function targetScores(output: Tensor, target: ResolvedTarget, kind: ScoreKind = 'logit'): Float64Array {
  const count = scoresPerRow(output.dims);
  const rows = output.dims[0];
  const data = output.data as Float32Array;
  const at = (row: number, i: number) => (kind === 'probability' ? softmaxAt(data, row * count, count, i) : data[row * count + i]);
  const scores = new Float64Array(rows);
  for (let row = 0; row < rows; row++) {
    scores[row] = target.kind === 'class' ? at(row, target.index) : at(row, target.a) - at(row, target.b);
  }
  return scores;
}

export function describeTarget(target: ResolvedTarget): string {
  return target.kind === 'class' ? `class ${target.index}` : `class ${target.a} minus class ${target.b}`;
}
