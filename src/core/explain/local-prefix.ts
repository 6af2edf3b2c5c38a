// The first layers of a CNN are local: each position of their output reads a window of the input
// (its receptive field) and nothing else. A perturbation confined to a small window of the input
// (an occlusion) changes only the positions of such a layer whose receptive field meets it, so
// the layers up to a tensor that cuts the network there can run on a crop of the input around the
// window, and the network after it on the unperturbed activation with those positions replaced:
// the same numbers with fewer operations. (Nakandala, Kumar & Papakonstantinou, "Incremental and
// Approximate Inference for Faster Occlusion-based Deep CNN Explanations", SIGMOD 2019, do this
// layer by layer inside their own engine; here it is one cut, so onnxruntime runs both parts.)
import { allInputs, attrInt, attrInts, attrString, indexGraph, topologicalOrder } from '../onnx/graph';
import { GraphProto, ModelProto, NodeProto } from '../onnx/proto';
import { modelUpTo } from '../onnx/surgery';
import { sizeOf } from '../tensor';

/**
 * Where an output position of a local tensor reads the input, per spatial axis: position o reads
 * input positions [o·stride − before, o·stride + after] (a hull: a strided 1×1 convolution skips
 * positions inside it).
 */
export interface Reach {
  stride: number[];
  before: number[];
  after: number[];
}

/** A tensor that cuts the network after a local prefix: every path from the input to the rest passes through it. */
export interface LocalCut {
  tensor: string;
  /** Its dims at batch 1 for the model's input size. */
  dims: number[];
  reach: Reach;
  /** Nodes from the input to the cut. */
  prefixNodes: number;
  /** Estimated operations of the prefix and of the rest, per input (multiply-adds of convolutions and pools, one per element elsewhere). */
  prefixCost: number;
  restCost: number;
}

// Ops that read one position of each input for each output position, with no parameter that has
// a spatial extent.
// prettier-ignore
const POINTWISE = new Set([
  'Relu', 'LeakyRelu', 'PRelu', 'Elu', 'Selu', 'Celu', 'Clip', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Softplus', 'Softsign', 'Gelu', 'Mish', 'Erf',
  'Identity', 'Dropout', 'BatchNormalization', 'Cast', 'Neg', 'Abs', 'Sqrt', 'Exp', 'Log', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Sign',
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Where',
]);

// Of those, the ones whose operands broadcast (numpy-style, aligned at the last axis): a constant
// operand must have size 1 on the spatial axes. The others' parameters are per channel or scalars.
const BROADCASTING = new Set(['PRelu', 'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Where']);

const WINDOWED = new Set(['Conv', 'MaxPool', 'AveragePool', 'LpPool']);

/**
 * Every tensor that cuts `graph` after a local prefix from `input` (at least one windowed op in
 * it), in graph order, with how its positions read the input. `shapes`: every node output's dims
 * for an input of `inputDims` (the model's probe). A prefix stops at the first op that is not local (a global pool, a
 * reshape, a resize, padding whose size follows the input's, a Concat along a spatial axis, a
 * constant operand with a spatial extent), so any model can be asked; one without such a cut gets [].
 */
export function localCuts(graph: GraphProto, input: string, inputDims: number[], shapes: Map<string, number[]>): LocalCut[] {
  if (inputDims.length < 3) return [];
  const spatial = inputDims.length - 2;
  const { consumers, initializers } = indexGraph(graph);
  const order = topologicalOrder(graph);
  const constant = new Set(initializers);
  const reach = new Map<string, Reach>([[input, { stride: Array(spatial).fill(1), before: Array(spatial).fill(0), after: Array(spatial).fill(0) }]]);
  const producedBy = new Map<string, NodeProto>();
  const dimsOf = (name: string) => (name === input ? inputDims : shapes.get(name)) ?? (graph.initializer ?? []).find((t) => t.name === name)?.dims?.map(Number);
  for (const node of order) {
    const inputs = allInputs(node).filter(Boolean);
    if (inputs.every((i) => constant.has(i))) {
      for (const o of node.output) constant.add(o);
      continue;
    }
    const r = nodeReach(node, inputs, reach, constant, dimsOf, spatial);
    if (!r) continue;
    reach.set(node.output[0], r);
    producedBy.set(node.output[0], node);
  }
  const cost = (node: NodeProto) => nodeCost(node, dimsOf);
  const totalCost = order.reduce((s, n) => s + cost(n), 0);
  // Readers of each local tensor outside the prefix decide whether it cuts: the prefix of T is T's
  // ancestors among local nodes; T cuts when no other node reads the input or a prefix tensor but T.
  const cuts: LocalCut[] = [];
  for (const [tensor, node] of producedBy) {
    const prefix = new Set<NodeProto>();
    const stack = [node];
    while (stack.length > 0) {
      const n = stack.pop() as NodeProto;
      if (prefix.has(n)) continue;
      prefix.add(n);
      for (const i of n.input) {
        const p = producedBy.get(i);
        if (p) stack.push(p);
      }
    }
    if (![...prefix].some((n) => WINDOWED.has(n.op_type))) continue;
    const produced = [input, ...[...prefix].flatMap((n) => n.output)];
    const leaks = produced.some((t) => t !== tensor && (consumers.get(t) ?? []).some((c) => !prefix.has(c)));
    const isOutput = (graph.output ?? []).some((o) => o.name !== tensor && produced.includes(o.name));
    const dims = shapes.get(tensor);
    if (leaks || isOutput || !dims || dims.length !== spatial + 2) continue;
    const prefixCost = [...prefix].reduce((s, n) => s + cost(n), 0);
    cuts.push({ tensor, dims, reach: reach.get(tensor) as Reach, prefixNodes: prefix.size, prefixCost, restCost: totalCost - prefixCost });
  }
  return cuts;
}

function nodeReach(
  node: NodeProto,
  inputs: string[],
  reach: Map<string, Reach>,
  constant: Set<string>,
  dimsOf: (name: string) => number[] | undefined,
  spatial: number,
): Reach | undefined {
  const op = node.op_type;
  if (node.domain && node.domain !== 'ai.onnx') return undefined;
  if (WINDOWED.has(op)) {
    const [x, ...params] = inputs;
    const from = reach.get(x);
    if (!from || !params.every((p) => constant.has(p)) || node.output.filter(Boolean).length !== 1) return undefined;
    const autoPad = attrString(node, 'auto_pad', 'NOTSET');
    if (autoPad !== 'NOTSET' && autoPad !== 'VALID') return undefined;
    const kernel = op === 'Conv' ? dimsOf(params[0])?.slice(2) : attrInts(node, 'kernel_shape');
    if (!kernel || kernel.length !== spatial) return undefined;
    const strides = attrInts(node, 'strides') ?? kernel.map(() => 1);
    const dilations = attrInts(node, 'dilations') ?? kernel.map(() => 1);
    const pads = autoPad === 'VALID' ? kernel.map(() => 0) : (attrInts(node, 'pads')?.slice(0, spatial) ?? kernel.map(() => 0));
    return {
      stride: from.stride.map((s, a) => s * strides[a]),
      before: from.before.map((b, a) => pads[a] * from.stride[a] + b),
      after: from.after.map((f, a) => ((kernel[a] - 1) * dilations[a] - pads[a]) * from.stride[a] + f),
    };
  }
  const outDims = dimsOf(node.output[0]);
  if (!outDims || outDims.length !== spatial + 2) return undefined;
  if (op === 'Concat') {
    const axis = attrInt(node, 'axis', 1);
    if (axis !== 1 && axis !== -(spatial + 1)) return undefined;
  } else if (!POINTWISE.has(op) || (op === 'BatchNormalization' && attrInt(node, 'training_mode', 0) !== 0)) return undefined;
  const reached: Reach[] = [];
  for (const i of inputs) {
    const r = reach.get(i);
    const dims = dimsOf(i);
    if (r) {
      // A local operand broadcast over space would not be local.
      if (!dims || dims.length !== outDims.length || dims.slice(2).some((d, a) => d !== outDims[a + 2])) return undefined;
      reached.push(r);
    } else if (!constant.has(i) || op === 'Concat' || (BROADCASTING.has(op) && !(dims && dims.slice(dims.length - Math.min(dims.length, spatial)).every((d) => d === 1))))
      return undefined;
  }
  if (reached.length === 0) return undefined;
  const [first] = reached;
  if (reached.some((r) => r.stride.some((s, a) => s !== first.stride[a]))) return undefined;
  return {
    stride: first.stride,
    before: first.before.map((_, a) => Math.max(...reached.map((r) => r.before[a]))),
    after: first.after.map((_, a) => Math.max(...reached.map((r) => r.after[a]))),
  };
}

/** Operations of a node per input at the probed size: multiply-adds for convolutions and pools, one per output element otherwise. */
function nodeCost(node: NodeProto, dimsOf: (name: string) => number[] | undefined): number {
  const out = dimsOf(node.output[0]);
  if (!out) return 0;
  const elements = sizeOf(out);
  if (node.op_type === 'Conv' || node.op_type === 'ConvTranspose') {
    const w = dimsOf(node.input[1]);
    return w ? elements * sizeOf(w.slice(1)) : elements;
  }
  const kernel = WINDOWED.has(node.op_type) ? attrInts(node, 'kernel_shape') : undefined;
  return kernel ? elements * sizeOf(kernel) : elements;
}

/** The model from its input to `cut`, with the input's batch and spatial dimensions symbolic, to run on crops. */
export function modelToCut(model: ModelProto, input: string, cut: string): ModelProto {
  const copy = modelUpTo(model, [cut]);
  const g = copy.graph as GraphProto;
  g.input = (g.input ?? []).map((v) => {
    if (v.name !== input) return v;
    const dims = v.type?.tensor_type?.shape?.dim ?? [];
    const symbolic = dims.map((d, a) => (a === 0 ? { dim_param: 'batch' } : a === 1 ? d : { dim_param: `spatial_${a - 2}` }));
    return { ...v, type: { tensor_type: { ...v.type?.tensor_type, shape: { dim: symbolic } } } };
  });
  // Shapes recorded at the declared size would contradict a crop's.
  g.value_info = [];
  g.output = (g.output ?? []).map((o) => ({ name: o.name, type: { tensor_type: { elem_type: o.type?.tensor_type?.elem_type } } }));
  return copy;
}

/** Where one window's change reaches the cut, and the crop of the input that computes those positions there. */
export interface WindowCrop {
  /** Per spatial axis, the first and last positions of the cut tensor that the window can change; undefined where it changes none. */
  changed?: { first: number[]; last: number[] };
  /** Per spatial axis, where the crop of the input starts: a multiple of the cut's stride. */
  start: number[];
}

/**
 * The crops for windows (`start` and `extent` on the input's spatial axes `inputSpatial`), all of
 * one size (returned), so they run in full batches of one shape. A window changes the positions
 * first..last of the cut whose receptive field meets it; its crop holds their receptive fields,
 * cut off only at a border of the input that the crop then shares (where the prefix pads as it
 * does on the whole input), so the prefix computes them on the crop exactly as on the whole. A
 * crop starts at a multiple of the stride, so its position p of the cut is position
 * p + start / stride of the whole; where a crop of the common size would pass the input's end, it
 * ends there instead (the size is chosen so that such a start is a multiple of the stride too).
 */
export function windowCrops(cut: LocalCut, inputSpatial: number[], windows: { start: number[]; extent: number[] }[]): { crops: WindowCrop[]; size: number[] } {
  const { stride, before, after } = cut.reach;
  const positions = cut.dims.slice(2);
  const needed = windows.map(({ start, extent }) => {
    const first = start.map((s, a) => Math.max(0, Math.ceil((s - after[a]) / stride[a])));
    const last = start.map((s, a) => Math.min(positions[a] - 1, Math.floor((s + extent[a] - 1 + before[a]) / stride[a])));
    if (first.some((f, a) => f > last[a])) return undefined;
    const from = first.map((f, a) => Math.floor(Math.max(0, f * stride[a] - before[a]) / stride[a]) * stride[a]);
    const to = last.map((l, a) => Math.min(inputSpatial[a], l * stride[a] + after[a] + 1));
    return { first, last, from, to };
  });
  const size = inputSpatial.map((dim, a) => {
    const most = Math.max(0, ...needed.map((n) => (n ? n.to[a] - n.from[a] : 0)));
    return dim - Math.floor((dim - most) / stride[a]) * stride[a];
  });
  const crops = needed.map((n) => (n ? { changed: { first: n.first, last: n.last }, start: n.from.map((f, a) => Math.min(f, inputSpatial[a] - size[a])) } : { start: [] }));
  return { crops, size };
}

/**
 * Estimated operations of occluding through the cut (the prefix on each changing window's crop of
 * `size`, the rest and a copy of the cut tensor for it) as a fraction of running the whole network
 * for each window.
 */
export function croppedCostFraction(cut: LocalCut, inputSpatial: number[], crops: WindowCrop[], size: number[]): number {
  const changing = crops.filter((c) => c.changed).length;
  const cropped = changing * (cut.prefixCost * (sizeOf(size) / sizeOf(inputSpatial)) + cut.restCost + sizeOf(cut.dims));
  return cropped / (crops.length * (cut.prefixCost + cut.restCost));
}

/** Row-major strides of `shape`. */
function stridesOf(shape: number[]): number[] {
  const strides = new Array<number>(shape.length);
  let step = 1;
  for (let a = shape.length - 1; a >= 0; a--) {
    strides[a] = step;
    step *= shape[a];
  }
  return strides;
}

/** Copies the box of `size` at `srcOrigin` of `src` (row-major `srcShape`) to `dstOrigin` of `dst` (`dstShape`). */
export function copyRegion(src: Float32Array, srcShape: number[], srcOrigin: number[], dst: Float32Array, dstShape: number[], dstOrigin: number[], size: number[]): void {
  if (size.some((n) => n <= 0)) return;
  const rank = size.length;
  const srcStrides = stridesOf(srcShape);
  const dstStrides = stridesOf(dstShape);
  const inner = size[rank - 1];
  const index = new Array<number>(rank - 1).fill(0);
  for (;;) {
    let s = srcOrigin[rank - 1];
    let d = dstOrigin[rank - 1];
    for (let a = 0; a < rank - 1; a++) {
      s += (srcOrigin[a] + index[a]) * srcStrides[a];
      d += (dstOrigin[a] + index[a]) * dstStrides[a];
    }
    dst.set(src.subarray(s, s + inner), d);
    let a = rank - 2;
    while (a >= 0 && ++index[a] === size[a]) {
      index[a] = 0;
      a--;
    }
    if (a < 0) return;
  }
}
