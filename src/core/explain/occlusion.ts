// Occlusion (Zeiler & Fergus, 2014, arXiv:1311.2901): slide a window over the input, replace it by
// the baseline and record the drop of the target's score.
//   attr(e) = mean over windows W ∋ e of (y(x) − y(x with W set to the baseline))
// Reference implementation: Captum Occlusion (via FeatureAblation): window [C, h, w] starting at 0
// and moved by the strides; ceil((dim − window) / stride) + 1 positions per dimension, the last
// window cut off at the border; every element's sum of differences divided by how many windows
// covered it. Signals [1, C, L] and videos [1, C, T, H, W] take windows [c, l] and [c, t, h, w].
// The occluded inputs run in batches as large as the activation limit allows; a window whose
// elements already equal the baseline leaves the input as it is, so it takes y(x) without a pass.
import { Tensor, float32, mapToFloat32 } from '../tensor';
import { DisplayMode } from './postprocess';
import { attributionExplanation, baselineTensor, displayOption, setUpAttribution } from './attribution-common';
import { scoreVariants } from './forward';
import { scoreOption } from './surrogate';
import { ScoreKind } from './target';
import { ExplainError, ExplanationMethod } from './types';

export type OcclusionOptions = { window: number[]; strides: number[]; baseline: number | Tensor; batch: number; score: ScoreKind; display: DisplayMode };

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
    const scores = await scoreVariants(
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
    ]);
  },
};
