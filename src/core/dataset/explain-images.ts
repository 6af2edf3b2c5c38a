// One explanation per image of a list (a folder, a glob, a page of a folder): the loop that
// `convlens explain FOLDER` and the panel's "Explain all" gallery share. Each image is decoded,
// explained on its own (a method's input is one image) and yielded as soon as it is done, so a
// caller writes it at once and memory stays that of one image. With `predict`, a classifier's top
// class comes from the outputs the method computed for the input where it did (ExplainContext's
// inputOutputs: a gradient run, a CAM's forward pass, the pass that finds a 'top' class), else
// from a forward pass of its own. An image that cannot be read or explained is yielded with its reason;
// a cancelled signal ends the loop with CancelledError (never reported as an image's failure).
import { CancelledError, throwIfCancelled } from '../cancel';
import type { ModelContext } from '../context';
import { explain, Explanation } from '../explain';
import type { OptionValue, Target } from '../explain/types';
import type { Prediction } from '../labels/labels';
import type { LoadedInput } from '../preprocess';
import type { Tensor } from '../tensor';
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
  const { signal } = control;
  if (images.length > 1) ctx.model.explainsManyInputs();
  const taskModel = mayHaveTaskOutputs(ctx.model);
  for (const image of images) {
    throwIfCancelled(signal);
    const item: ExplainedImage = { image };
    try {
      item.input = ctx.loadInput(image.file);
    } catch (err) {
      item.error = (err as Error).message;
    }
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
}
