// One explanation per image of a list (a folder, a glob, a page of a folder): the loop that
// `convlens explain FOLDER` and the panel's "Explain all" gallery share. Images are decoded a batch
// at a time; with `predict`, each batch's top classes come from one forward pass through the batch
// dimension. Each image is explained on its own (a method's input is one image) and yielded as soon
// as it is done, so a caller writes it at once and memory stays that of one batch. An image that
// cannot be read or explained is yielded with its reason; a cancelled signal ends the loop with
// CancelledError (never reported as an image's failure).
import { CancelledError, throwIfCancelled } from '../cancel';
import type { ModelContext } from '../context';
import { explain, Explanation } from '../explain';
import { usableBatchSize } from '../explain/forward';
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
  /** Also give each image's top class (one batched forward pass per batch). */
  predict?: boolean;
}

export interface ExplainImagesControl {
  signal?: AbortSignal;
  /** Images decoded (and predicted) together; 16 unless given, 1 for a model with a fixed batch of 1. */
  batchSize?: number;
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

const DEFAULT_BATCH = 16;

function isCancel(err: unknown, signal: AbortSignal | undefined): boolean {
  return err instanceof CancelledError || !!signal?.aborted;
}

/** Top-1 of each input, in one forward pass when they stack; one by one when the batch fails (a bad row names itself). */
async function predictions(ctx: ModelContext, inputs: Tensor<Float32Array>[]): Promise<(Prediction | Error)[]> {
  // A segmentation's or a detector's prediction: its largest class by pixels, or its best box's class (task-outputs.ts).
  if (mayHaveTaskOutputs(ctx.model)) {
    const out: (Prediction | Error)[] = [];
    for (const t of inputs) {
      try {
        const { task, outputs } = await readTaskOutputs(ctx, t);
        const predicted = taskPredictions(task, 1);
        if (!predicted) out.push(ctx.topOf(outputs, 1)[0][0]);
        else out.push(predicted[0] ?? new Error(`no box scores ${task.kind === 'detection' ? task.minScore : ''} or more`));
      } catch (err) {
        out.push(err as Error);
      }
    }
    return out;
  }
  if (inputs.length > 1 && inputs.every((t) => t.dims.slice(1).join() === inputs[0].dims.slice(1).join())) {
    const size = inputs[0].data.length;
    const data = new Float32Array(inputs.length * size);
    inputs.forEach((t, i) => data.set(t.data, i * size));
    try {
      const { top } = await ctx.predict({ dtype: 'float32', dims: [inputs.length, ...inputs[0].dims.slice(1)], data }, 1);
      if (top.length === inputs.length) return top.map((row) => row[0]);
    } catch {
      // A non-finite row fails the whole batch: find it one by one below.
    }
  }
  const out: (Prediction | Error)[] = [];
  for (const t of inputs) {
    try {
      out.push((await ctx.predict(t, 1)).top[0][0]);
    } catch (err) {
      out.push(err as Error);
    }
  }
  return out;
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
  const batchSize = await usableBatchSize(ctx.model, control.batchSize ?? DEFAULT_BATCH);
  for (let start = 0; start < images.length; start += batchSize) {
    throwIfCancelled(signal);
    const batch = images.slice(start, start + batchSize).map((image): ExplainedImage => {
      try {
        return { image, input: ctx.loadInput(image.file) };
      } catch (err) {
        return { image, error: (err as Error).message };
      }
    });
    if (request.predict) {
      const readable = batch.filter((b) => b.input);
      const top = await predictions(
        ctx,
        readable.map((b) => b.input!.tensor as Tensor<Float32Array>),
      );
      readable.forEach((b, i) => {
        const p = top[i];
        if (p instanceof Error) {
          b.error = p.message;
        } else b.prediction = p;
      });
    }
    for (const item of batch) {
      throwIfCancelled(signal);
      if (item.input && !item.error) {
        try {
          // 'top' or a class on a segmentation or detection model: this image's predicted region or box.
          const chosen = await taskAwareTarget(ctx, item.input.tensor, request.target);
          try {
            item.explanation = await explain(
              request.method,
              { model: chosen.model, input: item.input.tensor, target: chosen.target, layer: request.layer, signal },
              request.options ?? {},
            );
          } finally {
            await chosen.copy?.dispose();
          }
        } catch (err) {
          if (isCancel(err, signal)) throw err instanceof CancelledError ? err : new CancelledError();
          item.error = (err as Error).message;
        }
      }
      yield item;
    }
  }
}
