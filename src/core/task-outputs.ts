// What a segmentation or detection model predicts for one input, read from its structured outputs:
// a segmentation output [1, C, H, W] as its argmax mask with each class's pixels; a detector's head
// decoded and NMS-filtered by ./detection.ts with the thresholds the box target then uses, so box I
// of the list is the box:I an explanation resolves. A model that runs its own NMS (a
// NonMaxSuppression node) is read at its raw head before it. The worker's taskOutputs job (the
// panel's mask and boxes), its predict job and the CLI's `predict` read these instead of "top
// classes" of a flattened mask or head, and a class or 'top' target on such a model becomes the
// class's predicted region or the best box (taskTarget).
import * as fs from 'fs';
import * as path from 'path';
import type { ModelContext } from './context';
import { DEFAULT_IOU, DEFAULT_MIN_SCORE, DetectionHead, DetectionOptions, decodeDetections, detectionHead, nonMaxSuppression } from './detection';
import { Prediction, readLabels } from './labels/labels';
import type { Target } from './explain/types';
import { ExplainError } from './explain/types';
import { ConvModel } from './model';
import { encodeModelReusing } from './onnx/proto';
import { exposeOutputs } from './onnx/surgery';
import { Tensor } from './tensor';

export interface SegmentClass {
  index: number;
  label: string;
  /** Pixels whose argmax is this class, and their share of the mask. */
  pixels: number;
  share: number;
  /** The class's mean logit over those pixels (0 when it has none). */
  meanLogit: number;
}

export interface TaskDetection {
  index: number;
  class: number;
  label: string;
  score: number;
  box: [number, number, number, number];
}

export type TaskOutputs =
  | { kind: 'none'; note: string }
  | { kind: 'segmentation'; output: string; width: number; height: number; classIds: number[]; classes: SegmentClass[]; notes: string[] }
  | {
      kind: 'detection';
      /** The head box targets name (the raw head, also when the model runs its own NMS after it), and a separate boxes output. */
      output: string;
      boxes?: string;
      sigmoid: boolean;
      iou: number;
      minScore: number;
      /** The input's width and height: the space of the boxes. */
      space: [number, number];
      detections: TaskDetection[];
      ownNms: boolean;
      notes: string[];
    };

/**
 * Class names for `count` classes: `<model>.classes.txt` beside the model (one name a line; the
 * task samples keep their names there, since the labels file is matched to the last axis of the
 * first output, which is not a segmentation or detection model's class axis), else the model's
 * labels when they are `count`, else "class i".
 */
export function taskClassNames(ctx: ModelContext, count: number): string[] {
  const file = ctx.model.file;
  if (file) {
    const folder = path.dirname(path.resolve(file));
    const name = `${path.basename(file).replace(/\.onnx$/i, '')}.classes.txt`;
    if (fs.existsSync(path.join(folder, name))) {
      try {
        const names = readLabels({ file: name, base: folder, inside: { folder, name: "the model's folder" } });
        if (names.length === count) return names;
      } catch {
        // An unreadable names file: numbered classes.
      }
    }
  }
  if (ctx.labels?.length === count) return ctx.labels;
  return Array.from({ length: count }, (_, i) => `class ${i}`);
}

export const hasOwnNms = (model: ConvModel): boolean => model.graph.node.some((n) => n.op_type === 'NonMaxSuppression');

/**
 * Whether the model's declared outputs could be a segmentation map or a detection head (or it runs
 * its own NMS), from their shapes alone: a classifier's [N, K] is not, so its targets and
 * predictions skip reading task outputs. (webview/panel/tasks.ts hasStructuredOutputs asks the same.)
 */
export function mayHaveTaskOutputs(model: ConvModel): boolean {
  if (hasOwnNms(model)) return true;
  return model.summary().outputs.some((o) => (o.shape.length === 4 ? o.shape.slice(2).some((d) => typeof d !== 'number' || d > 1) : o.shape.length === 3));
}

/** The raw head before a model's own NMS: the nearest tensor above its boxes input shaped [1, boxes, 4 + 1 + classes]. */
export async function rawHeadBeforeNms(model: ConvModel): Promise<string | undefined> {
  const nms = model.graph.node.find((n) => n.op_type === 'NonMaxSuppression');
  if (!nms) return undefined;
  const shapes = await model.probeShapes().catch(() => new Map<string, number[]>());
  const producers = new Map(model.graph.node.flatMap((n) => n.output.map((o) => [o, n] as const)));
  const queue = [nms.input[0]];
  const seen = new Set(queue);
  while (queue.length > 0) {
    const tensor = queue.shift()!;
    const dims = shapes.get(tensor);
    if (dims && dims.length === 3 && dims[0] === 1 && dims[2] >= 6) return tensor;
    for (const input of producers.get(tensor)?.input ?? []) {
      if (input && !seen.has(input)) {
        seen.add(input);
        queue.push(input);
      }
    }
  }
  return undefined;
}

/** Whether a YOLO head's objectness and class values are logits (some outside [0, 1]) rather than probabilities. */
function headGivesLogits(row: Float32Array, head: DetectionHead): boolean {
  const width = head.classes + 5;
  for (let b = 0; b < head.boxes; b++) for (let k = 4; k < width; k++) if (row[b * width + k] < 0 || row[b * width + k] > 1) return true;
  return false;
}

function segmentation(ctx: ModelContext, name: string, output: Tensor): TaskOutputs {
  const [, classes, height, width] = output.dims;
  const plane = height * width;
  const data = output.data as Float32Array;
  const classIds = new Array<number>(plane);
  const pixels = new Array<number>(classes).fill(0);
  const sums = new Float64Array(classes);
  for (let p = 0; p < plane; p++) {
    // The first maximum, as torch.argmax and the region target's predicted mask.
    let best = 0;
    for (let c = 1; c < classes; c++) if (data[c * plane + p] > data[best * plane + p]) best = c;
    classIds[p] = best;
    pixels[best]++;
    sums[best] += data[best * plane + p];
  }
  const labels = taskClassNames(ctx, classes);
  const views: SegmentClass[] = labels.map((label, index) => ({
    index,
    label,
    pixels: pixels[index],
    share: pixels[index] / plane,
    meanLogit: pixels[index] ? sums[index] / pixels[index] : 0,
  }));
  return {
    kind: 'segmentation',
    output: name,
    width,
    height,
    classIds,
    classes: views,
    notes: [`output '${name}' [${output.dims.join(', ')}]: the class of each pixel is its argmax`],
  };
}

function detection(
  ctx: ModelContext,
  outputs: Record<string, Tensor>,
  found: { output: string; boxes?: string; ownNms: boolean },
  input: Tensor,
  options: { iou?: number; minScore?: number },
): TaskOutputs {
  const output = outputs[found.output];
  const boxes = found.boxes ? outputs[found.boxes] : undefined;
  const row = output.data as Float32Array;
  const probe = detectionHead(output.dims, boxes?.dims, false);
  if (typeof probe === 'string') return { kind: 'none', note: probe };
  const sigmoid = probe.layout === 'yolo' ? headGivesLogits(row, probe) : Array.from(row).some((v) => v < 0 || v > 1);
  const head = { ...probe, sigmoid };
  const iou = options.iou ?? DEFAULT_IOU;
  const minScore = options.minScore ?? DEFAULT_MIN_SCORE;
  const kept = nonMaxSuppression(decodeDetections(row, head, minScore, boxes?.data as Float32Array | undefined), iou);
  const labels = taskClassNames(ctx, head.classes);
  const detections: TaskDetection[] = kept.map((d, index) => ({ index, class: d.class, label: labels[d.class], score: d.score, box: d.box }));
  const notes = [
    `${kept.length} boxes scoring ${minScore} or more after per-class NMS at IoU ${iou}, from ${head.boxes} candidates of ${found.boxes ? `'${found.output}' with boxes '${found.boxes}'` : `'${found.output}'`}`,
  ];
  if (sigmoid) notes.push('the head gives logits: σ is applied to objectness and class scores');
  if (found.ownNms) notes.push(`the model runs its own NMS; ConvLens decodes and explains its raw head '${found.output}' before it, since no gradient passes the selection`);
  notes.push('a box explained by a perturbation method is re-matched in every perturbed run (IoU > 0.5, same class), as pytorch-grad-cam’s FasterRCNNBoxScoreTarget');
  const [height, width] = input.dims.slice(-2);
  return { kind: 'detection', output: found.output, boxes: found.boxes, sigmoid, iou, minScore, space: [width, height], detections, ownNms: found.ownNms, notes };
}

/**
 * One forward pass of `input` and what its outputs say as a segmentation or detection (or 'none',
 * with the outputs' shapes, for any other model); `outputs` holds every output of that pass (and
 * the raw head of a model with its own NMS), for a caller that reads them otherwise (predictions).
 */
export async function readTaskOutputs(
  ctx: ModelContext,
  input: Tensor,
  options: { iou?: number; minScore?: number } = {},
): Promise<{ task: TaskOutputs; outputs: Record<string, Tensor> }> {
  const head = await rawHeadBeforeNms(ctx.model);
  const outputs = await ctx.model.run(ctx.feeds(input), head ? [head] : []);
  if (head) return { task: detection(ctx, outputs, { output: head, ownNms: true }, input, options), outputs };
  const declared = ctx.model.summary().outputs.map((o) => o.name);
  for (const name of declared) {
    const dims = outputs[name]?.dims;
    if (!dims || dims[0] !== 1 || outputs[name].dtype !== 'float32') continue;
    if (dims.length === 4 && dims[1] >= 2 && dims[2] * dims[3] > 1) return { task: segmentation(ctx, name, outputs[name]), outputs };
    if (dims.length === 3 && dims[2] >= 6) return { task: detection(ctx, outputs, { output: name, ownNms: false }, input, options), outputs };
    // SSD style: a scores output [1, B, C] beside a boxes output [1, B, 4].
    const boxes = declared.find((b) => b !== name && outputs[b]?.dims.length === 3 && outputs[b].dims[1] === dims[1] && outputs[b].dims[2] === 4);
    if (dims.length === 3 && dims[2] !== 4 && boxes) return { task: detection(ctx, outputs, { output: name, boxes, ownNms: false }, input, options), outputs };
  }
  const shapes = declared.map((n) => `'${n}' [${outputs[n]?.dims.join(', ')}]`).join(', ');
  return {
    task: {
      kind: 'none',
      note: `no segmentation output [1, C, H, W] or detection head [1, boxes, 4 + 1 + C] (or boxes [1, B, 4] with scores [1, B, C]) among the outputs: ${shapes}`,
    },
    outputs,
  };
}

/** The class a segmentation calls background: one named so, else class 0. */
export function backgroundClass(classes: SegmentClass[]): number {
  return classes.find((c) => /^_*background_*$/i.test(c.label.trim()))?.index ?? 0;
}

/**
 * What a segmentation or detection model predicts, as a ranked list of classes: for a
 * segmentation, the classes present by pixel share (probability: the share; logit: the class's
 * mean logit over its pixels); for a detector, the classes detected, by the score of their best
 * box (probability and logit: that score). The index is the class, which taskTarget turns into
 * its region or its best box. Undefined for any other model.
 */
export function taskPredictions(task: TaskOutputs, k: number): Prediction[] | undefined {
  if (task.kind === 'segmentation') {
    return task.classes
      .filter((c) => c.pixels > 0)
      .sort((a, b) => b.pixels - a.pixels || a.index - b.index)
      .slice(0, k)
      .map((c) => ({ index: c.index, label: c.label, logit: c.meanLogit, probability: c.share }));
  }
  if (task.kind === 'detection') {
    const best = new Map<number, TaskDetection>();
    for (const d of task.detections) if (!best.has(d.class)) best.set(d.class, d); // highest score first
    return [...best.values()].slice(0, k).map((d) => ({ index: d.class, label: d.label, logit: d.score, probability: d.score }));
  }
  return undefined;
}

/** A region or box target as the core takes it. */
export type TaskTarget =
  | { kind: 'region'; class: number; mask: 'predicted'; output: string }
  | { kind: 'box'; index: number; output: string; detection: DetectionOptions & { iou: number; minScore: number; sigmoid: boolean } };

/**
 * What a class (or 'top') means on a segmentation or detection model, where the flat index of a
 * mask or a head means nothing: a segmentation's class is its predicted region, and 'top' the
 * region of the largest class other than background (background itself when nothing else is
 * predicted); a detector's class is its best box, and 'top' the best box of all. A string says
 * why there is none (a class not predicted, no box). Undefined for any other model.
 */
export function taskTarget(task: TaskOutputs, index: number | 'top'): TaskTarget | string | undefined {
  if (task.kind === 'segmentation') {
    const { classes, output } = task;
    if (index === 'top') {
      const background = backgroundClass(classes);
      const present = classes.filter((c) => c.pixels > 0).sort((a, b) => b.pixels - a.pixels || a.index - b.index);
      const chosen = present.find((c) => c.index !== background) ?? present[0];
      return { kind: 'region', class: chosen.index, mask: 'predicted', output };
    }
    const c = classes[index];
    if (!c) return `class ${index} is out of range: output '${output}' has ${classes.length} classes (0 to ${classes.length - 1})`;
    if (c.pixels === 0) return `no pixel is predicted as ${c.label} (class ${index}) in this image: choose a class it predicts, or a region of your own`;
    return { kind: 'region', class: index, mask: 'predicted', output };
  }
  if (task.kind === 'detection') {
    const d = index === 'top' ? task.detections[0] : task.detections.find((x) => x.class === index);
    if (!d) {
      return index === 'top'
        ? `no box scores ${task.minScore} or more: lower the score threshold`
        : `no box of class ${index} scores ${task.minScore} or more in this image: choose a detected class or box`;
    }
    const detection = { iou: task.iou, minScore: task.minScore, sigmoid: task.sigmoid, ...(task.boxes ? { boxes: task.boxes } : {}) };
    return { kind: 'box', index: d.index, output: task.output, detection };
  }
  return undefined;
}

/**
 * A copy of `model` whose graph also outputs `tensor` (a tensor inside it, such as the raw head
 * before a model's own NMS): targets read graph outputs. The caller disposes of it.
 */
export function modelExposing(model: ConvModel, tensor: string): ConvModel {
  return ConvModel.fromBytes(encodeModelReusing(exposeOutputs(model.proto, [tensor]), model), { provider: model.provider, threads: model.threads });
}

/**
 * The core's target for 'top' or a class (with no output named) on a segmentation or detection
 * model, for `input` (taskTarget's region or box; a string says why there is none), with the model
 * to explain it on: a copy that outputs the raw head for a model with its own NMS (`copy`, to be
 * disposed of). Any other target or model: as it is.
 */
export async function taskAwareTarget(ctx: ModelContext, input: Tensor, target: Target): Promise<{ target: Target; model: ConvModel; copy?: ConvModel }> {
  if (target.kind !== 'class' || target.output || !mayHaveTaskOutputs(ctx.model)) return { target, model: ctx.model };
  const { task } = await readTaskOutputs(ctx, input);
  const chosen = taskTarget(task, target.index);
  if (chosen === undefined) return { target, model: ctx.model };
  if (typeof chosen === 'string') throw new ExplainError(chosen);
  if (chosen.kind === 'box' && task.kind === 'detection' && task.ownNms) {
    const copy = modelExposing(ctx.model, chosen.output);
    return { target: chosen, model: copy, copy };
  }
  return { target: chosen, model: ctx.model };
}
