// The structured outputs of segmentation and detection models for one image (the panel's mask and
// boxes), read by src/core/task-outputs.ts: box I of the list is the box:I an explanation resolves.
// A model that runs its own NMS is read, and explained, at its raw head before it: box targets of
// such a model run on a copy of it that outputs that head (released when the model closes).
import type { TargetSpec, TaskOutputsView } from '../../protocol';
import type { ModelContext } from '../../core/context';
import { ConvModel } from '../../core/model';
import { hasOwnNms, mayHaveTaskOutputs, modelExposing, readTaskOutputs, TaskOutputs, taskTarget } from '../../core/task-outputs';
import { Tensor } from '../../core/tensor';
import { JobHandlers } from '../jobs';
import { WorkerState } from './state';

const headModels = new WeakMap<ConvModel, Map<string, ConvModel>>();

/**
 * The model an explanation runs on. A box target of a model with its own NMS names the raw head
 * before it (taskOutputs lists that head's boxes), a tensor inside the graph: explanations run on a
 * copy of the model that also outputs it (kept per model and head), since no gradient passes the
 * NMS selection and the targets read graph outputs. Every other target runs on the model itself.
 */
export function modelForTarget(model: ConvModel, target: TargetSpec): ConvModel {
  if (target.kind !== 'box' || !target.output || (model.graph.output ?? []).some((o) => o.name === target.output) || !hasOwnNms(model)) return model;
  let heads = headModels.get(model);
  if (!heads) headModels.set(model, (heads = new Map()));
  let head = heads.get(target.output);
  if (!head) {
    head = modelExposing(model, target.output);
    heads.set(target.output, head);
  }
  return head;
}

/** Releases the copies made of `model` for box targets (their onnxruntime sessions): called when the model closes. */
export async function releaseTargetModels(model: ConvModel): Promise<number> {
  const heads = headModels.get(model);
  headModels.delete(model);
  if (!heads) return 0;
  await Promise.all([...heads.values()].map((head) => head.dispose()));
  return heads.size;
}

/** How many copies of `model` box targets hold now (tests). */
export function targetModelCount(model: ConvModel): number {
  return headModels.get(model)?.size ?? 0;
}

export function taskJobs(state: WorkerState): JobHandlers<'taskOutputs'> {
  return {
    async taskOutputs({ modelPath, imageId, iou, minScore }, job) {
      const ctx = state.contextFor(modelPath);
      job.progress(0, 'running the model');
      const { task } = await readTaskOutputs(ctx, state.imageFor(imageId).tensor, { iou, minScore });
      return taskView(imageId, task);
    },
  };
}

/** The protocol's view of a model's task outputs for one image. */
export function taskView(imageId: string, task: TaskOutputs): TaskOutputsView {
  if (task.kind === 'segmentation') return { ...task, imageId, classes: task.classes.map(({ index, label, pixels, share }) => ({ index, label, pixels, share })) };
  return { ...task, imageId };
}

/**
 * The target a view's 'top' or class target means on a segmentation or detection model (the
 * predicted region of the largest class other than background, or of the class; the best box, or
 * the class's best box), with the default thresholds; the target itself for any other model.
 */
export async function taskAwareTarget(ctx: ModelContext, input: Tensor, spec: TargetSpec): Promise<TargetSpec> {
  if (spec.kind !== 'top' && spec.kind !== 'class') return spec;
  if ((spec.kind === 'class' && spec.output) || !mayHaveTaskOutputs(ctx.model)) return spec;
  const { task } = await readTaskOutputs(ctx, input);
  const chosen = taskTarget(task, spec.kind === 'top' ? 'top' : spec.index);
  if (chosen === undefined) return spec;
  if (typeof chosen === 'string') throw new Error(chosen);
  if (chosen.kind === 'region') return chosen;
  const { detection } = chosen;
  return {
    kind: 'box',
    index: chosen.index,
    output: chosen.output,
    iou: detection.iou,
    minScore: detection.minScore,
    sigmoid: detection.sigmoid,
    ...(detection.boxes ? { boxes: detection.boxes } : {}),
  };
}
