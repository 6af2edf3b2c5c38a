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
import { attributionExplanation, baselineTensor, displayOption, setUpAttribution } from './attribution-common';
import { batchForCount, inBatches, scoreVariants } from './forward';
import { LocalCut, WindowCrop, copyRegion, croppedCostFraction, localCuts, modelToCut, windowCrops } from './local-prefix';
import { modelAfter } from './submodel';
import { scoreOption } from './surrogate';
import { ScoreKind, perturbedScores } from './target';
import { ExplainContext, ExplainError, ExplanationMethod, ResolvedTarget } from './types';

export type OcclusionOptions = { window: number[]; strides: number[]; baseline: number | Tensor; batch: number; score: ScoreKind; display: DisplayMode; crop: 'auto' | 'off' };

// Cropping pays for its second session and its copies only where it saves more than this share of
// the operations (resnet18's cut after layer1 saves about a quarter on 32×32 windows of 224×224).
const CROP_WORTH = 0.85;

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
    const setup = await setUpAttribution(ctx);
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
    const cropped = options.crop === 'auto' ? await planCrops(ctx, setup.target, boxes, window) : undefined;
    const scores = cropped
      ? await croppedScores(ctx, setup.target, cropped, boxes, window, base, unchanged, options)
      : await scoreVariants(
          ctx,
          setup.target,
          boxes.length + 1,
          (i, dst) => {
            dst.set(x);
            if (i > 0) visit(boxes[i - 1], (e) => (dst[e] = base[e]));
          },
          { batchSize: options.batch, score: options.score, label: 'occlusion: windows', sameAs: (i) => (i > 0 && unchanged[i - 1] ? 0 : undefined) },
        );
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

interface CropPlan {
  cut: LocalCut;
  /** One per box, all of `size`. */
  crops: WindowCrop[];
  size: number[];
  fraction: number;
  /** The model both parts are cut from, and its key for their sessions. */
  proto: ModelProto;
  variant: string;
  rest: ReturnType<typeof modelAfter>;
}

/**
 * The cut of the network's local first layers (local-prefix.ts) that saves the most operations on
 * these windows, where it saves enough (CROP_WORTH); undefined where none does, the model has no
 * such cut, or the target re-matches boxes (their second output is left to the whole network).
 */
async function planCrops(ctx: ExplainContext, target: ResolvedTarget, boxes: number[][], window: number[]): Promise<CropPlan | undefined> {
  const { model, input } = ctx;
  if (target.kind === 'box' || input.dims.length < 3) return undefined;
  const shapes = await model.probeShapes().catch(() => undefined);
  // The probe's shapes are those of the model's declared input size.
  if (!shapes || !sameDims(model.inputDims(), input.dims)) return undefined;
  const batched = await model.supportsBatch();
  const proto = batched ? model.batchedProto() : model.proto;
  const spatial = input.dims.slice(2);
  const windows = boxes.map((box) => ({ start: box.slice(1), extent: box.slice(1).map((s, a) => Math.min(window[a + 1], spatial[a] - s)) }));
  const ranked = localCuts(proto.graph as GraphProto, model.input.name, input.dims, shapes)
    .map((cut) => {
      const { crops, size } = windowCrops(cut, spatial, windows);
      return { cut, crops, size, fraction: croppedCostFraction(cut, spatial, crops, size) };
    })
    .filter((c) => c.fraction < CROP_WORTH)
    .sort((a, b) => a.fraction - b.fraction);
  for (const { cut, crops, size, fraction } of ranked) {
    let rest: ReturnType<typeof modelAfter>;
    try {
      rest = modelAfter(proto, cut.tensor, target.output, cut.dims);
    } catch {
      continue;
    }
    // A cut is one tensor all the rest reads, so the rest has no other input.
    if (rest.extraInputs.length > 0) continue;
    return { cut, crops, size, fraction, proto, variant: batched ? model.batchVariantKey() : 'original', rest };
  }
  return undefined;
}

function croppedNote(plan: CropPlan): string {
  const { cut, rest, size, fraction } = plan;
  const field = cut.reach.stride.map((_, a) => cut.reach.before[a] + cut.reach.after[a] + 1).join('×');
  return `the ${cut.prefixNodes} nodes up to '${cut.tensor}' (local: stride ${cut.reach.stride.join('×')}, receptive field ${field}) ran on a ${size.join('×')} crop around each window, the ${rest.nodeCount} after it on the input's activation there with the positions the window changes replaced: the same scores for about ${Math.round(fraction * 100)}% of the operations`;
}

/**
 * Scores of the input (index 0) and of each box occluded (index i + 1), through the plan's cut:
 * the prefix runs on the whole input once and on each window's crop, the rest on the input's
 * activation at the cut with the positions the window changes taken from its crop's, in batches
 * as scoreVariants makes them.
 */
async function croppedScores(
  ctx: ExplainContext,
  target: ResolvedTarget,
  plan: CropPlan,
  boxes: number[][],
  window: number[],
  base: Float32Array,
  unchanged: boolean[],
  options: OcclusionOptions,
): Promise<Float64Array> {
  const { model, input } = ctx;
  const { cut, crops } = plan;
  const x = input.data as Float32Array;
  const inputShape = input.dims.slice(1);
  const cutShape = cut.dims.slice(1);
  const [channels] = inputShape;
  const prefix = await model.session(`crop:${plan.variant}:${cut.tensor}`, () => modelToCut(plan.proto, model.input.name, cut.tensor));
  const rest = await model.session(`after:${cut.tensor}:${plan.variant}>${target.output}`, () => plan.rest.proto);
  const scoresOf = async (activations: Tensor) => perturbedScores(await run(rest, { [cut.tensor]: activations }, [target.output]), target, options.score);
  const whole = (await run(prefix, { [model.input.name]: input }, [cut.tensor]))[cut.tensor];
  if (!sameDims(whole.dims, cut.dims)) throw new Error(`the network up to '${cut.tensor}' gave ${whole.dims.join('×')} on the input, not the probed ${cut.dims.join('×')}`);
  const wholeData = whole.data as Float32Array;
  const scores = new Float64Array(boxes.length + 1);
  scores[0] = (await scoresOf(whole))[0];
  // Windows that change the cut; all their crops have one size.
  const changing: number[] = [];
  crops.forEach((crop, i) => {
    if (unchanged[i] || !crop.changed) scores[i + 1] = scores[0];
    else changing.push(i);
  });
  const batchSize = await batchForCount(model, [1, ...inputShape], changing.length, options.batch, 1);
  const cropShape = [channels, ...plan.size];
  const cropSize = sizeOf(cropShape);
  const cutSize = sizeOf(cutShape);
  const cropBuffer = new Float32Array(Math.min(batchSize, changing.length) * cropSize);
  const restBuffer = new Float32Array(Math.min(batchSize, changing.length) * cutSize);
  const origin = cropShape.map(() => 0);
  await inBatches(changing.length, batchSize, ctx, 'occlusion: windows', async (at, count) => {
    const chunk = changing.slice(at, at + count);
    chunk.forEach((i, j) => {
      const { start } = crops[i];
      const dst = cropBuffer.subarray(j * cropSize, (j + 1) * cropSize);
      copyRegion(x, inputShape, [0, ...start], dst, cropShape, origin, cropShape);
      // The occluded part of the crop: the box cut off at the input's border and at the crop's (a
      // strided layer may read no element of the box beyond the crop).
      const from = boxes[i].map((s, a) => (a === 0 ? s : Math.max(s, start[a - 1])));
      const to = boxes[i].map((s, a) => Math.min(s + window[a], a === 0 ? channels : start[a - 1] + plan.size[a - 1]));
      copyRegion(
        base,
        inputShape,
        from,
        dst,
        cropShape,
        from.map((f, a) => (a === 0 ? f : f - start[a - 1])),
        to.map((t, a) => t - from[a]),
      );
    });
    const out = (await run(prefix, { [model.input.name]: { dtype: 'float32', dims: [count, ...cropShape], data: cropBuffer.subarray(0, count * cropSize) } }, [cut.tensor]))[
      cut.tensor
    ];
    const outShape = out.dims.slice(1);
    const outSize = sizeOf(outShape);
    const outData = out.data as Float32Array;
    chunk.forEach((i, j) => {
      const { start } = crops[i];
      const { first, last } = crops[i].changed as { first: number[]; last: number[] };
      const offset = start.map((s, a) => s / cut.reach.stride[a]);
      if (last.some((l, a) => l - offset[a] >= outShape[a + 1]))
        throw new Error(`the crop at ${start.join(',')} gave '${cut.tensor}' of ${outShape.join('×')}, too small for positions up to ${last.join(',')}`);
      const slot = restBuffer.subarray(j * cutSize, (j + 1) * cutSize);
      slot.set(wholeData);
      copyRegion(
        outData.subarray(j * outSize, (j + 1) * outSize),
        outShape,
        [0, ...first.map((f, a) => f - offset[a])],
        slot,
        cutShape,
        [0, ...first],
        [cutShape[0], ...last.map((l, a) => l - first[a] + 1)],
      );
    });
    const batchScores = await scoresOf({ dtype: 'float32', dims: [count, ...cutShape], data: restBuffer.subarray(0, count * cutSize) });
    chunk.forEach((i, j) => (scores[i + 1] = batchScores[j]));
  });
  return scores;
}
