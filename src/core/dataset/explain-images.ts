// One explanation per image of a list (a folder, a glob, a page of a folder): the loop that
// `convlens explain FOLDER` and the panel's "Explain all" gallery share. Each image is decoded,
// explained on its own (a method's input is one image) and yielded as soon as it is done, so a
// caller writes it at once. onnxruntime runs on this thread, so the next image is read and
// preprocessed in a decode thread (decode-pool.ts) while this one is explained: memory stays that
// of two images. With `predict`, a classifier's top class comes from the outputs the method
// computed for the input where it did (ExplainContext's inputOutputs, which lists those runs), else
// from a forward pass of its own. An image that cannot be read or explained is yielded with its
// reason; a cancelled signal ends the loop with CancelledError (never reported as an image's
// failure).
import * as path from 'path';
import { CancelledError, throwIfCancelled } from '../cancel';
import type { ModelContext } from '../context';
import { explain, Explanation } from '../explain';
import type { OptionValue, Target } from '../explain/types';
import type { Prediction } from '../labels/labels';
import type { LoadedInput } from '../preprocess';
import type { Tensor } from '../tensor';
import { DecodePool, DecodePoolError } from './decode-pool';
import type { DatasetImage } from './folder';
import { mayHaveTaskOutputs, readTaskOutputs, taskAwareTarget, taskPredictions } from '../task-outputs';

export interface ExplainImagesRequest {
  method: string;
  target: Target;
  /** The layer of CAM methods; default: the method's own choice ('auto'). */
  layer?: string;
  /** Method options by OptionSpec name (strings as typed, or values). */
  options?: Record<string, OptionValue | undefined>;
  /** Also give each image's top class. */
  predict?: boolean;
}

export interface ExplainImagesControl {
  signal?: AbortSignal;
  /**
   * A one-thread decode pool the caller keeps over many calls (the gallery's pages): a fresh
   * thread reads its first few images several times slower while its code warms up. Default: one
   * started for the call (of more than one image) and closed after it.
   */
  reader?: DecodePool;
}

export interface ExplainedImage {
  image: DatasetImage;
  /** The decoded input; absent when the image could not be read. */
  input?: LoadedInput;
  explanation?: Explanation;
  /** The model's top class, with `predict`. */
  prediction?: Prediction;
  /** Why the image has no explanation. */
  error?: string;
}

/** An image's failure, as its reason; a cancellation is thrown on as CancelledError instead. */
function reasonOf(err: unknown, signal: AbortSignal | undefined): string {
  if (err instanceof CancelledError) throw err;
  if (signal?.aborted) throw new CancelledError();
  return (err as Error).message;
}

/**
 * ctx.loadInput(file), in `pool`'s thread where there is one: the thread runs the same loadInput,
 * so the input is the same bit for bit, and the context checks its values as its own. Where the
 * context cannot preprocess images for the model or the pool failed, ctx.loadInput runs here, so
 * the reasons are in its words.
 */
async function loadInputIn(ctx: ModelContext, file: string, pool: DecodePool | undefined): Promise<LoadedInput> {
  if (!pool || (!ctx.preprocessing && ctx.preprocessingProblem)) return ctx.loadInput(file);
  try {
    return ctx.finiteInput(path.basename(file), await pool.loadInput(file, ctx.preprocessing?.spec, ctx.inputInfo.shape, ctx.limits));
  } catch (err) {
    if (err instanceof DecodePoolError && !pool.closed) return ctx.loadInput(file);
    throw err;
  }
}

/**
 * A segmentation's or a detector's prediction: its largest class by pixels, or its best box's class
 * (task-outputs.ts), one input at a time.
 */
async function taskPrediction(ctx: ModelContext, input: Tensor): Promise<Prediction> {
  const { task, outputs } = await readTaskOutputs(ctx, input);
  const predicted = taskPredictions(task, 1);
  if (!predicted) return ctx.topOf(outputs, 1)[0][0];
  const best = predicted[0];
  if (!best) throw new Error(`no box scores ${task.kind === 'detection' ? task.minScore : ''} or more`);
  return best;
}

/** Explains `images` in order, yielding each as soon as it is done (see the file's header). */
export async function* explainImages(
  ctx: ModelContext,
  images: readonly DatasetImage[],
  request: ExplainImagesRequest,
  control: ExplainImagesControl = {},
): AsyncGenerator<ExplainedImage> {
  const { signal, reader } = control;
  if (images.length > 1) ctx.model.explainsManyInputs();
  const taskModel = mayHaveTaskOutputs(ctx.model);
  const pool = reader ?? (images.length > 1 ? DecodePool.start(1) : undefined);
  const load = (file: string) =>
    loadInputIn(ctx, file, pool).then(
      (input) => ({ input }),
      (err: Error) => ({ error: err.message }),
    );
  // Without a pool, each image is read when its turn comes; with one, the next is read meanwhile.
  let next: ReturnType<typeof load> | undefined;
  try {
    for (const [k, image] of images.entries()) {
      throwIfCancelled(signal);
      const loaded = await (next ?? load(image.file));
      next = pool && k + 1 < images.length ? load(images[k + 1].file) : undefined;
      const item: ExplainedImage = { image, ...loaded };
      if (item.input) {
        const input = item.input.tensor;
        // A task model's prediction may choose what is explained (its predicted region or box): first.
        if (request.predict && taskModel) {
          try {
            item.prediction = await taskPrediction(ctx, input);
          } catch (err) {
            item.error = reasonOf(err, signal);
          }
        }
        // A classifier's comes from the outputs the method computed for the input, where it did.
        let outputs: Record<string, Tensor> | undefined;
        const inputOutputs = request.predict && !taskModel ? (o: Record<string, Tensor>) => void (outputs ??= o) : undefined;
        if (!item.error) {
          try {
            // 'top' or a class on a segmentation or detection model: this image's predicted region or box.
            const chosen = await taskAwareTarget(ctx, input, request.target);
            try {
              item.explanation = await explain(
                request.method,
                { model: chosen.model, input, target: chosen.target, layer: request.layer, signal, inputOutputs },
                request.options ?? {},
              );
            } finally {
              await chosen.copy?.dispose();
            }
          } catch (err) {
            item.error = reasonOf(err, signal);
          }
        }
        if (inputOutputs) {
          try {
            item.prediction = ctx.topOf(outputs ?? (await ctx.model.run(ctx.feeds(input))), 1)[0][0];
          } catch (err) {
            // Outputs that are not finite explain the failure better than the method's own error.
            item.error = reasonOf(err, signal);
            item.explanation = undefined;
          }
        }
      }
      yield item;
    }
  } finally {
    if (pool !== reader) await pool?.dispose();
  }
}
