// Score-CAM (Wang et al., 2020, arXiv:1910.01279): each activation channel, upsampled and scaled to
// [0, 1], masks the input; the target's score for each masked input, softmaxed over channels,
// weights the channels.
//   H_k = norm(up(A_k)),  s_k = y(X ∘ H_k),  w = softmax(s),  L = Σ_k w_k A_k
// Reference implementation: pytorch-grad-cam ScoreCAM.get_cam_weights — up = bilinear with
// align_corners=True (torch UpsamplingBilinear2d; linear / trilinear for 1-D / 3-D layers), norm = (x − min) / (max − min + 1e-8), s = the
// target's raw output (the logit, not a probability), softmax over channels. One forward pass per
// distinct mask (channels with identical masks, e.g. dead or constant ones, share their score), in
// batches as large as the activation limit allows.
import * as crypto from 'crypto';
import { resizeBilinearAlignCorners, resizeLinear } from '../image/resize';
import { Tensor, sizeOf } from '../tensor';
import { camExplanation, camShape, runAtLayer, weightedChannelSum } from './cam-common';
import { scoreVariants } from './forward';
import { ExplainContext, ExplanationMethod, ResolvedTarget } from './types';

export interface ScoreCamOptions {
  batch: number;
}

/** The channel mask H_k at the input's spatial size `out` (1-D and 3-D: linear / trilinear, align_corners=True). */
export function scoreCamMask(activations: Tensor, k: number, out: number[]): Float32Array {
  const { spatial, plane } = camShape(activations);
  const channel = (activations.data as Float32Array).subarray(k * plane, (k + 1) * plane);
  const up = spatial.length === 2 ? resizeBilinearAlignCorners(channel, spatial[0], spatial[1], out[0], out[1]) : resizeLinear(channel, spatial, out, true);
  // Math.min and Math.max over the map, NaN included (a NaN anywhere makes both NaN), as plain
  // comparisons: the iterator and the calls took a third of squeezenet1_1's Score-CAM besides its
  // forward passes (1.1 ms a mask).
  let min = Infinity;
  let max = -Infinity;
  let nan = false;
  for (let i = 0; i < up.length; i++) {
    const v = up[i];
    if (v < min) min = v;
    if (v > max) max = v;
    if (v !== v) nan = true;
  }
  if (nan) min = max = NaN;
  const range = max - min + 1e-8;
  for (let i = 0; i < up.length; i++) up[i] = (up[i] - min) / range;
  return up;
}

export function softmax(values: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i]);
  const out = Float64Array.from(values as ArrayLike<number>, (v) => Math.exp(v - max));
  const sum = out.reduce((a, b) => a + b, 0);
  return out.map((v) => v / sum);
}

/**
 * softmax over channels of the target's score on each channel's masked input; `passes`: forward
 * passes run. Channels with identical activations make identical masks, masked inputs and scores
 * (dead ReLU channels, all zero, are the common case), so each distinct channel is a candidate;
 * different channels can still share a mask H_k, bit for bit, e.g. constant ones, which min-max
 * scaling makes all zero wherever upsampling keeps them constant. Each candidate's mask is computed
 * once, as its masked input is written, and told apart from the earlier masks by its SHA-256 (a
 * collision being out of reach): a mask seen before takes that channel's score without a pass.
 */
export async function scoreCamWeights(ctx: ExplainContext, target: ResolvedTarget, activations: Tensor, batch: number): Promise<{ weights: Float64Array; passes: number }> {
  const [, channels, ...spatial] = ctx.input.dims;
  const input = ctx.input.data as Float32Array;
  const plane = sizeOf(spatial);
  const byChannel = distinctChannels(activations);
  const byMask = new Map<string, number>();
  const scores = await scoreVariants(
    ctx,
    target,
    byChannel.distinct.length,
    (j, dst) => {
      const mask = scoreCamMask(activations, byChannel.distinct[j], spatial);
      const key = crypto
        .createHash('sha256')
        .update(new Uint8Array(mask.buffer, mask.byteOffset, mask.byteLength))
        .digest('hex');
      const earlier = byMask.get(key);
      if (earlier !== undefined) return earlier;
      byMask.set(key, j);
      for (let ch = 0; ch < channels; ch++) {
        const offset = ch * plane;
        for (let i = 0; i < plane; i++) dst[offset + i] = input[offset + i] * mask[i];
      }
    },
    { batchSize: batch, score: 'logit', label: 'scorecam: masked inputs' },
  );
  return { weights: softmax(Float64Array.from(byChannel.sourceOf, (j) => scores[j])), passes: byMask.size };
}

/** Channels with identical activations, bit for bit: each distinct one's index, and each channel's place among them. */
export function distinctChannels(activations: Tensor): { distinct: number[]; sourceOf: Int32Array } {
  const { c, plane } = camShape(activations);
  const a = activations.data as Float32Array;
  const distinct: number[] = [];
  const sourceOf = new Int32Array(c);
  const byContent = new Map<string, number>();
  for (let k = 0; k < c; k++) {
    const key = Array.prototype.join.call(a.subarray(k * plane, (k + 1) * plane), ',');
    let j = byContent.get(key);
    if (j === undefined) {
      j = distinct.push(k) - 1;
      byContent.set(key, j);
    }
    sourceOf[k] = j;
  }
  return { distinct, sourceOf };
}

export const scoreCam: ExplanationMethod<ScoreCamOptions> = {
  name: 'scorecam',
  title: 'Score-CAM',
  kind: 'cam',
  needsGradients: false,
  usesLayer: true,
  formula: 'L = Σ_k softmax_k(y(X ∘ norm(up(A_k)))) A_k',
  reference: 'Wang et al. 2020 (arXiv:1910.01279); pytorch-grad-cam ScoreCAM',
  options: [{ name: 'batch', type: 'int', default: 16, min: 1, description: 'most masked inputs per forward pass (fewer where the activation memory limit needs it)' }],
  async explain(ctx, options) {
    const { setup, activations } = await runAtLayer(ctx);
    const { weights, passes } = await scoreCamWeights(ctx, setup.target, activations, options.batch);
    return camExplanation('scorecam', ctx, setup, weightedChannelSum(activations, weights), [
      `${passes} forward passes, one per distinct mask (${weights.length} channels): channels upsampled linearly along each axis (align_corners=True), min-max scaled, multiplied with the input; weights = softmax of the target logits`,
    ]);
  },
};
