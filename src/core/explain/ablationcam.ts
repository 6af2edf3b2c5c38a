// Ablation-CAM (Desai & Ramaswamy, WACV 2020): each channel of the layer is ablated in turn and the
// relative drop of the target's score weights it.
//   w_k = (y − y_k) / y,   y_k = score with channel k ablated,   L = Σ_k w_k A_k
// Reference implementation: pytorch-grad-cam AblationCAM + AblationLayer (ratio_channels_to_ablate
// 1.0): the ablated channel is set to 0 when the activation's minimum is 0, else to min − 1e7 (its
// own deviation from the paper; pytorch-grad-cam lowers that value further for each later row of a
// batch, here every row uses min − 1e7); y is the raw output (logit). Only the network after the
// layer runs for the ablations, and the unablated score comes from it too, so the input runs only
// through the network up to the layer: a sub-model whose input is the layer's tensor; where the layer feeds
// only a 1×1 convolution, that convolution's output updated by each ablation's rank-one change; where
// it feeds only an average over its positions (a classifier's global pooling), that average with
// the ablated channel's entry set to the ablation value.
// A channel of a tokens or channels-last layer is the channel of its canonical view (./layout.ts): a
// class token is left as it is.
import { attrInt, attrInts, indexGraph } from '../onnx/graph';
import { tensorFromProto, tensorToProto } from '../onnx/initializers';
import { DataType, GraphProto, NodeProto, TensorProto, ValueInfoProto } from '../onnx/proto';
import { cloneModel } from '../onnx/surgery';
import { run } from '../onnx/session';
import { Tensor, sizeOf } from '../tensor';
import { camExplanation, camSetup, camShape, planCam, weightedChannelSum } from './cam-common';
import { LayerView, toCanonical } from './layout';
import { inBatches } from './forward';
import { SubModel, modelAfter } from './submodel';
import { handOverOutputs, perturbedScores, resolveTop, targetScores } from './target';
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

/**
 * What runs for each ablation: the network after the layer (or after its pointwise convolution) as
 * `sub`, the session's key, and the feeds of a batch of rows: channel k ablated, or nothing for null.
 * The sub-model's extra inputs are fed by the caller.
 */
interface AblationRuns {
  sub: SubModel;
  key: string;
  feeds(channels: (number | null)[]): Record<string, Tensor>;
}

/** Rows of the layer's activations (its own layout) with channel k set to the ablation value. */
function layerRuns(sub: SubModel, activations: Tensor, view: LayerView, value: number): AblationRuns {
  const { plane } = camShape(toCanonical(view, activations));
  const a = activations.data as Float32Array;
  const sample = a.length;
  const gather = view.gather;
  return {
    sub,
    key: `after:${sub.input}`,
    feeds(channels) {
      const data = new Float32Array(channels.length * sample);
      channels.forEach((k, j) => {
        data.set(a, j * sample);
        if (k === null) return;
        const channel = j * sample + k * plane;
        if (gather) for (let i = 0; i < plane; i++) data[j * sample + gather[k * plane + i]] = value;
        else data.fill(value, channel, channel + plane);
      });
      return { [sub.input]: { dtype: 'float32', dims: [channels.length, ...activations.dims.slice(1)], data } };
    },
  };
}

/** The layer's only consumer when it is a pointwise convolution: its output and its weights [C_out, C_in]. */
interface PointwiseConsumer {
  node: NodeProto;
  output: string;
  weights: Float32Array;
  outChannels: number;
}

/**
 * The layer's only consumer, where it is a convolution with a 1×1 kernel, stride 1, no padding, one
 * group and constant weights (squeezenet's and network-in-network classifiers). Such a convolution is
 * linear in each channel: ablating channel k (value v) changes its output by the rank-one term
 * W[:, k] ⊗ (v − A_k), so the convolution need not run for each ablation.
 */
function pointwiseConsumer(graph: GraphProto, layer: string, view: LayerView, modelDir?: string): PointwiseConsumer | undefined {
  if (view.gather || (graph.output ?? []).some((o) => o.name === layer)) return undefined;
  const consumers = indexGraph(graph).consumers.get(layer) ?? [];
  if (consumers.length !== 1) return undefined;
  const [node] = consumers;
  if (node.op_type !== 'Conv' || node.input[0] !== layer || node.input.filter((i) => i === layer).length !== 1) return undefined;
  const weightProto = (graph.initializer ?? []).find((t) => t.name === node.input[1]);
  if (!weightProto) return undefined;
  const weights = tensorFromProto(weightProto, modelDir);
  const [outChannels, inChannels, ...kernel] = weights.dims;
  const spatial = view.dims.length - 2;
  const ones = (values: number[] | undefined) => (values ?? []).every((v) => v === 1);
  if (weights.dtype !== 'float32' || inChannels !== view.dims[1] || kernel.length !== spatial || !ones(kernel)) return undefined;
  if (attrInt(node, 'group', 1) !== 1 || !ones(attrInts(node, 'strides')) || !(attrInts(node, 'pads') ?? []).every((p) => p === 0)) return undefined;
  return { node, output: node.output[0], weights: weights.data as Float32Array, outChannels };
}

/** The layer's only consumer when it averages each channel over all its positions: its output and that output's dims at batch 1. */
interface PoolingConsumer {
  node: NodeProto;
  output: string;
  dims: number[];
}

/**
 * The layer's only consumer, where it is a GlobalAveragePool or a ReduceMean over every spatial axis
 * (a classifier's pooling, as torch.mean(x, [2, 3]) exports). Ablating channel k sets that channel's
 * average to the ablation value and leaves the others as they are, so the rows fed to the network
 * after it are the unablated averages with one entry changed: C values where the layer has C·H·W.
 */
function poolingConsumer(graph: GraphProto, layer: string, view: LayerView): PoolingConsumer | undefined {
  if (view.gather || (graph.output ?? []).some((o) => o.name === layer)) return undefined;
  const consumers = indexGraph(graph).consumers.get(layer) ?? [];
  if (consumers.length !== 1) return undefined;
  const [node] = consumers;
  if (node.input[0] !== layer || node.input.filter((i) => i === layer).length !== 1) return undefined;
  const rank = view.dims.length;
  const spatial = Array.from({ length: rank - 2 }, (_, i) => i + 2);
  const pooled = (keep: boolean) => ({ node, output: node.output[0], dims: keep ? [1, view.dims[1], ...spatial.map(() => 1)] : [1, view.dims[1]] });
  if (node.op_type === 'GlobalAveragePool') return pooled(true);
  if (node.op_type !== 'ReduceMean') return undefined;
  // Axes are an attribute before opset 18 and a constant input from it on.
  const axesInput = node.input[1] ? (graph.initializer ?? []).find((t) => t.name === node.input[1]) : undefined;
  if (node.input[1] && !axesInput) return undefined;
  const axes = axesInput ? constantAxes(axesInput) : attrInts(node, 'axes');
  if (!axes) return undefined;
  const normalized = [...new Set(axes.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
  if (normalized.join() !== spatial.join()) return undefined;
  return pooled(attrInt(node, 'keepdims', 1) !== 0);
}

/** A ReduceMean's constant axes input, or undefined where it cannot be read as one (then the general path runs). */
function constantAxes(t: TensorProto): number[] | undefined {
  try {
    const axes = tensorFromProto(t);
    return axes.dtype === 'int64' ? Array.from(axes.data as BigInt64Array, Number) : undefined;
  } catch {
    return undefined;
  }
}

/** Rows of the layer's per-channel averages with channel k's entry set to the ablation value (the average of a channel that holds only that value). */
function pooledRuns(sub: SubModel, pooled: Tensor, value: number): AblationRuns {
  const p = pooled.data as Float32Array;
  const c = p.length;
  return {
    sub,
    key: `after:${sub.input}:pooled`,
    feeds(channels) {
      const data = new Float32Array(channels.length * c);
      channels.forEach((k, j) => {
        data.set(p, j * c);
        if (k !== null) data[j * c + k] = value;
      });
      return { [sub.input]: { dtype: 'float32', dims: [channels.length, ...pooled.dims.slice(1)], data } };
    },
  };
}

/** Names of the rank-one front's tensors (suffixed where the model already uses one). */
type FrontNames = Record<'base' | 'columns' | 'change' | 'shape' | 'product' | 'sum', string>;

/**
 * `sub` (the network after the convolution's output z) with z computed in front of it from three
 * inputs as z + W[:, k] ⊗ (v − A_k) per row: base z [1, C_out, P], the weight columns [B, C_out, 1]
 * and the changes of the ablated channel [B, 1, P] (P positions). The runtime makes the rows from
 * inputs of a few kilobytes: written in JavaScript and copied, they took most of squeezenet's time.
 */
function rankOneFront(sub: SubModel, outChannels: number, spatial: number[]): { sub: SubModel; names: FrontNames } {
  const g = sub.proto.graph as GraphProto;
  const used = new Set([...g.node.flatMap((n) => [...n.input, ...n.output]), ...(g.initializer ?? []).map((t) => t.name), ...(g.input ?? []).map((i) => i.name)]);
  const roles = ['base', 'columns', 'change', 'shape', 'product', 'sum'] as const;
  let suffix = '';
  for (let i = 1; roles.some((role) => used.has(`ablation_${role}${suffix}`)); i++) suffix = `_${i}`;
  const names = Object.fromEntries(roles.map((role) => [role, `ablation_${role}${suffix}`])) as FrontNames;
  const plane = sizeOf(spatial);
  const info = (name: string, dims: (number | string)[]): ValueInfoProto => ({
    name,
    type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
  });
  const shape: Tensor = { dtype: 'int64', dims: [2 + spatial.length], data: BigInt64Array.from([-1, outChannels, ...spatial].map(BigInt)) };
  const proto = cloneModel(sub.proto);
  const graph = proto.graph as GraphProto;
  graph.input = [info(names.base, [1, outChannels, plane]), info(names.columns, ['batch', outChannels, 1]), info(names.change, ['batch', 1, plane]), ...(g.input ?? []).slice(1)];
  graph.initializer = [...(graph.initializer ?? []), tensorToProto(names.shape, shape)];
  graph.node = [
    { op_type: 'Mul', input: [names.columns, names.change], output: [names.product], name: names.product },
    { op_type: 'Add', input: [names.product, names.base], output: [names.sum], name: names.sum },
    { op_type: 'Reshape', input: [names.sum, names.shape], output: [sub.input], name: `${names.shape}:reshape` },
    ...g.node,
  ];
  return { sub: { ...sub, proto, nodeCount: graph.node.length }, names };
}

/** Rows of the pointwise convolution's output z with channel k of the layer ablated, made by rankOneFront. */
function pointwiseRuns(after: SubModel, conv: PointwiseConsumer, z: Tensor, activations: Tensor, value: number): AblationRuns {
  const { c, plane, spatial } = camShape(activations);
  const a = activations.data as Float32Array;
  const { sub, names } = rankOneFront(after, conv.outChannels, spatial);
  const base: Tensor = { dtype: 'float32', dims: [1, conv.outChannels, plane], data: z.data };
  return {
    sub,
    key: `after:${after.input}:rank-one`,
    feeds(channels) {
      const columns = new Float32Array(channels.length * conv.outChannels);
      const change = new Float32Array(channels.length * plane);
      channels.forEach((k, j) => {
        if (k === null) return;
        for (let o = 0; o < conv.outChannels; o++) columns[j * conv.outChannels + o] = conv.weights[o * c + k];
        for (let i = 0; i < plane; i++) change[j * plane + i] = value - a[k * plane + i];
      });
      return {
        [names.base]: base,
        [names.columns]: { dtype: 'float32', dims: [channels.length, conv.outChannels, 1], data: columns },
        [names.change]: { dtype: 'float32', dims: [channels.length, 1, plane], data: change },
      };
    },
  };
}

/** The network after the layer as it runs for the ablations: its outputs for a batch of rows (channel k ablated, or null for none). */
interface AblationHead {
  outputs(channels: (number | null)[]): Promise<Record<string, Tensor>>;
  /** Outputs read besides the target's: a separate boxes output the layer feeds. */
  alsoOutputs: string[];
}

async function ablationHead(
  ctx: ExplainContext,
  runs: AblationRuns,
  /** Which model the sub-model was cut from, for its session key (ConvModel.batchVariantKey, or 'original'). */
  variant: string,
  output: string,
  extras: Record<string, Tensor>,
): Promise<AblationHead> {
  const { sub } = runs;
  const session = await ctx.model.session(`${runs.key}:${variant}>${[output, ...sub.alsoOutputs].join('+')}`, () => sub.proto);
  return {
    alsoOutputs: sub.alsoOutputs,
    outputs(channels) {
      const feeds = runs.feeds(channels);
      for (const name of sub.extraInputs) feeds[name] = tiled(extras[name], channels.length);
      return run(session, feeds, [output, ...sub.alsoOutputs]);
    },
  };
}

/** The target's score with each channel of the canonical activations ablated (the unablated score for a channel ablating leaves as it is). */
async function ablatedScores(
  ctx: ExplainContext,
  target: ResolvedTarget,
  head: AblationHead,
  unablated: number,
  canonical: Tensor,
  value: number,
  extras: Record<string, Tensor>,
  requestedBatch: number,
  notes: string[],
): Promise<Float64Array> {
  const { c, plane } = camShape(canonical);
  // A box target is re-matched in each ablated run (perturbedScores) against the boxes of that run:
  // a separate boxes output computed after the layer comes out of the sub-model with the scores
  // (modelAfter's `also`); one the layer does not feed is the same in every run, the unablated one.
  const boxesName = target.kind === 'box' ? target.detection?.boxes : undefined;
  const fixedBoxes = boxesName && !head.alsoOutputs.includes(boxesName) ? boxesName : undefined;
  if (fixedBoxes) notes.push(`box re-matched against the '${fixedBoxes}' boxes, which the layer does not feed (the same in every ablated run)`);
  else if (boxesName) notes.push(`box re-matched against each ablated run's own '${boxesName}' boxes`);
  const scoresOf = async (channels: (number | null)[]) => {
    const outputs = await head.outputs(channels);
    if (fixedBoxes) outputs[fixedBoxes] = tiled(extras[fixedBoxes], outputs[target.output].dims[0]);
    return perturbedScores(outputs, target, 'logit');
  };
  let batch = Math.max(1, requestedBatch);
  if (batch > 1) {
    // Whether the sub-model takes a batch is known only by running it (a Reshape can pin it).
    try {
      await scoresOf([null, null]);
    } catch {
      batch = 1;
      notes.push('the network after the layer does not take a batch: ablations ran one at a time');
    }
  }
  const canonicalData = canonical.data as Float32Array;
  const unchanged = (k: number) => canonicalData.subarray(k * plane, (k + 1) * plane).every((v) => v === value);
  const ablated = Array.from({ length: c }, (_, k) => k).filter((k) => !unchanged(k));
  const scores = new Float64Array(c).fill(unablated);
  if (ablated.length < c) notes.push(`${c - ablated.length} channels already at the ablation value: their score is the unablated one, not run again`);
  await inBatches(ablated.length, batch, ctx, 'ablationcam: ablated channels', async (start, size) => {
    const channels = ablated.slice(start, start + size);
    const rowScores = await scoresOf(channels);
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
    const output = cam.plan.target.output;
    // A separate boxes output is computed after the layer too, where the layer feeds it.
    const boxes = cam.plan.target.kind === 'box' ? cam.plan.target.detection?.boxes : undefined;
    const also = boxes ? [boxes] : [];
    // A network that ends in the pointwise convolution (nothing after it to run) takes the general path.
    const graph = ctx.model.proto.graph as GraphProto;
    const found = pointwiseConsumer(graph, layer.tensor, layer.view, ctx.model.dir);
    const conv = found && found.output !== output && !also.includes(found.output) ? found : undefined;
    const averaged = conv ? undefined : poolingConsumer(graph, layer.tensor, layer.view);
    const pooling = averaged && averaged.output !== output && !also.includes(averaged.output) ? averaged : undefined;
    // The model as batches take it (Reshapes that pinned its batch freed, where the probe found them).
    const batched = await ctx.model.supportsBatch();
    const proto = batched ? ctx.model.batchedProto() : ctx.model.proto;
    const sub = conv
      ? modelAfter(proto, conv.output, output, [layer.dims[0], conv.outChannels, ...layer.dims.slice(2)], also)
      : pooling
        ? modelAfter(proto, pooling.output, output, pooling.dims, also)
        : modelAfter(proto, layer.tensor, output, layer.dims, also);
    const computed = sub.extraInputs.filter((n) => n !== ctx.model.input.name);
    const front = conv?.output ?? pooling?.output;
    // Boxes the layer does not feed are computed before it too.
    const fixedBoxes = boxes && !sub.alsoOutputs.includes(boxes) ? [boxes] : [];
    // Only the network up to the layer runs on the input, and the network after it gives the
    // unablated score: a large head (vgg11's 400 MB classifier) is loaded once, for the ablations.
    const before = await ctx.model.runUpTo({ [ctx.model.input.name]: ctx.input }, [layer.tensor, ...(front ? [front] : []), ...computed, ...fixedBoxes], { once: true });
    const extras: Record<string, Tensor> = { ...before, [ctx.model.input.name]: ctx.input };
    const activations = toCanonical(layer.view, before[layer.tensor]);
    const value = ablationValue(activations.data as Float32Array);
    const { c } = camShape(activations);
    const fedFromBefore = sub.extraInputs.length ? `, with ${sub.extraInputs.map((n) => `'${n}'`).join(', ')} fed from the network before the layer` : '';
    const notes = [
      conv
        ? `${c} ablations: the layer's only consumer '${conv.node.name || conv.output}' is a 1×1 convolution, linear in each channel, so ablating channel k adds W[:, k]·(v − A_k) to its output and only the ${sub.nodeCount} nodes after it run${fedFromBefore}`
        : pooling
          ? `${c} ablations: the layer's only consumer '${pooling.node.name || pooling.output}' averages each channel over its positions, so ablating channel k sets its average to v and only the ${sub.nodeCount} nodes after it run${fedFromBefore}`
          : `${c} ablations run through the ${sub.nodeCount} nodes after the layer${fedFromBefore}`,
      `ablated channels set to ${value === 0 ? '0 (the activation minimum)' : 'the activation minimum − 1e7'}`,
    ];
    const runs = conv
      ? pointwiseRuns(sub, conv, before[conv.output], activations, value)
      : pooling
        ? pooledRuns(sub, before[pooling.output], value)
        : layerRuns(sub, before[layer.tensor], layer.view, value);
    const head = await ablationHead(ctx, runs, batched ? ctx.model.batchVariantKey() : 'original', output, extras);
    const unablatedOutputs = await head.outputs([null]);
    for (const name of fixedBoxes) unablatedOutputs[name] = before[name];
    handOverOutputs(ctx.model, { ...before, ...unablatedOutputs }, ctx.inputOutputs);
    const setup = camSetup(cam, resolveTop(cam.plan.target, unablatedOutputs[output]));
    const { target } = setup;
    const original = targetScores(unablatedOutputs[target.output], target, 'logit')[0];
    const scores = await ablatedScores(ctx, target, head, original, activations, value, extras, options.batch, notes);
    const weights = scores.map((s) => (original - s) / original);
    return camExplanation('ablationcam', ctx, setup, weightedChannelSum(activations, weights), notes);
  },
};
