// Attention maps of self-attention models (ViT-style and CNN–Transformer hybrids) read out of the
// ONNX graph, and attention rollout.
//
// Finding attention: scaled dot-product attention (Vaswani et al. 2017) is
//   P = softmax(Q Kᵀ / √d + mask),  out = P V
// which exporters write as MatMul(Q, Transpose(K)) → Div or Mul (scale) → [Add (mask)] → Softmax
// over the last axis → MatMul(P, V). A Softmax is taken as attention when, walking back from its
// input through scale/mask ops (Div, Mul, Add, Sub, Where, Cast, Identity), we reach a MatMul whose
// two inputs are both computed (not weights: that is a Linear layer), and its output is
// [B, heads, T, T] or [B·heads, T, T] (self-attention: square over tokens). P is then exposed as an
// extra output (surgery.exposeOutputs through ConvModel.run).
//
// Tokens: T = prefix + rows·cols, where the prefix (CLS, distillation token) is 0–2 tokens and
// rows/cols follow the input's aspect ratio; the CLS token's row of P is the map usually shown.
//
// Rollout (Abnar & Zuidema, "Quantifying Attention Flow in Transformers", ACL 2020; as implemented
// in jacobgil/vit-explain without head discarding): per layer l fuse the heads (mean, max or min),
//   Â_l = rownorm(fuse_h(P_l) + I),   R = Â_L · … · Â_1
// (the identity stands for the residual connection). R[0, prefix:] is the CLS token's attention to
// the patches after all layers.
import { ConvModel, concreteInputDims } from '../model';
import { indexGraph, nodeLabel, topologicalOrder } from '../onnx/graph';
import { GraphProto, NodeProto } from '../onnx/proto';
import { FloatTensor, Tensor, float32 } from '../tensor';

export class AttentionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AttentionError';
  }
}

export interface AttentionLayer {
  /** The Softmax output holding the probabilities. */
  tensor: string;
  node: string;
  /** Shape as probed at the declared batch (1 when symbolic): [B, heads, T, T] or [B·heads, T, T]. */
  dims: number[];
  heads: number;
  tokens: number;
  /** 'bhtt': [B, heads, T, T]; 'flat': [B·heads, T, T]. */
  layout: 'bhtt' | 'flat';
}

export interface TokenGrid {
  /** Tokens before the patches (CLS and the like). */
  prefix: number;
  rows: number;
  cols: number;
}

export interface LayerAttention {
  layer: AttentionLayer;
  /** Probabilities of the first image, [heads, T, T]; rows are queries and sum to 1. */
  probabilities: FloatTensor;
}

const SCORE_OPS = new Set(['Div', 'Mul', 'Add', 'Sub', 'Where', 'Cast', 'Identity']);

function isComputed(name: string, producer: Map<string, NodeProto>, initializers: Set<string>): boolean {
  const node = producer.get(name);
  return !initializers.has(name) && node !== undefined && node.op_type !== 'Constant';
}

/** The MatMul producing Q Kᵀ behind a Softmax, following scale and mask ops back (at most `depth` of them). */
function scoreMatMul(name: string, producer: Map<string, NodeProto>, initializers: Set<string>, depth = 6): NodeProto | undefined {
  const node = producer.get(name);
  if (!node || depth < 0) return undefined;
  if (node.op_type === 'MatMul') {
    return node.input.every((i) => isComputed(i, producer, initializers)) ? node : undefined;
  }
  if (!SCORE_OPS.has(node.op_type)) return undefined;
  for (const input of node.input) {
    if (!input || !isComputed(input, producer, initializers)) continue;
    const found = scoreMatMul(input, producer, initializers, depth - 1);
    if (found) return found;
  }
  return undefined;
}

function softmaxOnLastAxis(node: NodeProto, rank: number): boolean {
  const axis = node.attribute?.find((a) => a.name === 'axis');
  const value = axis?.i !== undefined ? Number(axis.i) : -1;
  return value === -1 || value === rank - 1;
}

/** Softmax nodes that are attention probabilities, in execution order, with their probed shapes. */
export function findAttention(graph: GraphProto, shapes: Map<string, number[]>): AttentionLayer[] {
  const { producer, initializers, graphInputs } = indexGraph(graph);
  const batch = shapes.get(graphInputs[0])?.[0] ?? 1;
  const layers: AttentionLayer[] = [];
  for (const node of topologicalOrder(graph)) {
    if (node.op_type !== 'Softmax') continue;
    const dims = shapes.get(node.output[0]);
    if (!dims || (dims.length !== 3 && dims.length !== 4)) continue;
    const tokens = dims[dims.length - 1];
    if (dims[dims.length - 2] !== tokens || !softmaxOnLastAxis(node, dims.length)) continue;
    if (!scoreMatMul(node.input[0], producer, initializers)) continue;
    const layout = dims.length === 4 ? 'bhtt' : 'flat';
    layers.push({ tensor: node.output[0], node: nodeLabel(node), dims, heads: layout === 'bhtt' ? dims[1] : dims[0] / batch, tokens, layout });
  }
  return layers;
}

/** Attention layers of a loaded model (shapes probed at batch 1); an empty list when it has none. */
export async function attentionLayers(model: ConvModel): Promise<AttentionLayer[]> {
  const shapes = new Map(await model.probeShapes());
  shapes.set(model.input.name, concreteInputDims(model.input.shape));
  return findAttention(model.graph, shapes);
}

/**
 * How T tokens lay out: a prefix of 0–2 tokens, then a rows × cols grid with the input's aspect
 * ratio (inputSize [H, W]); the smallest prefix that fits wins.
 */
export function tokenGrid(tokens: number, inputSize: [number, number]): TokenGrid {
  const aspect = inputSize[0] / inputSize[1];
  for (let prefix = 0; prefix <= 2; prefix++) {
    const patches = tokens - prefix;
    const rows = Math.round(Math.sqrt(patches * aspect));
    if (rows > 0 && patches % rows === 0 && Math.abs(rows / (patches / rows) - aspect) < 1e-6) return { prefix, rows, cols: patches / rows };
  }
  throw new AttentionError(`${tokens} tokens do not form a grid with the input's aspect ratio ${inputSize[0]}:${inputSize[1]} after 0–2 prefix tokens`);
}

/**
 * Why a model (called `name`) shows no attention maps: none found, or its attention is fused into
 * single nodes (onnxruntime's Attention/MultiHeadAttention contrib ops, ONNX Attention), which
 * compute the probabilities internally and never output them.
 */
export function noAttentionReason(graph: GraphProto, name: string): string {
  const fused = graph.node.filter((n) => n.op_type.endsWith('Attention'));
  if (fused.length === 0) return `${name} has no self-attention: no Softmax over a product of queries and keys was found in its graph`;
  const ops = [...new Set(fused.map((n) => (n.domain ? `${n.domain}.${n.op_type}` : n.op_type)))].join(', ');
  return `${name} computes its attention inside ${fused.length} fused node${fused.length === 1 ? '' : 's'} (${ops}, e.g. '${nodeLabel(fused[0])}'), which do not output their attention weights; export the model without attention fusion to see them`;
}

/** The attention probabilities of every attention layer (or the named ones) for one image [1, C, H, W]. */
export async function attentionMaps(model: ConvModel, input: Tensor, options: { layers?: string[] } = {}): Promise<LayerAttention[]> {
  const found = await attentionLayers(model);
  if (found.length === 0) throw new AttentionError(noAttentionReason(model.graph, 'the model'));
  const chosen = options.layers ? options.layers.map((name) => layerNamed(found, name)) : found;
  const outputs = await model.run(
    { [model.input.name]: input },
    chosen.map((l) => l.tensor),
  );
  return chosen.map((layer) => ({ layer, probabilities: firstImage(outputs[layer.tensor], layer, input.dims[0]) }));
}

function layerNamed(layers: AttentionLayer[], name: string): AttentionLayer {
  const layer = layers.find((l) => l.tensor === name || l.node === name);
  if (!layer) throw new AttentionError(`'${name}' is not an attention layer; the model's are ${layers.map((l) => `'${l.tensor}'`).join(', ')}`);
  return layer;
}

function firstImage(t: Tensor, layer: AttentionLayer, batch: number): FloatTensor {
  const tokens = layer.tokens;
  const heads = layer.layout === 'bhtt' ? t.dims[1] : t.dims[0] / batch;
  const size = heads * tokens * tokens;
  return float32([heads, tokens, tokens], (t.data as Float32Array).slice(0, size));
}

export type HeadFusion = 'mean' | 'max' | 'min';

/** fuse_h P[h] for probabilities [heads, T, T] → [T, T]. */
export function fuseHeads(probabilities: FloatTensor, fusion: HeadFusion): Float64Array {
  const [heads, t] = probabilities.dims;
  const out = new Float64Array(t * t);
  const p = probabilities.data;
  for (let i = 0; i < t * t; i++) {
    let acc = fusion === 'mean' ? 0 : p[i];
    for (let h = 0; h < heads; h++) {
      const v = p[h * t * t + i];
      acc = fusion === 'mean' ? acc + v / heads : fusion === 'max' ? Math.max(acc, v) : Math.min(acc, v);
    }
    out[i] = acc;
  }
  return out;
}

/** Attention rollout R = Â_L · … · Â_1 with Â_l = rownorm(fuse(P_l) + I), [T, T]. */
export function attentionRollout(layers: FloatTensor[], fusion: HeadFusion = 'mean'): FloatTensor {
  if (layers.length === 0) throw new AttentionError('attention rollout needs at least one attention layer');
  const t = layers[0].dims[1];
  if (layers.some((l) => l.dims[1] !== t || l.dims[2] !== t)) throw new AttentionError('attention rollout needs every layer to attend over the same tokens');
  let result: Float64Array | undefined;
  for (const layer of layers) {
    const a = fuseHeads(layer, fusion);
    for (let i = 0; i < t; i++) {
      a[i * t + i] += 1;
      let sum = 0;
      for (let j = 0; j < t; j++) sum += a[i * t + j];
      for (let j = 0; j < t; j++) a[i * t + j] /= sum;
    }
    result = result ? matmul(a, result, t) : a;
  }
  return float32([t, t], Float32Array.from(result!));
}

function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += aik * b[k * n + j];
    }
  }
  return out;
}

/**
 * Attention over the patch grid, [rows, cols]: one query token's row (default token 0, the CLS
 * token when there is one) or the mean of all query rows ('mean', for models without CLS), from a
 * [T, T] matrix (rollout or fused heads) or from probabilities [heads, T, T] with a head index.
 */
export function queryMap(matrix: FloatTensor, grid: TokenGrid, options: { head?: number; query?: number | 'mean' } = {}): FloatTensor {
  const t = matrix.dims[matrix.dims.length - 1];
  const head = matrix.dims.length === 3 ? (options.head ?? 0) : 0;
  if (matrix.dims.length === 3 && (head < 0 || head >= matrix.dims[0])) throw new AttentionError(`head ${head} does not exist; the layer has ${matrix.dims[0]} heads`);
  const query = options.query ?? 0;
  if (query !== 'mean' && (query < 0 || query >= t || !Number.isInteger(query))) throw new AttentionError(`query token ${query} does not exist; there are ${t} tokens`);
  const rows = query === 'mean' ? Array.from({ length: t }, (_, q) => q) : [query];
  const out = float32([grid.rows, grid.cols]);
  for (const q of rows) {
    const start = (head * t + q) * t + grid.prefix;
    for (let i = 0; i < out.data.length; i++) out.data[i] += matrix.data[start + i] / rows.length;
  }
  return out;
}
