// CAM (Zhou et al., 2016, arXiv:1512.04150): for a network that ends in global average pooling and
// one linear layer, the class map is the linear layer's weights applied at every position.
//   L_c(i,j) = Σ_k W[c, k] · A_k(i,j)      (difference target: W[a, k] − W[b, k])
// W is read from the head's Gemm (or MatMul) initializer; the bias only shifts the score and is left
// out. Grad-CAM on such a network equals this map divided by h·w.
import { attrFloat, attrInt, attrInts, attrTensor, indexGraph } from '../onnx/graph';
import { tensorFromProto } from '../onnx/initializers';
import { GraphProto, NodeProto } from '../onnx/proto';
import { Tensor } from '../tensor';
import { camExplanation, runAtLayer, weightedChannelSum } from './cam-common';
import { ExplainError, ExplanationMethod, ResolvedTarget } from './types';

// Ops allowed between the pooling and the linear layer: they only reshape [1, C, 1, 1] to [1, C].
const RESHAPE_OPS = new Set(['Flatten', 'Reshape', 'Squeeze']);

export interface LinearHead {
  /** weights[c · channels + k]: class c, channel k. */
  weights: Float32Array;
  classes: number;
  channels: number;
  /** Names of the nodes from the layer to the output, for notes. */
  path: string[];
}

function constantValue(graph: GraphProto, name: string, modelDir?: string): Tensor | undefined {
  const node = graph.node.find((n) => n.op_type === 'Constant' && n.output[0] === name);
  const proto = (graph.initializer ?? []).find((t) => t.name === name) ?? (node && attrTensor(node, 'value'));
  if (!proto) return undefined;
  return tensorFromProto(proto, modelDir);
}

function onlyConsumer(consumers: Map<string, NodeProto[]>, tensor: string, what: string): NodeProto {
  const list = consumers.get(tensor) ?? [];
  if (list.length !== 1) {
    throw new ExplainError(`cam needs '${tensor}' to feed only ${what}; it feeds ${list.length === 0 ? 'nothing' : list.map((n) => n.op_type).join(', ')}`);
  }
  return list[0];
}

const NOT_LINEAR_HEAD = 'cam needs the layer to be followed by global average pooling and one linear layer (Gemm or MatMul) giving the output; use gradcam for other heads';

function isGlobalMean(graph: GraphProto, node: NodeProto, modelDir?: string): boolean {
  if (node.op_type === 'GlobalAveragePool') return true;
  if (node.op_type !== 'ReduceMean') return false;
  // Axes are an attribute up to opset 17 and an input from opset 18.
  const axesInput = node.input[1] ? constantValue(graph, node.input[1], modelDir) : undefined;
  const axes = attrInts(node, 'axes') ?? (axesInput ? Array.from(axesInput.data as BigInt64Array, Number) : []);
  const normalised = new Set(axes.map((a) => (a < 0 ? a + 4 : a)));
  return normalised.size === 2 && normalised.has(2) && normalised.has(3);
}

/** The linear head after `layer`: GlobalAveragePool → (Flatten|Reshape|Squeeze)* → Gemm|MatMul(+Add) → output. */
export function linearHead(graph: GraphProto, layer: string, output: string, channels: number, modelDir?: string): LinearHead {
  const { consumers } = indexGraph(graph);
  const pool = onlyConsumer(consumers, layer, 'a global average pooling');
  if (!isGlobalMean(graph, pool, modelDir)) throw new ExplainError(`${NOT_LINEAR_HEAD} (found ${pool.op_type} after '${layer}')`);
  const path = [pool.name || pool.op_type];
  let node = onlyConsumer(consumers, pool.output[0], 'the linear head');
  while (RESHAPE_OPS.has(node.op_type)) {
    path.push(node.name || node.op_type);
    node = onlyConsumer(consumers, node.output[0], 'the linear head');
  }
  if (node.op_type !== 'Gemm' && node.op_type !== 'MatMul') throw new ExplainError(`${NOT_LINEAR_HEAD} (found ${node.op_type})`);
  path.push(node.name || node.op_type);
  const b = constantValue(graph, node.input[1], modelDir);
  if (!b || b.dims.length !== 2) throw new ExplainError(`${NOT_LINEAR_HEAD} (the weights of '${node.name || node.op_type}' are not a constant matrix)`);
  const transB = node.op_type === 'Gemm' && attrInt(node, 'transB', 0) === 1;
  const alpha = node.op_type === 'Gemm' ? attrFloat(node, 'alpha', 1) : 1;
  if (node.op_type === 'Gemm' && attrInt(node, 'transA', 0) === 1) throw new ExplainError(`${NOT_LINEAR_HEAD} (its Gemm transposes the features)`);
  const [rows, cols] = b.dims;
  const classes = transB ? rows : cols;
  if ((transB ? cols : rows) !== channels) {
    throw new ExplainError(`the linear head has ${transB ? cols : rows} inputs but the layer has ${channels} channels`);
  }
  const data = b.data as Float32Array;
  const weights = new Float32Array(classes * channels);
  for (let c = 0; c < classes; c++) {
    for (let k = 0; k < channels; k++) weights[c * channels + k] = alpha * (transB ? data[c * channels + k] : data[k * classes + c]);
  }
  let end = node.output[0];
  const next = consumers.get(end) ?? [];
  if (node.op_type === 'MatMul' && next.length === 1 && next[0].op_type === 'Add') end = next[0].output[0];
  if (end !== output) throw new ExplainError(`${NOT_LINEAR_HEAD} (the linear layer's result '${end}' is not the output '${output}')`);
  return { weights, classes, channels, path };
}

export function classWeights(head: LinearHead, target: ResolvedTarget): Float32Array {
  const row = (c: number) => head.weights.subarray(c * head.channels, (c + 1) * head.channels);
  if (target.kind === 'class') return row(target.index);
  if (target.kind !== 'difference') {
    throw new ExplainError(`CAM weighs channels by the linear head's row of a class, which a ${target.kind} target does not have; Grad-CAM explains any target`);
  }
  const a = row(target.a);
  const b = row(target.b);
  return a.map((v, k) => v - b[k]);
}

export const cam: ExplanationMethod = {
  name: 'cam',
  title: 'CAM',
  kind: 'cam',
  needsGradients: false,
  usesLayer: true,
  formula: 'L_c = Σ_k W[c,k] A_k  (W: weights of the linear layer after global average pooling)',
  reference: 'Zhou et al. 2016 (arXiv:1512.04150)',
  options: [],
  async explain(ctx) {
    const { setup, activations } = await runAtLayer(ctx);
    const channels = setup.layer.view.dims[1];
    const head = linearHead(ctx.model.graph, setup.layer.tensor, setup.target.output, channels, ctx.model.dir);
    const raw = weightedChannelSum(activations, classWeights(head, setup.target));
    ctx.progress?.(1, 'cam: done');
    return camExplanation('cam', ctx, setup, raw, [`weights read from the head: ${head.path.join(' → ')}`]);
  },
};
