// The first layers of a CNN are local: each position of their output reads a window of the input
// (its receptive field) and nothing else. A perturbation confined to a small window of the input
// (an occlusion) changes only the positions of such a layer whose receptive field meets it, so
// the layers up to a tensor that cuts the network there can run on a crop of the input around the
// window, and the network after it on the unperturbed activation with those positions replaced:
// the same numbers with fewer operations. A chain of such cuts crops again after each: the part
// from one cut to the next runs on a crop of the first around the positions the window changed
// there. (Nakandala, Kumar & Papakonstantinou, "Incremental and Approximate Inference for Faster
// Occlusion-based Deep CNN Explanations", SIGMOD 2019, do this layer by layer inside their own
// engine; here the parts between cuts are models onnxruntime runs as it runs the whole.)
// inside/receptive-field.ts describes fields for display (2-D, instance normalisation passed
// through); here a layer counts as local only where computing it on a crop is exact.
import { allInputs, attrInt, attrInts, attrString, indexGraph, topologicalOrder } from '../onnx/graph';
import { GraphProto, ModelProto, NodeProto } from '../onnx/proto';
import { modelUpTo } from '../onnx/surgery';
import { sizeOf } from '../tensor';
import { modelAfter } from './submodel';

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
  /** The tensors the prefix computes (`tensor` included). */
  computed: Set<string>;
  /** Estimated operations of the prefix and of the rest, per input (multiply-adds of convolutions and pools, one per element elsewhere). */
  prefixCost: number;
  restCost: number;
}

// Ops that read one position of each input for each output position, with no parameter that has
// a spatial extent (and keep float32: no Cast, so every cut holds what the crops' copies expect).
// prettier-ignore
const POINTWISE = new Set([
  'Relu', 'LeakyRelu', 'PRelu', 'Elu', 'Selu', 'Celu', 'Clip', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Softplus', 'Softsign', 'Gelu', 'Mish', 'Erf',
  'Identity', 'Dropout', 'BatchNormalization', 'Neg', 'Abs', 'Sqrt', 'Exp', 'Log', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Sign',
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
  // Consumers include the nodes that read a tensor inside a subgraph (If, Loop).
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
    cuts.push({ tensor, dims, reach: reach.get(tensor) as Reach, computed: new Set(produced), prefixCost, restCost: totalCost - prefixCost });
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

/**
 * The part of the model from `from` (its input, or a cut) to the cut `to`, with `from`'s batch and
 * spatial dimensions symbolic (its channels as in `fromDims`), to run on crops.
 */
export function modelSegment(model: ModelProto, input: string, from: string, to: string, fromDims: number[]): ModelProto {
  let copy: ModelProto;
  if (from === input) copy = modelUpTo(model, [to]);
  else {
    const segment = modelAfter(model, from, to, fromDims);
    if (segment.extraInputs.length > 0) throw new Error(`'${from}' does not cut the network before '${to}': ${segment.extraInputs.join(', ')} are read too`);
    copy = segment.proto;
  }
  const g = copy.graph as GraphProto;
  const symbolic = fromDims.map((d, a) => (a === 0 ? { dim_param: 'batch' } : a === 1 ? { dim_value: d } : { dim_param: `spatial_${a - 2}` }));
  g.input = (g.input ?? []).map((v) => (v.name === from ? { name: v.name, type: { tensor_type: { elem_type: v.type?.tensor_type?.elem_type, shape: { dim: symbolic } } } } : v));
  // Shapes recorded at the declared size would contradict a crop's.
  g.value_info = [];
  g.output = (g.output ?? []).map((o) => ({ name: o.name, type: { tensor_type: { elem_type: o.type?.tensor_type?.elem_type } } }));
  return copy;
}

/** One part of the local layers, run on crops: from the input or a cut to a later cut. */
export interface Stage {
  from: string;
  to: string;
  /** How positions of `to` read `from`. */
  reach: Reach;
  /** Dims of `from` and `to` at batch 1. */
  fromDims: number[];
  toDims: number[];
  /** Estimated operations of the part on the whole of `from`, per input. */
  cost: number;
}

/** Where windows' changes reach a stage's output, and the crops of its input that compute them. */
export interface StageCrops {
  /** Per window, the first and last positions (per spatial axis) of the stage's output it may change; undefined where it changes none. */
  changed: ({ first: number[]; last: number[] } | undefined)[];
  /** Per window that changes some, where its crop of the stage's input starts: a multiple of the stride. */
  start: (number[] | undefined)[];
  /** The crops' common size. */
  size: number[];
}

/**
 * The crops for windows (`start` and `extent` on the input's spatial axes) at each stage of a
 * chain, all of one size per stage, so they run in full batches of one shape. A stage's output
 * positions that can change are those whose field in its input meets the positions changed before
 * (at the first stage, the window); the crop holds their fields, cut off only at a border of the
 * input that the crop then shares (where the layers pad as they do on the whole input), so the
 * stage computes them on the crop exactly as on the whole. A crop starts at a multiple of the
 * stride, so its output position p is position p + start / stride of the whole; where a crop of the
 * common size would pass the input's end, it ends there instead (the size is chosen so that such a
 * start is a multiple of the stride too).
 */
export function chainCrops(stages: Stage[], windows: { start: number[]; extent: number[] }[]): StageCrops[] {
  let regions: ({ first: number[]; last: number[] } | undefined)[] = windows.map(({ start, extent }) => ({ first: start, last: start.map((s, a) => s + extent[a] - 1) }));
  return stages.map(({ reach, fromDims, toDims }) => {
    const inputSpatial = fromDims.slice(2);
    const needed = regions.map((r) => {
      const axes = r && r.first.map((f, a) => axisReach(reach, a, f, r.last[a], inputSpatial[a], toDims[a + 2]));
      return axes?.every(Boolean) ? (axes as AxisReach[]) : undefined;
    });
    const size = inputSpatial.map((dim, a) => cropSize(reach.stride[a], dim, Math.max(0, ...needed.map((n) => (n ? n[a].to - n[a].from : 0)))));
    regions = needed.map((n) => n && { first: n.map((x) => x.first), last: n.map((x) => x.last) });
    return { changed: regions, start: needed.map((n) => n && n.map((x, a) => Math.min(x.from, inputSpatial[a] - size[a]))), size };
  });
}

/** On one axis: positions first..last of a stage's output read its input's positions lo..hi; their fields need input positions from..to (exclusive), from a multiple of the stride. */
interface AxisReach {
  first: number;
  last: number;
  from: number;
  to: number;
}

function axisReach(reach: Reach, a: number, lo: number, hi: number, inputLength: number, outputLength: number): AxisReach | undefined {
  const { stride, before, after } = reach;
  const first = Math.max(0, Math.ceil((lo - after[a]) / stride[a]));
  const last = Math.min(outputLength - 1, Math.floor((hi + before[a]) / stride[a]));
  if (first > last) return undefined;
  const from = Math.floor(Math.max(0, first * stride[a] - before[a]) / stride[a]) * stride[a];
  return { first, last, from, to: Math.min(inputLength, last * stride[a] + after[a] + 1) };
}

/** The common crop size on an axis of `length` for crops needing at most `most`: at least that, and `length` less a multiple of the stride, so a crop ending at the input's end starts at such a multiple. */
function cropSize(stride: number, length: number, most: number): number {
  return length - Math.floor((length - most) / stride) * stride;
}

/**
 * How positions of cut b read cut a, from how each reads the input: every path from the input to b
 * passes through a, so b's reach is a's composed with it (stride S_a·S, before_a + S_a·before, and
 * the same for after); undefined where the numbers do not divide as that composition would.
 */
function reachBetween(a: Reach, b: Reach): Reach | undefined {
  const stride = b.stride.map((s, i) => s / a.stride[i]);
  const before = b.before.map((v, i) => (v - a.before[i]) / a.stride[i]);
  const after = b.after.map((v, i) => (v - a.after[i]) / a.stride[i]);
  return [...stride, ...before, ...after].every(Number.isInteger) && stride.every((s) => s >= 1) ? { stride, before, after } : undefined;
}

/** A chain of stages to run each window's local layers on crops, and the rest of the network after its last cut. */
export interface CropChain {
  stages: Stage[];
  crops: StageCrops[];
  /** Estimated operations as a fraction of running the whole network for each window. */
  fraction: number;
}

// A stage's fixed costs, in whole passes of the network: per window (a run's share of
// onnxruntime's overhead, beyond the crop's copies, which are counted), and once (making its
// session, about one pass's time for each of resnet18's parts, and its slower first runs), so a
// chain adds a stage, and a few windows take a chain, only where it saves more.
const STAGE_OVERHEAD = 0.01;
const SESSION_COST = 2;

/** Estimated operations of a stage on `changing` windows' crops of `size`: scaled by the crop's share of its input, plus the crop's copy and STAGE_OVERHEAD each; plus its session. */
function stageCost(stage: Stage, changing: number, size: number[], totalCost: number): number {
  const each = stage.cost * (sizeOf(size) / sizeOf(stage.fromDims.slice(2))) + stage.fromDims[1] * sizeOf(size) + STAGE_OVERHEAD * totalCost;
  return changing * each + SESSION_COST * totalCost;
}

/** Estimated operations of the rest of the network after a cut (`restCost` per input) for `changing` windows, plus their copies of the cut, and its session. */
function restCostOf(cutDims: number[], restCost: number, changing: number, totalCost: number): number {
  return changing * (restCost + sizeOf(cutDims)) + SESSION_COST * totalCost;
}

/**
 * The chain of at most `maxStages` stages through the local cuts (localCuts) that costs these
 * windows the fewest estimated operations (stageCost, restCostOf; a shortest path over the cuts, each stage's
 * crops found from the positions its input's cut changes), or undefined where none costs less than
 * `worth` of running the whole network for each window.
 */
export function planChain(
  graph: GraphProto,
  input: string,
  inputDims: number[],
  shapes: Map<string, number[]>,
  windows: { start: number[]; extent: number[] }[],
  options: { maxStages: number; worth: number },
): CropChain | undefined {
  const cuts = localCuts(graph, input, inputDims, shapes);
  if (cuts.length === 0 || windows.length === 0) return undefined;
  const totalCost = cuts[0].prefixCost + cuts[0].restCost;
  const points = [{ tensor: input, dims: inputDims, prefixCost: 0 }, ...cuts];
  // The choice weighs each stage by the size of its crops and the number of windows that change
  // its output, axis by axis: occlusion's windows are a grid (every start on one axis with every
  // start on the others), so a grid of the starts on each axis is weighed. At each point, the
  // positions each start's interval changes there, straight from the input (a chain's own can be
  // a position wider at most); the chain's crops are then made for every window.
  const intervals = windows[0].start.map((_, a) => {
    const unique = new Map(windows.map((w) => [`${w.start[a]},${w.extent[a]}`, [w.start[a], w.start[a] + w.extent[a] - 1]]));
    return [...unique.values()];
  });
  const axesAt = points.map((p, i) =>
    intervals.map((list, a) =>
      list.map(([lo, hi]) => {
        const r = i === 0 ? { first: lo, last: hi } : axisReach(cuts[i - 1].reach, a, lo, hi, inputDims[a + 2], p.dims[a + 2]);
        return r && [r.first, r.last];
      }),
    ),
  );
  const changingAt = (axes: (number[] | undefined)[][]) => axes.reduce((n, list) => n * list.filter(Boolean).length, 1);
  const stageBetween = (i: number, j: number, reach: Reach): Stage => ({
    from: points[i].tensor,
    to: points[j].tensor,
    reach,
    fromDims: points[i].dims,
    toDims: points[j].dims,
    cost: points[j].prefixCost - points[i].prefixCost,
  });
  // The stage from point i to a later cut j, where i is before j, and its cost on the grid.
  const pairs = new Map<number, { stage: Stage; cost: number } | undefined>();
  const pair = (i: number, j: number) => {
    const key = i * points.length + j;
    if (!pairs.has(key)) {
      const reach = i === 0 ? cuts[j - 1].reach : cuts[j - 1].computed.has(points[i].tensor) ? reachBetween(cuts[i - 1].reach, cuts[j - 1].reach) : undefined;
      const stage = reach && stageBetween(i, j, reach);
      if (!stage) pairs.set(key, undefined);
      else {
        const axes = axesAt[i].map((list, a) => list.map((r) => r && axisReach(stage.reach, a, r[0], r[1], stage.fromDims[a + 2], stage.toDims[a + 2])));
        const size = axes.map((list, a) => cropSize(stage.reach.stride[a], stage.fromDims[a + 2], Math.max(0, ...list.map((r) => (r ? r.to - r.from : 0)))));
        const changing = changingAt(axes.map((list) => list.map((r) => r && [r.first, r.last])));
        pairs.set(key, { stage, cost: stageCost(stage, changing, size, totalCost) });
      }
    }
    return pairs.get(key);
  };
  // best[k][j]: the cheapest k stages from the input to point j, and the point before it.
  const best: { cost: number; previous: number; stage?: Stage }[][] = [points.map((_, j) => ({ cost: j === 0 ? 0 : Infinity, previous: -1 }))];
  for (let k = 1; k <= options.maxStages; k++) {
    const row = points.map(() => ({ cost: Infinity, previous: -1 }) as { cost: number; previous: number; stage?: Stage });
    for (let i = 0; i < points.length; i++) {
      if (!Number.isFinite(best[k - 1][i].cost)) continue;
      for (let j = i + 1; j < points.length; j++) {
        const step = pair(i, j);
        if (!step) continue;
        const cost = best[k - 1][i].cost + step.cost;
        if (cost < row[j].cost) row[j] = { cost, previous: i, stage: step.stage };
      }
    }
    best.push(row);
  }
  let choice: { k: number; j: number; cost: number } | undefined;
  for (let k = 1; k <= options.maxStages; k++) {
    for (let j = 1; j < points.length; j++) {
      const changing = changingAt(axesAt[j]);
      const cost = best[k][j].cost + restCostOf(points[j].dims, cuts[j - 1].restCost, changing, totalCost);
      if (Number.isFinite(cost) && (!choice || cost < choice.cost)) choice = { k, j, cost };
    }
  }
  if (!choice) return undefined;
  const stages: Stage[] = [];
  for (let k = choice.k, j = choice.j; k > 0; k--) {
    const step = best[k][j];
    stages.unshift(step.stage as Stage);
    j = step.previous;
  }
  const crops = chainCrops(stages, windows);
  const cost =
    stages.reduce((sum, stage, i) => sum + stageCost(stage, crops[i].changed.filter(Boolean).length, crops[i].size, totalCost), 0) +
    restCostOf(points[choice.j].dims, cuts[choice.j - 1].restCost, crops[crops.length - 1].changed.filter(Boolean).length, totalCost);
  const fraction = cost / (windows.length * totalCost);
  return fraction < options.worth ? { stages, crops, fraction } : undefined;
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

const SHORT_ROW = 64;

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
    // A short row is copied element by element: a subarray per row costs more than the copy.
    if (inner < SHORT_ROW) for (let e = 0; e < inner; e++) dst[d + e] = src[s + e];
    else dst.set(src.subarray(s, s + inner), d);
    let a = rank - 2;
    while (a >= 0 && ++index[a] === size[a]) {
      index[a] = 0;
      a--;
    }
    if (a < 0) return;
  }
}
