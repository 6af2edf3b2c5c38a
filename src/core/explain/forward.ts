// Batched evaluation for methods that need many passes: work is cut into batches (one example at a
// time when the model's batch dimension is fixed), progress is reported after every batch and the
// cancellation signal is checked before each.
import { throwIfCancelled } from '../cancel';
import { ConvModel } from '../model';
import { sizeOf, Tensor } from '../tensor';
import { ScoreKind, perturbedScores, targetScores } from './target';
import { ExplainContext, ResolvedTarget } from './types';

export interface RunControl {
  progress?: (fraction: number, message: string) => void;
  signal?: AbortSignal;
}

/** The batch size to use: the requested one, or 1 when the model cannot take a batch. */
export async function usableBatchSize(model: ConvModel, requested: number): Promise<number> {
  return requested > 1 && (await model.supportsBatch()) ? requested : 1;
}

/**
 * Inputs per run for `count` inputs of `itemDims` (batch 1): at most `requested` (1 when the model
 * takes no batch), and as many as the activation limit allows with every probed tensor of the
 * model counted `copies` times per input, then spread evenly over the fewest runs. Counting every
 * tensor bounds a forward pass from above (onnxruntime frees and reuses most of them as it goes);
 * a gradient run keeps each forward activation for the backward pass next to at most one gradient
 * of it (copies = 2).
 */
export async function batchForCount(model: ConvModel, itemDims: number[], count: number, requested: number, copies: number): Promise<number> {
  const usable = Math.max(1, Math.min(count, await usableBatchSize(model, requested)));
  if (count <= 1) return usable;
  const shapes = usable > 1 ? await model.probeShapes().catch(() => undefined) : undefined;
  if (!shapes) return usable;
  const item: Record<string, Tensor> = { [model.input.name]: { dtype: 'float32', dims: itemDims, data: new Float32Array(0) } };
  const fits = model.activationLimit.itemsThatFit(await model.activationBytes([...shapes.keys()], item, copies));
  const most = Math.max(1, Math.min(usable, fits));
  return Math.ceil(count / Math.ceil(count / most));
}

/**
 * Runs `count` items in batches of `batchSize` through `runBatch(start, size)`, checking the signal
 * before each batch and reporting progress after it (the last report is exactly 1).
 */
export async function inBatches(count: number, batchSize: number, control: RunControl, label: string, runBatch: (start: number, size: number) => Promise<void>): Promise<void> {
  for (let start = 0; start < count; start += batchSize) {
    throwIfCancelled(control.signal);
    const size = Math.min(batchSize, count - start);
    await runBatch(start, size);
    const done = start + size;
    control.progress?.(done / count, `${label}: ${done}/${count}`);
  }
}

/**
 * The target's score for `count` variants of the input, each written by `fill(i, dst)` into a
 * [C, H, W] slot (which holds an earlier variant: `fill` writes every element); forward passes run
 * in batches of at most `batchSize`, fewer where the activation limit needs it (batchForCount).
 * A variant found identical to an earlier one is not run and takes that one's score: named before
 * the runs by `sameAs(i)`, or by `fill` itself returning the earlier variant's index once it has
 * computed what tells them apart (its slot is then reused for the next variant).
 * A box target is re-matched in each variant (perturbedScores).
 */
export async function scoreVariants(
  ctx: ExplainContext,
  target: ResolvedTarget,
  count: number,
  fill: (i: number, dst: Float32Array) => number | void,
  options: { batchSize: number; score: ScoreKind; label: string; sameAs?: (i: number) => number | undefined },
): Promise<Float64Array> {
  const { model, input } = ctx;
  const sample = sizeOf(input.dims.slice(1));
  const scores = new Float64Array(count);
  // The variants that may need a run, in order; each of the others is identical to an earlier one.
  const candidates: number[] = [];
  const copies: [number, number][] = [];
  const sameAsEarlier = (i: number, same: number) => {
    if (!(same < i)) throw new RangeError(`variant ${i} can only be the same as an earlier variant, not ${same}`);
    copies.push([i, same]);
  };
  for (let i = 0; i < count; i++) {
    const same = options.sameAs?.(i);
    if (same === undefined) candidates.push(i);
    else sameAsEarlier(i, same);
  }
  const batchSize = await batchForCount(model, [1, ...input.dims.slice(1)], candidates.length, options.batchSize, 1);
  // One buffer for every batch: onnxruntime reads it during the run only.
  const buffer = new Float32Array(Math.min(batchSize, candidates.length) * sample);
  let next = 0;
  while (next < candidates.length) {
    throwIfCancelled(ctx.signal);
    const run: number[] = [];
    while (run.length < batchSize && next < candidates.length) {
      const i = candidates[next++];
      const same = fill(i, buffer.subarray(run.length * sample, (run.length + 1) * sample));
      if (typeof same === 'number') sameAsEarlier(i, same);
      else run.push(i);
    }
    if (run.length > 0) {
      const batch: Tensor = { dtype: 'float32', dims: [run.length, ...input.dims.slice(1)], data: buffer.subarray(0, run.length * sample) };
      const batchScores = perturbedScores(await model.run({ [model.input.name]: batch }), target, options.score);
      run.forEach((i, j) => (scores[i] = batchScores[j]));
    }
    ctx.progress?.(next / candidates.length, `${options.label}: ${next}/${candidates.length}`);
  }
  // In the order found, so a variant copied from a copy finds that copy's score already set.
  copies.sort((a, b) => a[0] - b[0]);
  for (const [i, same] of copies) scores[i] = scores[same];
  return scores;
}

/** Score of the unmodified input (one forward pass). */
export async function scoreOf(ctx: ExplainContext, target: ResolvedTarget, input: Tensor, score: ScoreKind = 'logit'): Promise<number> {
  const output = (await ctx.model.run({ [ctx.model.input.name]: input }))[target.output];
  return targetScores(output, target, score)[0];
}
