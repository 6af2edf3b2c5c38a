// Which axes of a layer's tensor are channels and which are space, so that CAMs work on one
// canonical view [N, C, ...spatial] whatever the network's layout (pytorch-grad-cam's
// reshape_transform, decided from the graph and the input's size instead of written by the user):
//   channels-first  [N, C, L], [N, C, H, W], [N, C, T, H, W]   (CNNs; the view is the tensor)
//   channels-last   [N, H, W, C] and the like                  (Swin's blocks) → permuted to [N, C, H, W]
//   tokens          [N, h·w, D]                                (a transformer without class token)
//   class token     [N, 1 + h·w, D]                            (ViT) → token 0 dropped, the rest the patch grid row-major
//                   [N, 2 + h·w, D]                            (DeiT: class and distillation tokens) → both dropped
// The input is [1, C, ...spatial] (channels first). A layout is taken only when the shape fits the
// input (a patch grid with the input's aspect ratio, spatial sizes no larger than the input's) and
// the graph does not contradict it; anything else is refused with one sentence naming the layer.
import { attrInt, attrInts, indexGraph } from '../onnx/graph';
import { tensorFromProto } from '../onnx/initializers';
import { GraphProto, NodeProto } from '../onnx/proto';
import { Tensor, formatShape, sizeOf } from '../tensor';
import { ExplainError } from './types';

export type LayoutKind = 'channels-first' | 'channels-last' | 'tokens' | 'class-token';

export interface LayerView {
  kind: LayoutKind;
  /** The canonical dims of one example: [1, C, ...spatial]. */
  dims: number[];
  /** For each element of one canonical example, its offset in the layer's example; absent: the same. */
  gather?: Int32Array;
  /** What was decided and why, for the explanation's notes. */
  note: string;
}

/** The layer's tensor (any batch) in the canonical view [N, C, ...spatial]. */
export function toCanonical(view: LayerView, t: Tensor): Tensor {
  if (!view.gather) return t;
  const n = t.dims[0];
  const sample = t.data.length / n;
  const size = view.gather.length;
  const src = t.data as Float32Array;
  const out = new Float32Array(n * size);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < size; i++) out[b * size + i] = src[b * sample + view.gather[i]];
  }
  return { dtype: 'float32', dims: [n, ...view.dims.slice(1)], data: out };
}

// Ops that treat axis 1 as the channels.
const CHANNELS_FIRST_OPS = new Set([
  'Conv',
  'ConvTranspose',
  'BatchNormalization',
  'InstanceNormalization',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'LpPool',
  'LRN',
]);
// Per-element ops through which the evidence is followed (they keep the layout).
const LAYOUT_KEEPING_OPS = new Set([
  'Relu',
  'Clip',
  'Sigmoid',
  'HardSigmoid',
  'HardSwish',
  'LeakyRelu',
  'Elu',
  'Selu',
  'Gelu',
  'Erf',
  'Tanh',
  'Identity',
  'Dropout',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Sqrt',
  'Pow',
  'Neg',
  'Abs',
  'Cast',
]);
const EVIDENCE_NODES = 24;

function axesOf(graph: GraphProto, node: NodeProto): number[] | undefined {
  const attr = attrInts(node, 'axes');
  if (attr) return attr;
  const init = node.input[1] ? (graph.initializer ?? []).find((t) => t.name === node.input[1]) : undefined;
  return init ? Array.from(tensorFromProto(init).data as BigInt64Array, Number) : undefined;
}

/** What one node says about the layout of a `rank`-D tensor it produces or consumes, if anything. */
function verdictOf(graph: GraphProto, node: NodeProto, rank: number, tensor: string, consuming: boolean): 'first' | 'last' | undefined {
  const last = (a: number) => a === -1 || a === rank - 1;
  if (CHANNELS_FIRST_OPS.has(node.op_type)) return 'first';
  if (node.op_type === 'LayerNormalization') return last(attrInt(node, 'axis', -1)) ? 'last' : undefined;
  if (node.op_type === 'ReduceMean') {
    const axes = axesOf(graph, node);
    return axes && axes.length === 1 && last(axes[0]) ? 'last' : undefined;
  }
  if (node.op_type === 'Transpose' && !consuming) {
    // A permutation that moves axis 1 last makes a channels-last tensor.
    const perm = attrInts(node, 'perm');
    return perm && perm.length === rank && perm[rank - 1] === 1 ? 'last' : undefined;
  }
  if (node.op_type === 'MatMul' && (consuming ? node.input[0] === tensor : true)) {
    // A linear layer over the last axis: x · W with a constant W, consumed (x) or produced (x · W: its last axis is W's outputs).
    const w = (graph.initializer ?? []).find((t) => t.name === node.input[1]);
    return w && w.dims?.length === 2 ? 'last' : undefined;
  }
  return undefined;
}

/**
 * Whether the graph treats the tensor's last axis or its axis 1 as the features. The evidence is
 * searched breadth-first over the tensors that share the layer's axes: those joined to it by
 * per-element ops (an Add's output and its other operand, a Relu's input), each asked of its
 * consumers and its producer. So a LayerNorm's ReduceMean is found behind its Sub and Div, and a
 * Swin block's attention or MLP output, whose only consumer is the residual Add, from the
 * LayerNorm that reads that sum.
 */
export function channelAxisFromGraph(graph: GraphProto, tensor: string, rank: number): 'first' | 'last' | undefined {
  const { producer, consumers, initializers } = indexGraph(graph);
  const queue: string[] = [tensor];
  const seenTensors = new Set<string>([tensor]);
  const seenNodes = new Set<NodeProto>();
  const follow = (names: string[]) => {
    for (const name of names) {
      if (!name || initializers.has(name) || seenTensors.has(name)) continue;
      seenTensors.add(name);
      queue.push(name);
    }
  };
  while (queue.length > 0 && seenNodes.size < EVIDENCE_NODES) {
    const t = queue.shift()!;
    const around: [NodeProto, boolean][] = (consumers.get(t) ?? []).map((n) => [n, true]);
    const made = producer.get(t);
    if (made) around.push([made, false]);
    for (const [node, consuming] of around) {
      if (seenNodes.has(node)) continue;
      seenNodes.add(node);
      const verdict = verdictOf(graph, node, rank, t, consuming);
      if (verdict) return verdict;
      if (LAYOUT_KEEPING_OPS.has(node.op_type)) follow([...node.input, ...node.output]);
    }
  }
  return undefined;
}

/** Spatial sizes that could come from the input's: none larger, and in 2-D the input's aspect ratio within a factor 2. */
function fitsInput(spatial: number[], inputSpatial: number[]): boolean {
  if (spatial.length !== inputSpatial.length || !spatial.every((s, i) => s >= 1 && s <= inputSpatial[i])) return false;
  if (spatial.length < 2) return true;
  const [h, w] = spatial.slice(-2);
  const [H, W] = inputSpatial.slice(-2);
  const ratio = H / h / (W / w);
  return ratio <= 2 && ratio >= 0.5;
}

function permutedToChannelsFirst(dims: number[]): Int32Array {
  const channels = dims[dims.length - 1];
  const positions = sizeOf(dims.slice(1, -1));
  const gather = new Int32Array(channels * positions);
  for (let c = 0; c < channels; c++) for (let p = 0; p < positions; p++) gather[c * positions + p] = p * channels + c;
  return gather;
}

/** The patch grid h × w with h·w = count and the input's aspect ratio (h : w = H : W), if any: h² = count·H/W, so at most one. */
function patchGrids(count: number, H: number, W: number): [number, number][] {
  const h = Math.round(Math.sqrt((count * H) / W));
  return h > 0 && count % h === 0 && h * W === (count / h) * H ? [[h, count / h]] : [];
}

function tokensView(layer: string, dims: number[], inputSpatial: number[], graph: GraphProto): LayerView {
  const [, tokens, features] = dims;
  const shown = `'${layer}' ${formatShape(dims)}`;
  if (inputSpatial.length !== 2)
    throw new ExplainError(`layer ${shown} is a token sequence, but the input ${formatShape(inputSpatial)} is not an image, so its tokens have no patch grid`);
  const [H, W] = inputSpatial;
  const options = [0, 1, 2].flatMap((prefix) => patchGrids(tokens - prefix, H, W).map((grid) => ({ prefix, grid })));
  if (options.length === 0) {
    throw new ExplainError(
      `layer ${shown} has ${tokens} tokens, which are not h·w patches of a grid with the input's ${H}×${W} aspect ratio after 0, 1 or 2 leading tokens; choose a layer with a spatial map`,
    );
  }
  if (options.length > 1) {
    const listed = options.map((o) => `${o.prefix ? `${o.prefix} + ` : ''}${o.grid[0]}×${o.grid[1]}`).join(' or ');
    throw new ExplainError(`layer ${shown} is ambiguous: its ${tokens} tokens could be ${listed} patches; choose a layer with a spatial map`);
  }
  if (channelAxisFromGraph(graph, layer, 3) === 'first') {
    throw new ExplainError(`layer ${shown} is used as [N, C, L] channels by the graph, not as tokens, and its length does not match the input; choose another layer`);
  }
  const {
    prefix,
    grid: [h, w],
  } = options[0];
  const gather = new Int32Array(features * h * w);
  for (let d = 0; d < features; d++) for (let p = 0; p < h * w; p++) gather[d * h * w + p] = (prefix + p) * features + d;
  const leading = prefix === 2 ? 'a class and a distillation token' : 'a class token';
  const note = prefix
    ? `read as ${leading} and ${h}×${w} patch tokens of ${features} features: the ${prefix === 2 ? 'two are' : 'class token is'} dropped and the patches, row-major, become [1, ${features}, ${h}, ${w}] (as pytorch-grad-cam's vit reshape_transform)`
    : `read as ${h}×${w} patch tokens of ${features} features, row-major, which become [1, ${features}, ${h}, ${w}]`;
  return { kind: prefix ? 'class-token' : 'tokens', dims: [1, features, h, w], gather, note };
}

/**
 * The canonical view of layer `layer` (dims at batch 1) for a model whose input is `inputDims`
 * ([1, C, ...spatial]); throws ExplainError, naming the layer, where the layout cannot be told.
 * `pooledChannelsFirst`: the layer was found as the input of a pooling over axes 2.. (layer 'auto').
 */
export function layerView(graph: GraphProto, layer: string, dims: number[], inputDims: number[], pooledChannelsFirst = false): LayerView {
  const shown = `'${layer}' ${formatShape(dims)}`;
  const inputSpatial = inputDims.slice(2);
  if (dims.length === 3 && inputSpatial.length === 2) return tokensView(layer, dims, inputSpatial, graph);
  if (dims.length !== inputDims.length || dims.length < 3 || dims.length > 5) {
    throw new ExplainError(
      `layer ${shown} cannot be laid over the input ${formatShape(inputDims)}: CAM methods need [N, C, ...spatial] with the input's spatial rank (or ViT tokens [N, (1 +) h·w, D]); choose another layer`,
    );
  }
  const spatialNames = ['L', 'H, W', 'T, H, W'][dims.length - 3];
  const channelsFirst = (): LayerView => ({ kind: 'channels-first', dims, note: `read as channels-first [N, C, ${spatialNames}]` });
  if (pooledChannelsFirst) return channelsFirst();
  const firstFits = fitsInput(dims.slice(2), inputSpatial);
  const lastFits = fitsInput(dims.slice(1, -1), inputSpatial);
  const fromGraph = channelAxisFromGraph(graph, layer, dims.length);
  const channelsLast = (): LayerView => ({
    kind: 'channels-last',
    dims: [1, dims[dims.length - 1], ...dims.slice(1, -1)],
    gather: permutedToChannelsFirst(dims),
    note: `read as channels-last [N, ${spatialNames}, C] (${fromGraph === 'last' ? 'the graph normalises or projects its last axis' : 'only that reading fits the input'}) and permuted to ${formatShape([1, dims[dims.length - 1], ...dims.slice(1, -1)])}`,
  });
  if (fromGraph === 'last') {
    if (lastFits) return channelsLast();
    throw new ExplainError(
      `layer ${shown} is channels-last in the graph, but its spatial sizes ${formatShape(dims.slice(1, -1))} do not fit the input ${formatShape(inputSpatial)}; choose another layer`,
    );
  }
  if (fromGraph === 'first') {
    if (firstFits) return channelsFirst();
    throw new ExplainError(
      `layer ${shown} is channels-first in the graph, but its spatial sizes ${formatShape(dims.slice(2))} do not fit the input ${formatShape(inputSpatial)}; choose another layer`,
    );
  }
  if (firstFits && !lastFits) return channelsFirst();
  if (lastFits && !firstFits) return channelsLast();
  if (firstFits)
    throw new ExplainError(`layer ${shown} could be channels-first or channels-last and the graph does not say which; choose a layer next to a convolution or a normalisation`);
  throw new ExplainError(`layer ${shown} has no spatial axes that fit the input ${formatShape(inputSpatial)}; choose another layer`);
}
