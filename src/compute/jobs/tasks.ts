// The structured outputs of segmentation and detection models for one image (the panel's mask and
// boxes): a segmentation output [1, C, H, W] as its argmax mask with each class's pixels; a
// detector's head decoded and NMS-filtered by src/core/detection.ts with the same thresholds the
// box target then uses, so box I of this list is the box:I an explanation resolves. A model that
// runs its own NMS (a NonMaxSuppression node) is read at its raw head before it.
import * as fs from 'fs';
import * as path from 'path';
import type { DetectionView, SegmentClassView, TargetSpec, TaskOutputsView } from '../../protocol';
import type { ModelContext } from '../../core/context';
import { DEFAULT_IOU, DEFAULT_MIN_SCORE, DetectionHead, decodeDetections, detectionHead, nonMaxSuppression } from '../../core/detection';
import { readLabels } from '../../core/labels/labels';
import { ConvModel } from '../../core/model';
import { encodeModel } from '../../core/onnx/proto';
import { exposeOutputs } from '../../core/onnx/surgery';
import { Tensor } from '../../core/tensor';
import { JobHandlers } from '../jobs';
import { WorkerState } from './state';

/**
 * Class names for `count` classes: `<model>.classes.txt` beside the model (one name a line; the
 * task samples keep their names there, since the labels file is matched to the last axis of the
 * first output, which is not a segmentation or detection model's class axis), else the model's
 * labels when they are `count`, else "class i".
 */
function classNames(ctx: ModelContext, count: number): string[] {
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

/** The raw head before a model's own NMS: the nearest tensor above its boxes input shaped [1, boxes, 4 + 1 + classes]. */
async function rawHeadBeforeNms(model: ConvModel): Promise<string | undefined> {
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

const hasOwnNms = (model: ConvModel) => model.graph.node.some((n) => n.op_type === 'NonMaxSuppression');

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
    head = ConvModel.fromBytes(encodeModel(exposeOutputs(model.proto, [target.output])), { provider: model.provider });
    heads.set(target.output, head);
  }
  return head;
}

/** Whether a YOLO head's objectness and class values are logits (some outside [0, 1]) rather than probabilities. */
function headGivesLogits(row: Float32Array, head: DetectionHead): boolean {
  const width = head.classes + 5;
  for (let b = 0; b < head.boxes; b++) for (let k = 4; k < width; k++) if (row[b * width + k] < 0 || row[b * width + k] > 1) return true;
  return false;
}

function segmentation(ctx: ModelContext, imageId: string, name: string, output: Tensor): TaskOutputsView {
  const [, classes, height, width] = output.dims;
  const plane = height * width;
  const data = output.data as Float32Array;
  const classIds = new Array<number>(plane);
  const pixels = new Array<number>(classes).fill(0);
  for (let p = 0; p < plane; p++) {
    // The first maximum, as torch.argmax and the region target's predicted mask.
    let best = 0;
    for (let c = 1; c < classes; c++) if (data[c * plane + p] > data[best * plane + p]) best = c;
    classIds[p] = best;
    pixels[best]++;
  }
  const labels = classNames(ctx, classes);
  const views: SegmentClassView[] = labels.map((label, index) => ({ index, label, pixels: pixels[index], share: pixels[index] / plane }));
  return {
    kind: 'segmentation',
    imageId,
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
  imageId: string,
  outputs: Record<string, Tensor>,
  found: { output: string; boxes?: string; ownNms: boolean },
  input: Tensor,
  options: { iou?: number; minScore?: number },
): TaskOutputsView {
  const output = outputs[found.output];
  const boxes = found.boxes ? outputs[found.boxes] : undefined;
  const row = output.data as Float32Array;
  const probe = detectionHead(output.dims, boxes?.dims, false);
  if (typeof probe === 'string') return { kind: 'none', imageId, note: probe };
  const sigmoid = probe.layout === 'yolo' ? headGivesLogits(row, probe) : Array.from(row).some((v) => v < 0 || v > 1);
  const head = { ...probe, sigmoid };
  const iou = options.iou ?? DEFAULT_IOU;
  const minScore = options.minScore ?? DEFAULT_MIN_SCORE;
  const kept = nonMaxSuppression(decodeDetections(row, head, minScore, boxes?.data as Float32Array | undefined), iou);
  const labels = classNames(ctx, head.classes);
  const detections: DetectionView[] = kept.map((d, index) => ({ index, class: d.class, label: labels[d.class], score: d.score, box: d.box }));
  const notes = [
    `${kept.length} boxes scoring ${minScore} or more after per-class NMS at IoU ${iou}, from ${head.boxes} candidates of ${found.boxes ? `'${found.output}' with boxes '${found.boxes}'` : `'${found.output}'`}`,
  ];
  if (sigmoid) notes.push('the head gives logits: σ is applied to objectness and class scores');
  if (found.ownNms) notes.push(`the model runs its own NMS; ConvLens decodes and explains its raw head '${found.output}' before it, since no gradient passes the selection`);
  notes.push('a box explained by a perturbation method is re-matched in every perturbed run (IoU > 0.5, same class), as pytorch-grad-cam’s FasterRCNNBoxScoreTarget');
  const [height, width] = input.dims.slice(-2);
  return { kind: 'detection', imageId, output: found.output, boxes: found.boxes, sigmoid, iou, minScore, space: [width, height], detections, ownNms: found.ownNms, notes };
}

export function taskJobs(state: WorkerState): JobHandlers<'taskOutputs'> {
  return {
    async taskOutputs({ modelPath, imageId, iou, minScore }, job) {
      const ctx = state.contextFor(modelPath);
      const input = state.imageFor(imageId).tensor;
      job.progress(0, 'running the model');
      const head = await rawHeadBeforeNms(ctx.model);
      const outputs = await ctx.model.run(ctx.feeds(input), head ? [head] : []);
      if (head) return detection(ctx, imageId, outputs, { output: head, ownNms: true }, input, { iou, minScore });
      const declared = ctx.model.summary().outputs.map((o) => o.name);
      for (const name of declared) {
        const dims = outputs[name]?.dims;
        if (!dims || dims[0] !== 1 || outputs[name].dtype !== 'float32') continue;
        if (dims.length === 4 && dims[1] >= 2 && dims[2] * dims[3] > 1) return segmentation(ctx, imageId, name, outputs[name]);
        if (dims.length === 3 && dims[2] >= 6) return detection(ctx, imageId, outputs, { output: name, ownNms: false }, input, { iou, minScore });
        // SSD style: a scores output [1, B, C] beside a boxes output [1, B, 4].
        const boxes = declared.find((b) => b !== name && outputs[b]?.dims.length === 3 && outputs[b].dims[1] === dims[1] && outputs[b].dims[2] === 4);
        if (dims.length === 3 && dims[2] !== 4 && boxes) return detection(ctx, imageId, outputs, { output: name, boxes, ownNms: false }, input, { iou, minScore });
      }
      const shapes = declared.map((n) => `'${n}' [${outputs[n]?.dims.join(', ')}]`).join(', ');
      return {
        kind: 'none',
        imageId,
        note: `no segmentation output [1, C, H, W] or detection head [1, boxes, 4 + 1 + C] (or boxes [1, B, 4] with scores [1, B, C]) among the outputs: ${shapes}`,
      };
    },
  };
}
