// Ablation-CAM (Desai & Ramaswamy, WACV 2020): each channel of the layer is ablated in turn and the
// relative drop of the target's score weights it.
//   w_k = (y − y_k) / y,   y_k = score with channel k ablated,   L = Σ_k w_k A_k
// Reference implementation: pytorch-grad-cam AblationCAM + AblationLayer (ratio_channels_to_ablate
// 1.0): the ablated channel is set to 0 when the activation's minimum is 0, else to min − 1e7 (its
// own deviation from the paper; pytorch-grad-cam lowers that value further for each later row of a
// batch, here every row uses min − 1e7); y is the raw output (logit). Only the network after the
// layer runs for the ablations: a sub-model whose input is the layer's tensor. A channel of a tokens
// or channels-last layer is the channel of its canonical view (./layout.ts): a class token is left as it is.
import { run } from '../onnx/session';
import { Tensor, sizeOf } from '../tensor';
import { camExplanation, camSetup, camShape, planCam, weightedChannelSum } from './cam-common';
import { LayerView, toCanonical } from './layout';
import { inBatches } from './forward';
import { SubModel, modelAfter } from './submodel';
import { perturbedScores, resolveTop, targetScores } from './target';
import { ExplainContext, ExplanationMethod, ResolvedTarget } from './types';

export type AblationCamOptions = { batch: number };

/** The value an ablated channel takes: 0 for non-negative activations, else min − 1e7. */
export function ablationValue(activations: Float32Array): number {
  let min = Infinity;
  for (const v of activations) min = Math.min(min, v);
  return min === 0 ? 0 : min - 1e7;
}

/** Tiles a tensor of batch 1 to `batch` rows; tensors without a batch dimension pass as they are. */
function tiled(t: Tensor, batch: number): Tensor {
  if (batch === 1 || t.dims.length < 2 || t.dims[0] !== 1) return t;
  const data = new (t.data.constructor as Float32ArrayConstructor)(t.data.length * batch);
  for (let b = 0; b < batch; b++) data.set(t.data as Float32Array, b * t.data.length);
  return { dtype: t.dtype, dims: [batch, ...t.dims.slice(1)], data };
}

/** Scores of the ablated activations (the layer's own layout), run through the sub-model after the layer. */
async function ablatedScores(
  ctx: ExplainContext,
  target: ResolvedTarget,
  sub: SubModel,
  activations: Tensor,
  view: LayerView,
  extras: Record<string, Tensor>,
  requestedBatch: number,
  notes: string[],
): Promise<Float64Array> {
  const canonical = toCanonical(view, activations);
  const { c, plane } = camShape(canonical);
  const a = activations.data as Float32Array;
  const value = ablationValue(canonical.data as Float32Array);
  const sample = sizeOf(activations.dims.slice(1));
  const gather = view.gather;
  const session = await ctx.model.session(`after:${sub.input}>${[target.output, ...sub.alsoOutputs].join('+')}`, () => sub.proto);
  // One row per entry of `channels`: the activations with that channel ablated, or unablated for null.
  const feedsFor = (channels: (number | null)[]): Record<string, Tensor> => {
    const size = channels.length;
    const data = new Float32Array(size * sample);
    channels.forEach((k, j) => {
      data.set(a, j * sample);
      if (k === null) return;
      const channel = k * plane;
      if (gather) for (let i = channel; i < channel + plane; i++) data[j * sample + gather[i]] = value;
      else data.fill(value, j * sample + channel, j * sample + channel + plane);
    });
    const feeds: Record<string, Tensor> = { [sub.input]: { dtype: 'float32', dims: [size, ...activations.dims.slice(1)], data } };
    for (const name of sub.extraInputs) feeds[name] = tiled(extras[name], size);
    return feeds;
  };
  // A box target is re-matched in each ablated run (perturbedScores) against the boxes of that run:
  // a separate boxes output computed after the layer comes out of the sub-model with the scores
  // (modelAfter's `also`); one the layer does not feed is the same in every run, the unablated one.
  const boxesName = target.kind === 'box' ? target.detection?.boxes : undefined;
  const fixedBoxes = boxesName && !sub.alsoOutputs.includes(boxesName) ? boxesName : undefined;
  if (fixedBoxes) notes.push(`box re-matched against the '${fixedBoxes}' boxes, which the layer does not feed (the same in every ablated run)`);
  else if (boxesName) notes.push(`box re-matched against each ablated run's own '${boxesName}' boxes`);
  const scoreOf = async (feeds: Record<string, Tensor>) => {
    const outputs = await run(session, feeds, [target.output, ...sub.alsoOutputs]);
    if (fixedBoxes) outputs[fixedBoxes] = tiled(extras[fixedBoxes], outputs[target.output].dims[0]);
    return perturbedScores(outputs, target, 'logit');
  };
  let batch = Math.max(1, requestedBatch);
  // The unablated activations' score through the same sub-model: the score of every channel that
  // ablating leaves as it is (already at the ablation value everywhere, e.g. a dead ReLU channel).
  let unablated: number | undefined;
  if (batch > 1) {
    // Whether the sub-model takes a batch is known only by running it (a Reshape can pin it).
    try {
      unablated = (await scoreOf(feedsFor([null, null])))[0];
    } catch {
      batch = 1;
      notes.push('the network after the layer does not take a batch: ablations ran one at a time');
    }
  }
  unablated ??= (await scoreOf(feedsFor([null])))[0];
  // Read in the canonical [C, plane] layout, where channel k's values are contiguous.
  const canonicalData = canonical.data as Float32Array;
  const unchanged = (k: number) => canonicalData.subarray(k * plane, (k + 1) * plane).every((v) => v === value);
  const ablated = Array.from({ length: c }, (_, k) => k).filter((k) => !unchanged(k));
  const scores = new Float64Array(c).fill(unablated);
  if (ablated.length < c) notes.push(`${c - ablated.length} channels already at the ablation value: their score is the unablated one, not run again`);
  await inBatches(ablated.length, batch, ctx, 'ablationcam: ablated channels', async (start, size) => {
    const channels = ablated.slice(start, start + size);
    const rowScores = await scoreOf(feedsFor(channels));
    channels.forEach((k, j) => (scores[k] = rowScores[j]));
  });
  return scores;
}

export const ablationCam: ExplanationMethod<AblationCamOptions> = {
  name: 'ablationcam',
  title: 'Ablation-CAM',
  kind: 'cam',
  needsGradients: false,
  usesLayer: true,
  formula: 'L = Σ_k ((y − y_k) / y) A_k,  y_k: score with channel k ablated',
  reference: 'Desai & Ramaswamy 2020 (WACV); pytorch-grad-cam AblationCAM',
  options: [{ name: 'batch', type: 'int', default: 64, min: 1, description: 'ablated activations per run of the network after the layer' }],
  async explain(ctx, options) {
    const cam = await planCam(ctx);
    const { layer } = cam;
    // A separate boxes output is computed after the layer too, where the layer feeds it.
    const boxes = cam.plan.target.kind === 'box' ? cam.plan.target.detection?.boxes : undefined;
    const sub = modelAfter(ctx.model.proto, layer.tensor, cam.plan.target.output, layer.dims, boxes ? [boxes] : []);
    const computed = sub.extraInputs.filter((n) => n !== ctx.model.input.name);
    const full = await ctx.model.run({ [ctx.model.input.name]: ctx.input }, [layer.tensor, ...computed]);
    const setup = camSetup(cam, resolveTop(cam.plan.target, full[cam.plan.target.output]));
    const { target } = setup;
    const extras: Record<string, Tensor> = { ...full, [ctx.model.input.name]: ctx.input };
    const activations = toCanonical(layer.view, full[layer.tensor]);
    const original = targetScores(full[target.output], target, 'logit')[0];
    const notes = [
      `${camShape(activations).c} ablations run through the ${sub.nodeCount} nodes after the layer${sub.extraInputs.length ? `, with ${sub.extraInputs.map((n) => `'${n}'`).join(', ')} fed from the full model` : ''}`,
      `ablated channels set to ${ablationValue(activations.data as Float32Array) === 0 ? '0 (the activation minimum)' : 'the activation minimum − 1e7'}`,
    ];
    const scores = await ablatedScores(ctx, target, sub, full[layer.tensor], layer.view, extras, options.batch, notes);
    const weights = scores.map((s) => (original - s) / original);
    return camExplanation('ablationcam', ctx, setup, weightedChannelSum(activations, weights), notes);
  },
};
