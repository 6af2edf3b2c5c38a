// The layer a CAM is computed at: a named tensor or node, or 'auto' — the last spatial activation
// before the global pooling / flatten that feeds the classification head (a 1×1 convolution that
// produces one map per class, as in SqueezeNet, counts as part of the head); in a vision transformer
// with no such map, the tokens the last attention block's projections read (its first LayerNorm's
// output: pytorch-grad-cam's choice for ViTs, blocks[-1].norm1). For a dense output (a
// segmentation's [N, classes, H, W]), which no pooling feeds, the last activation at the coarsest
// resolution on the way to it (a backbone's last block, a U-Net's bottleneck, as pytorch-grad-cam's
// segmentation tutorial takes backbone.layer4), before a 1×1 convolution that makes the class maps.
// Its layout is decided by ./layout.ts: CAMs work on the canonical view [1, C, ...spatial].
import { findAttention } from '../inside/attention';
import { attrInts, indexGraph } from '../onnx/graph';
import { GraphProto, NodeProto } from '../onnx/proto';
import { UnknownTensorError, assertTensorExists, nearNames, tensorNames } from '../onnx/surgery';
import { ConvModel, concreteInputDims } from '../model';
import { formatShape, sizeOf } from '../tensor';
import { LayerView, layerView } from './layout';
import { ExplainError } from './types';

export interface LayerChoice {
  tensor: string;
  /** The tensor's dims at batch 1, as the model has them. */
  dims: number[];
  /** The canonical [1, C, ...spatial] view of the tensor, and how it was read. */
  view: LayerView;
  note: string;
}

// Ops that collapse the spatial dimensions before a head.
const POOLING_OPS = new Set(['GlobalAveragePool', 'GlobalMaxPool', 'ReduceMean', 'ReduceMax', 'AveragePool', 'MaxPool', 'Flatten', 'Reshape']);
// Per-position ops between a class-map convolution and the pooling.
const POINTWISE_OPS = new Set(['Relu', 'Clip', 'Sigmoid', 'LeakyRelu', 'HardSigmoid', 'HardSwish', 'Dropout', 'Identity']);

function mainInput(node: NodeProto, initializers: Set<string>): string | undefined {
  return node.input.find((i) => i && !initializers.has(i));
}

/**
 * A channels-first activation of the output's batch with more than one position: [N, C, L],
 * [N, C, H, W] or [N, C, T, H, W] (a transformer's [T, N, heads, d] inside attention is not one).
 */
function isSpatial(dims: number[] | undefined, batch: number): dims is number[] {
  return !!dims && dims.length >= 3 && dims.length <= 5 && dims[0] === batch && sizeOf(dims.slice(2)) > 1;
}

/** Walks back from the output along the main inputs to the pooling that feeds the head. */
export function autoLayer(graph: GraphProto, output: string, shapes: Map<string, number[]>): Omit<LayerChoice, 'view'> {
  const { producer, initializers } = indexGraph(graph);
  const batch = shapes.get(output)?.[0] ?? 1;
  let tensor = output;
  for (let node = producer.get(tensor); node; node = producer.get(tensor)) {
    const input = mainInput(node, initializers);
    if (!input) break;
    const dims = shapes.get(input);
    if (POOLING_OPS.has(node.op_type) && isSpatial(dims, batch)) return skipClassMapConv(graph, node, input, dims, output, shapes);
    tensor = input;
  }
  throw new ExplainError(`no global pooling or flatten of a spatial activation was found before output '${output}'; name the layer to use`);
}

/**
 * The 1×1 convolution that makes `tensor`, per-position ops (activations, biases) between, with its
 * data input: the class-map convolution a CAM layer should be taken before. Undefined for any other producer.
 */
function pointwiseConv1x1(
  tensor: string,
  producer: Map<string, NodeProto>,
  initializers: Set<string>,
  shapes: Map<string, number[]>,
): { name: string; input: string; inputDims: number[] | undefined } | undefined {
  let node = producer.get(tensor);
  while (node && POINTWISE_OPS.has(node.op_type)) {
    const input = mainInput(node, initializers);
    node = input === undefined ? undefined : producer.get(input);
  }
  if (node?.op_type !== 'Conv' || !attrInts(node, 'kernel_shape')?.every((k) => k === 1)) return undefined;
  const input = mainInput(node, initializers);
  return input === undefined ? undefined : { name: node.name || node.output[0], input, inputDims: shapes.get(input) };
}

function skipClassMapConv(graph: GraphProto, pooling: NodeProto, tensor: string, dims: number[], output: string, shapes: Map<string, number[]>): Omit<LayerChoice, 'view'> {
  const { producer, initializers } = indexGraph(graph);
  const classes = sizeOf((shapes.get(output) ?? []).slice(1));
  const poolNote = `${pooling.op_type} '${pooling.name || pooling.output[0]}'`;
  const conv = pointwiseConv1x1(tensor, producer, initializers, shapes);
  if (conv && dims[1] === classes && isSpatial(conv.inputDims, dims[0])) {
    return {
      tensor: conv.input,
      dims: conv.inputDims,
      note: `layer 'auto': '${conv.input}' ${formatShape(conv.inputDims)}, the input of the 1×1 convolution '${conv.name}' that makes one map per class before ${poolNote} (the head)`,
    };
  }
  return {
    tensor,
    dims,
    note: `layer 'auto': '${tensor}' ${formatShape(dims)}, the last spatial activation before ${poolNote} that feeds the head`,
  };
}

/**
 * The 'auto' layer of a dense output [N, classes, ...spatial] of the input's rank: among the
 * channels-first activations the output's values flow from, those with the fewest positions (more
 * than one), the last in graph order; if that is a 1×1 convolution's class maps (per-position ops
 * between), its input. Walking back along first inputs instead ends in whatever pooling lies on
 * that path (a squeeze-and-excitation's), far from the map that decides the classes. Undefined for
 * any other output.
 */
export function denseAutoLayer(graph: GraphProto, output: string, shapes: Map<string, number[]>, inputRank: number): Omit<LayerChoice, 'view'> | undefined {
  const outDims = shapes.get(output);
  if (!outDims || outDims.length !== inputRank || !isSpatial(outDims, outDims[0])) return undefined;
  const { producer, initializers } = indexGraph(graph);
  const batch = outDims[0];
  const upstream = new Set<string>();
  const stack = [output];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (upstream.has(t)) continue;
    upstream.add(t);
    const node = producer.get(t);
    if (node) for (const input of dataInputs(node)) if (input && !initializers.has(input)) stack.push(input);
  }
  let best: { tensor: string; dims: number[]; positions: number } | undefined;
  for (const node of graph.node) {
    for (const tensor of node.output) {
      const dims = shapes.get(tensor);
      if (!upstream.has(tensor) || tensor === output || !isSpatial(dims, batch) || dims.length !== outDims.length) continue;
      const positions = sizeOf(dims.slice(2));
      if (!best || positions <= best.positions) best = { tensor, dims, positions };
    }
  }
  if (!best) return undefined;
  const where = `the last activation at the coarsest resolution (${best.dims.slice(2).join('×')}) that the dense output '${output}' ${formatShape(outDims)} comes from`;
  const conv = pointwiseConv1x1(best.tensor, producer, initializers, shapes);
  if (conv && best.dims[1] === outDims[1] && isSpatial(conv.inputDims, batch) && sizeOf(conv.inputDims.slice(2)) === best.positions) {
    return {
      tensor: conv.input,
      dims: conv.inputDims,
      note: `layer 'auto': '${conv.input}' ${formatShape(conv.inputDims)}, the input of the 1×1 convolution '${conv.name}' that makes the class maps, ${where}`,
    };
  }
  return { tensor: best.tensor, dims: best.dims, note: `layer 'auto': '${best.tensor}' ${formatShape(best.dims)}, ${where}` };
}

// Ops whose inputs after the first are shapes, indices or sizes, and ops that read only a shape.
const FIRST_INPUT_ONLY = new Set(['Slice', 'Reshape', 'Expand', 'Tile', 'Pad', 'Unsqueeze', 'Squeeze', 'Gather', 'Resize', 'Upsample']);
const SHAPE_ONLY = new Set(['Shape', 'Size', 'ConstantOfShape']);

/** The inputs through which a node's values (not its sizes) flow. */
function dataInputs(node: NodeProto): string[] {
  if (SHAPE_ONLY.has(node.op_type)) return [];
  return FIRST_INPUT_ONLY.has(node.op_type) ? node.input.slice(0, 1) : node.input;
}

/**
 * The tokens [1, T, D] that the last attention layer's queries and keys are projected from: searched
 * back from its Softmax, taken only behind a MatMul with a constant weight (the projection), so
 * that the projections' own outputs are passed over.
 */
export function transformerLayer(graph: GraphProto, shapes: Map<string, number[]>): Omit<LayerChoice, 'view'> | undefined {
  const last = findAttention(graph, shapes).pop();
  if (!last) return undefined;
  const { producer, initializers } = indexGraph(graph);
  const queue: [string, boolean][] = [[producer.get(last.tensor)!.input[0], false]];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const [tensor, projected] = queue.shift()!;
    if (seen.has(`${tensor}|${projected}`)) continue;
    seen.add(`${tensor}|${projected}`);
    const dims = shapes.get(tensor);
    if (projected && dims?.length === 3 && dims[0] === 1 && dims[1] === last.tokens) {
      return {
        tensor,
        dims,
        note: `layer 'auto': '${tensor}' ${formatShape(dims)}, the tokens the last attention layer ('${last.node}') projects its queries and keys from (pytorch-grad-cam's choice for vision transformers)`,
      };
    }
    const node = producer.get(tensor);
    if (!node) continue;
    const linear = (node.op_type === 'MatMul' || node.op_type === 'Gemm') && node.input.some((i) => initializers.has(i));
    for (const input of dataInputs(node)) if (input && !initializers.has(input)) queue.push([input, projected || linear]);
  }
  return undefined;
}

/**
 * The layer for a CAM: 'auto'/absent, a tensor name or a node name (its first output), with its
 * canonical view over an input of `inputDims` (default: the model's declared input at batch 1).
 */
export async function resolveLayer(model: ConvModel, layer: string | undefined, output: string, inputDims?: number[]): Promise<LayerChoice> {
  const shapes = await model.probeShapes();
  const input = inputDims ?? concreteInputDims(model.input.shape);
  const withView = (choice: Omit<LayerChoice, 'view'>, pooledChannelsFirst = false): LayerChoice => {
    const view = layerView(model.graph, choice.tensor, choice.dims, input, pooledChannelsFirst);
    return { ...choice, view, note: view.kind === 'channels-first' ? choice.note : `${choice.note}; ${view.note}` };
  };
  if (layer === undefined || layer === 'auto') {
    const dense = denseAutoLayer(model.graph, output, shapes, input.length);
    if (dense) return withView(dense, true);
    let pooled: Omit<LayerChoice, 'view'>;
    try {
      pooled = autoLayer(model.graph, output, shapes);
    } catch (err) {
      const tokens = transformerLayer(model.graph, shapes);
      if (!tokens) throw err;
      return withView(tokens);
    }
    return withView(pooled, true);
  }
  const names = tensorNames(model.graph);
  let tensor = layer;
  if (!names.has(layer)) {
    const node = model.graph.node.find((n) => n.name === layer);
    if (!node) throw new UnknownTensorError(layer, nearNames(layer, [...names, ...model.graph.node.map((n) => n.name ?? '').filter(Boolean)]));
    tensor = node.output[0];
  }
  const dims = shapes.get(tensor);
  if (!dims) throw new ExplainError(`layer '${tensor}' has no known shape; CAM methods need its activation's shape`);
  return withView({ tensor, dims, note: `layer: '${tensor}' ${formatShape(dims)}${tensor !== layer ? ` (output of node '${layer}')` : ''}` });
}

/**
 * The tensor a layer names: a tensor name as is, a node name as the node's first output, 'auto'
 * as the CAM layer (the last spatial layer before the head). Unknown names fail with near names.
 */
export async function layerTensor(model: ConvModel, layer: string): Promise<string> {
  if (layer === 'auto' || layer === '') return (await resolveLayer(model, 'auto', model.summary().outputs[0].name)).tensor;
  if (tensorNames(model.graph).has(layer)) return layer;
  const node = model.graph.node.find((n) => n.name === layer && n.output[0]);
  if (node) return node.output[0];
  assertTensorExists(model.graph, layer);
  return layer;
}
