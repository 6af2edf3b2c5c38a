// Occlusion (Zeiler & Fergus, 2014, arXiv:1311.2901): slide a window over the input, replace it by
// the baseline and record the drop of the target's score.
//   attr(e) = mean over windows W ∋ e of (y(x) − y(x with W set to the baseline))
// Reference implementation: Captum Occlusion (via FeatureAblation): window [C, h, w] starting at 0
// and moved by the strides; ceil((dim − window) / stride) + 1 positions per dimension, the last
// window cut off at the border; every element's sum of differences divided by how many windows
// covered it. Signals [1, C, L] and videos [1, C, T, H, W] take windows [c, l] and [c, t, h, w].
// The occluded inputs run in batches as large as the activation limit allows; a window whose
// elements already equal the baseline leaves the input as it is, so it takes y(x) without a pass.
import { GraphProto, ModelProto } from '../onnx/proto';
import { run } from '../onnx/session';
import { Tensor, float32, mapToFloat32, sameDims, sizeOf } from '../tensor';
import { DisplayMode } from './postprocess';
import { attributionExplanation, attributionSetup, baselineTensor, displayOption } from './attribution-common';
import { batchForCount, inBatches, scoreVariants } from './forward';
import { CropChain, copyRegion, modelSegment, planChain } from './local-prefix';
import { SubModel, modelAfter } from './submodel';
import { scoreOption } from './surrogate';
import { ScoreKind, TargetPlan, checkInput, handOverOutputs, perturbedScores, planTarget, resolvePlan, resolveTop } from './target';
import { ExplainContext, ExplainError, ExplanationMethod, ResolvedTarget } from './types';

export type OcclusionOptions = { window: number[]; strides: number[]; baseline: number | Tensor; batch: number; score: ScoreKind; display: DisplayMode; crop: 'auto' | 'off' };

// Cropping pays for its sessions and its copies only where it saves more than this share of the
// operations (resnet18's chain is estimated at 71% of them on 32×32 windows of 224×224, and a
// batch of its windows took 0.63 of the whole network's time).
const CROP_WORTH = 0.85;
// Stages of a chain at most: each is a session and a copy of every window's crop.
const MAX_STAGES = 4;

/**
 * Window or strides over [C, ...spatial]: given in full, for the spatial axes only (all channels),
 * or as one size s for every spatial axis (all channels); [] = auto.
 */
export function windowShape(given: number[], dims: number[], what: string, auto: number[]): number[] {
  const [, channels, ...spatial] = dims;
  const shape = given.length === 0 ? auto : given.length === 1 ? [channels, ...spatial.map(() => given[0])] : given.length === spatial.length ? [channels, ...given] : given;
  if (shape.length !== spatial.length + 1) {
    const axes = ['l', 'h, w', 't, h, w'][spatial.length - 1];
    throw new ExplainError(`occlusion ${what} must have 1, ${spatial.length > 1 ? `${spatial.length} or ` : ''}${spatial.length + 1} numbers ([c,] ${axes}), got ${given.length}`);
  }
  return shape;
}

/** Start offsets of the windows along each dimension after the batch. */
export function windowStarts(dims: number[], window: number[], strides: number[]): number[][] {
  return dims.slice(1).map((size, i) => {
    if (window[i] > size) throw new ExplainError(`the occlusion window (${window.join('×')}) is larger than the input (${dims.slice(1).join('×')})`);
    if (size > window[i] && strides[i] > window[i]) {
      throw new ExplainError(`occlusion strides (${strides.join('×')}) must not exceed the window (${window.join('×')}), or some elements are never occluded`);
    }
    const count = Math.ceil((size - window[i]) / strides[i]) + 1;
    return Array.from({ length: count }, (_, k) => k * strides[i]);
  });
}

export const occlusion: ExplanationMethod<OcclusionOptions> = {
  name: 'occlusion',
  title: 'Occlusion',
  kind: 'perturbation',
  needsGradients: false,
  usesLayer: false,
  formula: 'attr(e) = mean over windows W ∋ e of y(x) − y(x with W := baseline)',
  reference: 'Zeiler & Fergus 2014 (arXiv:1311.2901); Captum Occlusion',
  options: [
    { name: 'window', type: 'ints', default: [], description: 'window [c,] h, w, or one side; empty: all channels × H/7 × W/7' },
    { name: 'strides', type: 'ints', default: [], description: 'strides [c,] h, w, or one value; empty: half the window' },
    { name: 'baseline', type: 'baseline', default: 0, description: 'value of occluded elements: a number or an input-shaped tensor' },
    { name: 'batch', type: 'int', default: 16, min: 1, description: 'most occluded inputs per forward pass (fewer where the activation memory limit needs it)' },
    scoreOption('logit'),
    displayOption('positive'),
    {
      name: 'crop',
      type: 'choice',
      default: 'auto',
      choices: ['auto', 'off'],
      description:
        "auto: the network's local first layers run on a crop around each window where that saves operations (the same scores); off: every window runs the whole network",
    },
  ],
  async explain(ctx, options) {
    checkInput(ctx.input);
    const plan = await planTarget(ctx.model, ctx.input, ctx.target);
    const dims = ctx.input.dims;
    const [, channels, ...spatial] = dims;
    const window = windowShape(options.window, dims, 'window', [channels, ...spatial.map((s) => Math.max(1, Math.round(s / 7)))]);
    const strides = windowShape(options.strides, dims, 'strides', [channels, ...window.slice(1).map((s) => Math.max(1, Math.floor(s / 2)))]);
    const starts = windowStarts(dims, window, strides);
    const boxes = starts.reduce<number[][]>((acc, axis) => acc.flatMap((box) => axis.map((s) => [...box, s])), [[]]);
    const x = ctx.input.data as Float32Array;
    const base = baselineTensor(ctx.input, options.baseline).data as Float32Array;
    const extent = dims.slice(1);
    // Every element of the box (cut off at the border), row-major over [C, ...spatial].
    const visit = (box: number[], f: (e: number) => void) => {
      const ends = box.map((s, a) => Math.min(s + window[a], extent[a]));
      const index = [...box];
      for (;;) {
        let e = 0;
        for (let a = 0; a < extent.length; a++) e = e * extent[a] + index[a];
        f(e);
        let a = extent.length - 1;
        while (a >= 0 && ++index[a] === ends[a]) {
          index[a] = box[a];
          a--;
        }
        if (a < 0) return;
      }
    };
    // Variant 0 is the unmodified input (its score is y(x)); variant i + 1 occludes box i, and is
    // the unmodified input again when the box is at the baseline already.
    const unchanged = boxes.map((box) => {
      let same = true;
      visit(box, (e) => (same &&= x[e] === base[e]));
      return same;
    });
    const cropped = options.crop === 'auto' ? await planCrops(ctx, plan.target, boxes, window) : undefined;
    let target: ResolvedTarget;
    let scores: Float64Array;
    if (cropped) ({ target, scores } = await croppedScores(ctx, plan.target, cropped, boxes, window, base, unchanged, options));
    else {
      target = await resolvePlan(ctx.model, ctx.input, plan, ctx.inputOutputs);
      scores = await scoreVariants(
        ctx,
        target,
        boxes.length + 1,
        (i, dst) => {
          dst.set(x);
          if (i > 0) visit(boxes[i - 1], (e) => (dst[e] = base[e]));
        },
        { batchSize: options.batch, score: options.score, label: 'occlusion: windows', sameAs: (i) => (i > 0 && unchanged[i - 1] ? 0 : undefined) },
      );
    }
    const setup = attributionSetup(target, plan.outputDims);
    const original = scores[0];
    const sum = new Float64Array(x.length);
    const count = new Float64Array(x.length);
    boxes.forEach((box, i) =>
      visit(box, (e) => {
        sum[e] += original - scores[i + 1];
        count[e]++;
      }),
    );
    const raw = float32(
      dims,
      mapToFloat32(sum, (s, e) => s / count[e]),
    );
    const skipped = unchanged.filter(Boolean).length;
    return attributionExplanation('occlusion', setup, raw, options.display, [
      `${boxes.length} windows of ${window.join('×')} with strides ${strides.join('×')}, baseline ${typeof options.baseline === 'number' ? options.baseline : 'tensor'}, score: ${options.score}`,
      ...(skipped > 0 ? [`${skipped} windows already at the baseline: their score is y(x), without a pass`] : []),
      ...(cropped ? [croppedNote(cropped)] : []),
    ]);
  },
};

interface CropPlan extends CropChain {
  /** The model the parts are cut from, and its key for their sessions. */
  proto: ModelProto;
  variant: string;
  /** The network after the chain's last cut. */
  rest: SubModel;
}

/**
 * The chain of stages through the network's local first layers (local-prefix.ts) that saves the
 * most operations on these windows, where it saves enough (CROP_WORTH); undefined where none does,
 * the model has no such cut, or the target re-matches boxes (their second output is left to the
 * whole network).
 */
async function planCrops(ctx: ExplainContext, target: TargetPlan['target'], boxes: number[][], window: number[]): Promise<CropPlan | undefined> {
  const { model, input } = ctx;
  if (target.kind === 'box' || input.dims.length < 3) return undefined;
  const shapes = await model.probeShapes().catch(() => undefined);
  // The probe's shapes are those of the model's declared input size.
  if (!shapes || !sameDims(model.inputDims(), input.dims)) return undefined;
  const batched = await model.supportsBatch();
  const proto = batched ? model.batchedProto() : model.proto;
  const spatial = input.dims.slice(2);
  const windows = boxes.map((box) => ({ start: box.slice(1), extent: box.slice(1).map((s, a) => Math.min(window[a + 1], spatial[a] - s)) }));
  const chain = planChain(proto.graph as GraphProto, model.input.name, input.dims, shapes, windows, { maxStages: MAX_STAGES, worth: CROP_WORTH });
  if (!chain) return undefined;
  const last = chain.stages[chain.stages.length - 1];
  let rest: SubModel;
  try {
    rest = modelAfter(proto, last.to, target.output, last.toDims);
  } catch {
    return undefined; // the target's output does not depend on the cut
  }
  // A cut is one tensor all the rest reads, so the rest has no other input.
  if (rest.extraInputs.length > 0) return undefined;
  return { ...chain, proto, variant: batched ? model.batchVariantKey() : 'original', rest };
}

function croppedNote(plan: CropPlan): string {
  const { stages, crops, rest, fraction } = plan;
  const parts = stages.map((stage, i) => `up to '${stage.to}' on ${crops[i].size.join('×')} crops of ${i === 0 ? 'the input' : `'${stage.from}'`}`);
  return `the local first layers ran on crops around each window (${parts.join(', then ')}), the ${rest.nodeCount} nodes after them on the input's activation with the positions the window changes replaced: the same scores for about ${Math.round(fraction * 100)}% of the operations`;
}

/** A change to a whole tensor [C, ...spatial]: the box from..to (exclusive) of it takes the values of `data`, a [C, ...] tensor of `shape` whose element 0 is at `origin`. */
interface Patch {
  data: Float32Array;
  shape: number[];
  origin: number[];
  from: number[];
  to: number[];
}

/** Copies the part of `patch` inside the box of `size` at `at` (of the whole tensor) into `dst`, a tensor of `size` holding that box. */
function applyPatch(patch: Patch, dst: Float32Array, at: number[], size: number[]): void {
  const from = patch.from.map((f, a) => Math.max(f, at[a]));
  const to = patch.to.map((t, a) => Math.min(t, at[a] + size[a]));
  copyRegion(
    patch.data,
    patch.shape,
    from.map((f, a) => f - patch.origin[a]),
    dst,
    size,
    from.map((f, a) => f - at[a]),
    to.map((t, a) => t - from[a]),
  );
}

/**
 * Scores of the input (index 0) and of each box occluded (index i + 1), through the plan's chain:
 * each stage runs on the whole input's activations once and on each window's crop of its input
 * (the whole input's values there, with the positions changed before replaced), the rest on the
 * input's activation at the last cut with the positions the window changes replaced; in batches
 * as scoreVariants makes them. A 'top' target is resolved from the rest's output for the input,
 * so no session of the whole network is made (resnet18's first call without a model cache: 1.90-2.53
 * s before, 1.65-1.68 after).
 */
async function croppedScores(
  ctx: ExplainContext,
  planned: TargetPlan['target'],
  plan: CropPlan,
  boxes: number[][],
  window: number[],
  base: Float32Array,
  unchanged: boolean[],
  options: OcclusionOptions,
): Promise<{ target: ResolvedTarget; scores: Float64Array }> {
  const { model, input } = ctx;
  const { stages, crops } = plan;
  const last = stages[stages.length - 1];
  const inputShape = input.dims.slice(1);
  const sessions = await Promise.all(
    stages.map((stage) => model.session(`crop:${plan.variant}:${stage.from}>${stage.to}`, () => modelSegment(plan.proto, model.input.name, stage.from, stage.to, stage.fromDims))),
  );
  const output = planned.output;
  const rest = await model.session(`after:${last.to}:${plan.variant}>${output}`, () => plan.rest.proto);
  // The input's activations at each stage's input and at the last cut.
  const wholes: Float32Array[] = [input.data as Float32Array];
  let current: Tensor = input;
  for (const [i, stage] of stages.entries()) {
    current = (await run(sessions[i], { [stage.from]: current }, [stage.to]))[stage.to];
    if (!sameDims(current.dims, stage.toDims))
      throw new Error(`the network up to '${stage.to}' gave ${current.dims.join('×')} on the input, not the probed ${stage.toDims.join('×')}`);
    wholes.push(current.data as Float32Array);
  }
  const outputs = await run(rest, { [last.to]: current }, [output]);
  handOverOutputs(model, outputs, ctx.inputOutputs);
  const target = resolveTop(planned, outputs[output]);
  const scoresOf = async (activations: Tensor) => perturbedScores(await run(rest, { [last.to]: activations }, [output]), target, options.score);
  const scores = new Float64Array(boxes.length + 1);
  scores[0] = perturbedScores(outputs, target, options.score)[0];
  // Windows that change the last cut; the others leave the output as it is.
  const final = crops[crops.length - 1];
  const changing: number[] = [];
  boxes.forEach((_, i) => {
    if (unchanged[i] || !final.changed[i]) scores[i + 1] = scores[0];
    else changing.push(i);
  });
  const batchSize = await batchForCount(model, [1, ...inputShape], changing.length, options.batch, 1);
  const cutShape = last.toDims.slice(1);
  const cutSize = sizeOf(cutShape);
  const most = Math.min(batchSize, changing.length);
  const restBuffer = new Float32Array(most * cutSize);
  const cropShapes = stages.map((stage, s) => [stage.fromDims[1], ...crops[s].size]);
  const cropBuffers = cropShapes.map((shape) => new Float32Array(most * sizeOf(shape)));
  await inBatches(changing.length, batchSize, ctx, 'occlusion: windows', async (at, count) => {
    const chunk = changing.slice(at, at + count);
    // What each window changes in the current stage's input: first the window itself.
    let patches: Patch[] = chunk.map((i) => ({
      data: base,
      shape: inputShape,
      origin: inputShape.map(() => 0),
      from: boxes[i],
      to: boxes[i].map((s, a) => Math.min(s + window[a], inputShape[a])),
    }));
    for (const [s, stage] of stages.entries()) {
      const fromShape = stage.fromDims.slice(1);
      const cropShape = cropShapes[s];
      const cropSize = sizeOf(cropShape);
      const batch = cropBuffers[s].subarray(0, count * cropSize);
      chunk.forEach((i, j) => {
        const corner = [0, ...(crops[s].start[i] as number[])];
        const dst = batch.subarray(j * cropSize, (j + 1) * cropSize);
        copyRegion(
          wholes[s],
          fromShape,
          corner,
          dst,
          cropShape,
          corner.map(() => 0),
          cropShape,
        );
        applyPatch(patches[j], dst, corner, cropShape);
      });
      const out = (await run(sessions[s], { [stage.from]: { dtype: 'float32', dims: [count, ...cropShape], data: batch } }, [stage.to]))[stage.to];
      const outShape = out.dims.slice(1);
      const outSize = sizeOf(outShape);
      patches = chunk.map((i, j) => {
        const { first, last: end } = crops[s].changed[i] as { first: number[]; last: number[] };
        const origin = [0, ...(crops[s].start[i] as number[]).map((c, a) => c / stage.reach.stride[a])];
        if (end.some((l, a) => l - origin[a + 1] >= outShape[a + 1]))
          throw new Error(`a crop gave '${stage.to}' of ${outShape.join('×')}, too small for positions up to ${end.join(',')}`);
        return {
          data: (out.data as Float32Array).subarray(j * outSize, (j + 1) * outSize),
          shape: outShape,
          origin,
          from: [0, ...first],
          to: [outShape[0], ...end.map((l) => l + 1)],
        };
      });
    }
    chunk.forEach((_, j) => {
      const slot = restBuffer.subarray(j * cutSize, (j + 1) * cutSize);
      slot.set(wholes[stages.length]);
      applyPatch(
        patches[j],
        slot,
        cutShape.map(() => 0),
        cutShape,
      );
    });
    const batchScores = await scoresOf({ dtype: 'float32', dims: [count, ...cutShape], data: restBuffer.subarray(0, count * cutSize) });
    chunk.forEach((i, j) => (scores[i + 1] = batchScores[j]));
  });
  return { target, scores };
}
