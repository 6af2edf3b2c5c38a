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
 * [C, H, W] slot; forward passes run in batches. A box target is re-matched in each variant
 * (perturbedScores).
 */
export async function scoreVariants(
  ctx: ExplainContext,
  target: ResolvedTarget,
  count: number,
  fill: (i: number, dst: Float32Array) => void,
  options: { batchSize: number; score: ScoreKind; label: string },
): Promise<Float64Array> {
  const { model, input } = ctx;
  const sample = sizeOf(input.dims.slice(1));
  const batchSize = await usableBatchSize(model, options.batchSize);
  const scores = new Float64Array(count);
  await inBatches(count, batchSize, ctx, options.label, async (start, size) => {
    const data = new Float32Array(size * sample);
    for (let j = 0; j < size; j++) fill(start + j, data.subarray(j * sample, (j + 1) * sample));
    const batch: Tensor = { dtype: 'float32', dims: [size, ...input.dims.slice(1)], data };
    scores.set(perturbedScores(await model.run({ [model.input.name]: batch }), target, options.score), start);
  });
  return scores;
}

/** Score of the unmodified input (one forward pass). */
export async function scoreOf(ctx: ExplainContext, target: ResolvedTarget, input: Tensor, score: ScoreKind = 'logit'): Promise<number> {
  const output = (await ctx.model.run({ [ctx.model.input.name]: input }))[target.output];
  return targetScores(output, target, score)[0];
}
