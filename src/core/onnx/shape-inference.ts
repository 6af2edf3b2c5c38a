// Dims of every tensor of a graph at given input sizes, from the ops' shape rules in the ONNX
// operator specs, without onnxruntime: the shape probe's first try (autodiff/shapes.ts). The
// probe's session, with every tensor exposed, costs about as much to create as the model's own,
// and its run more than a forward pass (resnet18: about 0.2 s of a first Grad-CAM).
//
// It covers the ops CNNs, their heads and transformer blocks are exported with, and the shape
// computations between them, through the values of small tensors (Shape, Gather, Concat, Equal,
// Where ... of shape vectors). It gives up (undefined), and the probe asks onnxruntime, on any
// other op, a value it needs and cannot know (it never reads the feeds' values), a subgraph, and
// sizes an op's kernel would refuse: channels that do not match the weights, a Reshape that
// changes the element count, shapes that do not broadcast, an index out of range. A graph it
// covers therefore runs at those sizes, as the probe's run used to show.
import { Tensor, sizeOf } from '../tensor';
import { attrFloat, attrFloats, attrInt, attrInts, attrString, attrTensor, onnxOpset, subgraphs, topologicalOrder } from './graph';
import { tensorFromProto } from './initializers';
import { DataType, GraphProto, ModelProto, NodeProto, TensorProto } from './proto';
import { elementTypes } from './types';

/** Tensors of at most this many elements have their values followed (shape vectors, scalars, small constants). */
const MAX_VALUES = 1024;

type Dims = number[];

/** A small tensor's values, as numbers, with its ONNX element type. */
interface Values {
  type: number;
  data: number[];
}

/** Thrown by a rule where inference gives up: the probe asks onnxruntime instead. */
class NotInferred extends Error {}

function give(up: string): never {
  throw new NotInferred(up);
}

/**
 * One map of dims per feed set: the feeds' own dims and every node output's; undefined where the
 * graph is not covered (see the file's comment).
 */
export function inferShapes(model: ModelProto, feedSets: Record<string, Tensor>[]): Map<string, number[]>[] | undefined {
  const graph = model.graph;
  if (!graph) return undefined;
  try {
    const order = topologicalOrder(graph);
    for (const node of order) {
      if ((node.domain && node.domain !== 'ai.onnx') || subgraphs(node).length > 0) return undefined;
      if (!RULES[node.op_type]) give(`op ${node.op_type}`);
    }
    // Element types from the ops and the inputs alone: the types the file claims for other tensors
    // are not taken (a Div it called float would not truncate).
    const types = elementTypes({ ...graph, value_info: [], output: [] });
    const constants = initializerValues(graph);
    return feedSets.map((feeds) => inferOnce(graph, order, onnxOpset(model), types, constants, feeds));
  } catch {
    // NotInferred, or a malformed graph (a cycle, an initializer that cannot be read): onnxruntime says.
    return undefined;
  }
}

interface Known {
  dims: Map<string, Dims>;
  values: Map<string, Values>;
}

function initializerValues(graph: GraphProto): Known {
  const known: Known = { dims: new Map(), values: new Map() };
  for (const t of graph.initializer ?? []) {
    const name = t.name ?? '';
    known.dims.set(name, checkedDims((t.dims ?? []).map(Number)));
    const values = smallValues(t);
    if (values) known.values.set(name, values);
  }
  return known;
}

/** The values of a small numeric tensor held in the file (never external data); else undefined. */
function smallValues(t: TensorProto): Values | undefined {
  const type = t.data_type ?? DataType.FLOAT;
  if (!NUMERIC.has(type) || t.data_location === 1 || sizeOf((t.dims ?? []).map(Number)) > MAX_VALUES) return undefined;
  const data = Array.from(tensorFromProto(t).data as ArrayLike<number | bigint>, Number);
  return { type, data };
}

const FLOATS = new Set<number>([DataType.FLOAT, DataType.DOUBLE]);
const NUMERIC = new Set<number>([DataType.FLOAT, DataType.DOUBLE, DataType.INT64, DataType.INT32, DataType.BOOL, DataType.UINT8, DataType.INT8]);

function checkedDims(dims: number[]): Dims {
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0)) give('a dim that is not a size');
  return dims;
}

/** What a rule sees of a node: its inputs' dims and values, its attributes, the opset. */
class NodeView {
  constructor(
    readonly node: NodeProto,
    readonly opset: number,
    private readonly known: Known,
  ) {}

  has(i: number): boolean {
    return Boolean(this.node.input[i]);
  }

  dims(i: number): Dims {
    const name = this.node.input[i];
    const d = name ? this.known.dims.get(name) : undefined;
    return d ?? give(`no dims for input ${i} of ${this.node.op_type}`);
  }

  rank(i: number): number {
    return this.dims(i).length;
  }

  values(i: number): Values | undefined {
    const name = this.node.input[i];
    return name ? this.known.values.get(name) : undefined;
  }

  /** The input's values, which the output's dims need: give up where they are not known. */
  ints(i: number): number[] {
    const v = this.values(i) ?? give(`${this.node.op_type} needs the values of its input ${i}`);
    if (v.data.some((x) => !Number.isInteger(x))) give('an integer input with other values');
    return v.data;
  }

  /** Ints from an attribute before `fromOpset`, from input `input` from it on; undefined where neither is given. */
  intsFrom(attribute: string, input: number, fromOpset: number): number[] | undefined {
    if (this.opset < fromOpset) return attrInts(this.node, attribute);
    return this.has(input) ? this.ints(input) : undefined;
  }
}

interface Inferred {
  dims: Dims[];
  /** Values of the first output, where they follow from the inputs' values. */
  values?: number[];
}

type Rule = (n: NodeView) => Inferred;

function inferOnce(graph: GraphProto, order: NodeProto[], opset: number, types: Map<string, number>, constants: Known, feeds: Record<string, Tensor>): Map<string, number[]> {
  const known: Known = { dims: new Map(constants.dims), values: new Map(constants.values) };
  const result = new Map<string, number[]>();
  for (const input of graph.input ?? []) {
    const feed = feeds[input.name];
    if (!feed) {
      if (!known.dims.has(input.name)) give(`input '${input.name}' is not fed`);
      continue;
    }
    const declared = input.type?.tensor_type?.shape?.dim;
    if (declared && (declared.length !== feed.dims.length || declared.some((d, i) => d.dim_value !== undefined && Number(d.dim_value) !== feed.dims[i]))) {
      give(`input '${input.name}' is fed dims its declaration refuses`);
    }
    // A feed overrides an initializer of the same name, and its values are not constants.
    known.dims.set(input.name, checkedDims([...feed.dims]));
    known.values.delete(input.name);
    result.set(input.name, [...feed.dims]);
  }
  for (const node of order) {
    const inferred = RULES[node.op_type](new NodeView(node, opset, known));
    node.output.forEach((name, i) => {
      if (!name) return;
      const dims = checkedDims(inferred.dims[i] ?? give(`${node.op_type} output ${i} is not covered`));
      known.dims.set(name, dims);
      result.set(name, dims);
    });
    const out = node.output[0];
    const type = out ? types.get(out) : undefined;
    if (out && inferred.values && type !== undefined && NUMERIC.has(type)) {
      const values = typed(inferred.values, type);
      if (values && values.length === sizeOf(known.dims.get(out) ?? []) && values.length <= MAX_VALUES) known.values.set(out, { type, data: values });
    }
  }
  return result;
}

/** Values as a tensor of `type` holds them (float32 rounding, integer truncation); undefined where one does not fit. */
function typed(values: number[], type: number): number[] | undefined {
  if (type === DataType.FLOAT) return values.map(Math.fround);
  if (type === DataType.DOUBLE) return values;
  if (type === DataType.BOOL) return values.map((v) => (v ? 1 : 0));
  // int64 sentinels past 2^53 (Slice's INT64_MAX for "to the end") stay approximate: a dim made
  // of one is refused (checkedDims), and Slice clamps it.
  const ints = values.map(Math.trunc);
  return ints.every(Number.isFinite) ? ints : undefined;
}

function axisOf(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) give('an axis out of range');
  return a;
}

/** Numpy broadcasting of `shapes`; gives up where they do not broadcast. */
function broadcast(shapes: Dims[]): Dims {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dims = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const v = s[s.length - rank + i];
      if (v === undefined || v === d || v === 1) continue;
      if (d !== 1) give('shapes that do not broadcast');
      d = v;
    }
    out.push(d);
  }
  return out;
}

/** The values of an elementwise op over broadcast inputs, where every input's values are known. */
function elementwise(n: NodeView, outDims: Dims, f: (...xs: number[]) => number): number[] | undefined {
  const inputs = n.node.input.map((_, i) => ({ dims: n.dims(i), values: n.values(i) }));
  if (inputs.some((x) => !x.values) || sizeOf(outDims) > MAX_VALUES) return undefined;
  const size = sizeOf(outDims);
  const out: number[] = [];
  for (let flat = 0; flat < size; flat++) {
    const args = inputs.map(({ dims, values }) => {
      let index = 0;
      let rest = flat;
      let stride = 1;
      for (let axis = outDims.length - 1; axis >= 0; axis--) {
        const coordinate = rest % outDims[axis];
        rest = Math.floor(rest / outDims[axis]);
        const k = dims.length - outDims.length + axis;
        if (k < 0) continue;
        if (dims[k] !== 1) index += coordinate * stride;
        stride *= dims[k];
      }
      return (values as Values).data[index];
    });
    out.push(f(...args));
  }
  return out;
}

/**
 * The values of an output of dims `out` each of whose elements is the input's element at
 * `source(its coordinates)` (Slice, Transpose); undefined where the input's values are not known.
 */
function rearranged(input: Values | undefined, dims: Dims, out: Dims, source: (at: number[]) => number[]): number[] | undefined {
  if (!input || sizeOf(out) > MAX_VALUES) return undefined;
  const values: number[] = [];
  const at = out.map(() => 0);
  for (let flat = 0; flat < sizeOf(out); flat++) {
    let rest = flat;
    for (let axis = out.length - 1; axis >= 0; axis--) {
      at[axis] = rest % out[axis];
      rest = Math.floor(rest / out[axis]);
    }
    const from = source(at);
    values.push(input.data[from.reduce((index, k, axis) => index * dims[axis] + k, 0)]);
  }
  return values;
}

const sameAsInput: Rule = (n) => ({ dims: n.node.output.map(() => n.dims(0)) });

function unary(f: (x: number) => number): Rule {
  return (n) => ({ dims: [n.dims(0)], values: n.values(0)?.data.map(f) });
}

function broadcasting(f?: (...xs: number[]) => number, minimum = 2): Rule {
  return (n) => {
    if (n.node.input.length < minimum || n.node.input.some((name) => !name)) give('a missing input');
    const dims = broadcast(n.node.input.map((_, i) => n.dims(i)));
    return { dims: [dims], values: f && elementwise(n, dims, f) };
  };
}

/** Integer division as onnxruntime's integer kernels do it (truncation); floats divide. */
function divide(n: NodeView): (a: number, b: number) => number {
  const type = n.values(0)?.type;
  const ints = type !== undefined && !FLOATS.has(type);
  return (a, b) => {
    if (ints && b === 0) give('an integer division by zero');
    return ints ? Math.trunc(a / b) : a / b;
  };
}

/** A window op's (Conv's, a pool's) output sizes over its spatial axes: with its pads, VALID (none), or SAME_* (⌈size / stride⌉). */
function windowSizes(n: NodeView, inputs: Dims, kernel: Dims, strides: Dims, dilations: Dims, ceil: boolean): Dims {
  const autoPad = attrString(n.node, 'auto_pad', 'NOTSET');
  const pads = attrInts(n.node, 'pads') ?? new Array<number>(kernel.length * 2).fill(0);
  if (pads.length !== kernel.length * 2 || pads.some((p) => p < 0)) give('pads of the wrong length');
  return inputs.map((size, i) => {
    const span = (kernel[i] - 1) * dilations[i] + 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      // onnxruntime refuses a dilated window with SAME padding.
      if (dilations[i] !== 1) give('auto_pad SAME with dilations');
      return Math.ceil(size / strides[i]);
    }
    const [begin, end] = autoPad === 'VALID' ? [0, 0] : autoPad === 'NOTSET' ? [pads[i], pads[i + kernel.length]] : give(`auto_pad ${autoPad}`);
    const room = size + begin + end - span;
    if (room < 0) give('a window larger than its padded input');
    let out = (ceil ? Math.ceil(room / strides[i]) : Math.floor(room / strides[i])) + 1;
    // A last window that would start in the end padding is dropped (onnxruntime, as PyTorch).
    if (ceil && (out - 1) * strides[i] >= size + begin) out--;
    return out;
  });
}

function spatialAttr(n: NodeView, name: string, count: number, fallback: number): Dims {
  const v = attrInts(n.node, name) ?? new Array<number>(count).fill(fallback);
  if (v.length !== count || v.some((x) => !Number.isInteger(x) || x < 1)) give(`${name} of the wrong length`);
  return v;
}

const conv: Rule = (n) => {
  const x = n.dims(0);
  const w = n.dims(1);
  const group = attrInt(n.node, 'group', 1);
  const spatial = x.length - 2;
  if (spatial < 1 || w.length !== x.length || group < 1) give('Conv ranks');
  if (x[1] !== w[1] * group || w[0] % group !== 0) give('Conv channels that do not match its weights');
  if (n.has(2) && (n.rank(2) !== 1 || n.dims(2)[0] !== w[0])) give('a Conv bias of the wrong size');
  const kernel = attrInts(n.node, 'kernel_shape') ?? w.slice(2);
  if (kernel.join() !== w.slice(2).join()) give('a kernel_shape that is not the weights');
  const sizes = windowSizes(n, x.slice(2), kernel, spatialAttr(n, 'strides', spatial, 1), spatialAttr(n, 'dilations', spatial, 1), false);
  return { dims: [[x[0], w[0], ...sizes]] };
};

const convTranspose: Rule = (n) => {
  const x = n.dims(0);
  const w = n.dims(1);
  const group = attrInt(n.node, 'group', 1);
  const spatial = x.length - 2;
  if (spatial < 1 || w.length !== x.length || group < 1 || x[1] !== w[0]) give('ConvTranspose channels');
  const channels = w[1] * group;
  if (n.has(2) && (n.rank(2) !== 1 || n.dims(2)[0] !== channels)) give('a ConvTranspose bias of the wrong size');
  const kernel = attrInts(n.node, 'kernel_shape') ?? w.slice(2);
  if (kernel.join() !== w.slice(2).join()) give('a kernel_shape that is not the weights');
  if (attrInts(n.node, 'output_shape')) give('a ConvTranspose with output_shape');
  const strides = spatialAttr(n, 'strides', spatial, 1);
  const dilations = spatialAttr(n, 'dilations', spatial, 1);
  const outputPadding = attrInts(n.node, 'output_padding') ?? new Array<number>(spatial).fill(0);
  const autoPad = attrString(n.node, 'auto_pad', 'NOTSET');
  const pads = attrInts(n.node, 'pads') ?? new Array<number>(2 * spatial).fill(0);
  if (outputPadding.length !== spatial || pads.length !== 2 * spatial) give('ConvTranspose attributes of the wrong length');
  const sizes = x.slice(2).map((size, i) => {
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return size * strides[i];
    const [begin, end] = autoPad === 'VALID' ? [0, 0] : autoPad === 'NOTSET' ? [pads[i], pads[i + spatial]] : give(`auto_pad ${autoPad}`);
    return strides[i] * (size - 1) + outputPadding[i] + (kernel[i] - 1) * dilations[i] + 1 - begin - end;
  });
  if (sizes.some((s) => s < 1)) give('an empty ConvTranspose output');
  return { dims: [[x[0], channels, ...sizes]] };
};

const pool: Rule = (n) => {
  const x = n.dims(0);
  const spatial = x.length - 2;
  const kernel = attrInts(n.node, 'kernel_shape') ?? give('a pool without kernel_shape');
  if (spatial < 1 || kernel.length !== spatial) give('pool ranks');
  const dilations = spatialAttr(n, 'dilations', spatial, 1);
  const sizes = windowSizes(n, x.slice(2), kernel, spatialAttr(n, 'strides', spatial, 1), dilations, attrInt(n.node, 'ceil_mode', 0) === 1);
  const dims = [x[0], x[1], ...sizes];
  return { dims: n.node.output.map(() => dims) };
};

const globalPool: Rule = (n) => {
  const x = n.dims(0);
  if (x.length < 3) give('a global pool of a tensor without positions');
  return { dims: [[x[0], x[1], ...x.slice(2).map(() => 1)]] };
};

const reduce: Rule = (n) => {
  const x = n.dims(0);
  const fromInput = n.node.op_type === 'ReduceSum' ? 13 : 18;
  const axes = n.intsFrom('axes', 1, fromInput);
  const keep = attrInt(n.node, 'keepdims', 1) === 1;
  if ((!axes || axes.length === 0) && n.opset >= fromInput && attrInt(n.node, 'noop_with_empty_axes', 0) === 1) return { dims: [x] };
  const reduced = new Set((axes && axes.length > 0 ? axes : x.map((_, i) => i)).map((a) => axisOf(a, x.length)));
  return { dims: [keep ? x.map((d, i) => (reduced.has(i) ? 1 : d)) : x.filter((_, i) => !reduced.has(i))] };
};

const argReduce: Rule = (n) => {
  const x = n.dims(0);
  const axis = axisOf(attrInt(n.node, 'axis', 0), x.length);
  const keep = attrInt(n.node, 'keepdims', 1) === 1;
  return { dims: [keep ? x.map((d, i) => (i === axis ? 1 : d)) : x.filter((_, i) => i !== axis)] };
};

const flatten: Rule = (n) => {
  const x = n.dims(0);
  const axis = attrInt(n.node, 'axis', 1);
  const a = axis < 0 ? axis + x.length : axis;
  if (a < 0 || a > x.length) give('a Flatten axis out of range');
  return { dims: [[sizeOf(x.slice(0, a)), sizeOf(x.slice(a))]], values: n.values(0)?.data };
};

const gemm: Rule = (n) => {
  const a = n.dims(0);
  const b = n.dims(1);
  if (a.length !== 2 || b.length !== 2) give('Gemm of tensors that are not matrices');
  const [m, k] = attrInt(n.node, 'transA', 0) ? [a[1], a[0]] : a;
  const [k2, cols] = attrInt(n.node, 'transB', 0) ? [b[1], b[0]] : b;
  if (k !== k2) give('Gemm inner dims that differ');
  if (n.has(2) && broadcast([n.dims(2), [m, cols]]).join() !== [m, cols].join()) give('a Gemm C that does not broadcast to its output');
  return { dims: [[m, cols]] };
};

const matMul: Rule = (n) => {
  const a = n.dims(0);
  const b = n.dims(1);
  if (a.length === 0 || b.length === 0) give('MatMul of a scalar');
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  if (a2[a2.length - 1] !== b2[b2.length - 2]) give('MatMul inner dims that differ');
  const batch = broadcast([a2.slice(0, -2), b2.slice(0, -2)]);
  return { dims: [[...batch, ...(a.length === 1 ? [] : [a2[a2.length - 2]]), ...(b.length === 1 ? [] : [b2[b2.length - 1]])]] };
};

const reshape: Rule = (n) => {
  const x = n.dims(0);
  const shape = n.opset < 5 ? (attrInts(n.node, 'shape') ?? give('Reshape without a shape')) : n.ints(1);
  const allowZero = attrInt(n.node, 'allowzero', 0) === 1;
  const out = shape.map((s, i) => {
    if (s === 0 && !allowZero) return x[i] ?? give('a Reshape copying a dim its input does not have');
    return s;
  });
  const free = out.filter((d) => d === -1).length;
  if (free > 1 || out.some((d) => d < -1)) give('a Reshape shape with more than one -1');
  const total = sizeOf(x);
  const rest = sizeOf(out.filter((d) => d !== -1));
  if (free === 1) {
    if (rest === 0 || total % rest !== 0) give('a Reshape whose -1 has no size');
    out[out.indexOf(-1)] = total / rest;
  } else if (rest !== total) give('a Reshape that changes the element count');
  return { dims: [out], values: n.values(0)?.data };
};

const transpose: Rule = (n) => {
  const x = n.dims(0);
  const perm = attrInts(n.node, 'perm') ?? x.map((_, i) => x.length - 1 - i);
  if (perm.length !== x.length || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) give('a perm that is not a permutation');
  const out = perm.map((p) => x[p]);
  return { dims: [out], values: rearranged(n.values(0), x, out, (at) => perm.map((_, axis) => at[perm.indexOf(axis)])) };
};

const concat: Rule = (n) => {
  const inputs = n.node.input.filter(Boolean).map((_, i) => n.dims(i));
  if (inputs.length === 0) give('Concat of nothing');
  const rank = inputs[0].length;
  const axis = axisOf(attrInt(n.node, 'axis') ?? give('Concat without an axis'), rank);
  const out = [...inputs[0]];
  out[axis] = 0;
  for (const d of inputs) {
    if (d.length !== rank || d.some((v, i) => i !== axis && v !== inputs[0][i])) give('Concat of dims that differ');
    out[axis] += d[axis];
  }
  const values = rank === 1 ? n.node.input.map((_, i) => n.values(i)?.data) : [];
  return { dims: [out], values: rank === 1 && values.every(Boolean) ? (values.flat() as number[]) : undefined };
};

const split: Rule = (n) => {
  const x = n.dims(0);
  const axis = axisOf(attrInt(n.node, 'axis', 0), x.length);
  const count = n.node.output.length;
  let sizes = n.intsFrom('split', 1, 13);
  if (!sizes) {
    const parts = n.opset >= 18 ? (attrInt(n.node, 'num_outputs') ?? count) : count;
    if (parts !== count) give('a Split whose num_outputs is not its outputs');
    const each = n.opset >= 18 ? Math.ceil(x[axis] / parts) : x[axis] / parts;
    if (!Number.isInteger(each)) give('a Split that does not divide its axis');
    sizes = Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(each, x[axis] - i * each)));
  }
  if (sizes.length !== count || sizes.reduce((s, v) => s + v, 0) !== x[axis] || sizes.some((s) => s < 0)) give('Split sizes that are not its axis');
  return { dims: sizes.map((s) => x.map((d, i) => (i === axis ? s : d))) };
};

const slice: Rule = (n) => {
  const x = n.dims(0);
  const starts = n.opset < 10 ? attrInts(n.node, 'starts') : n.ints(1);
  const ends = n.opset < 10 ? attrInts(n.node, 'ends') : n.ints(2);
  if (!starts || !ends || starts.length !== ends.length) give('Slice starts and ends');
  const axes = (n.opset < 10 ? attrInts(n.node, 'axes') : n.has(3) ? n.ints(3) : undefined) ?? starts.map((_, i) => i);
  const steps = (n.opset >= 10 && n.has(4) ? n.ints(4) : undefined) ?? starts.map(() => 1);
  if (axes.length !== starts.length || steps.length !== starts.length) give('Slice lists of different lengths');
  const out = [...x];
  const ranges: [number, number, number][] = x.map((d) => [0, d, 1]);
  starts.forEach((s, i) => {
    const axis = axisOf(axes[i], x.length);
    const d = x[axis];
    const step = steps[i];
    if (step === 0) give('a Slice step of 0');
    let start = s < 0 ? s + d : s;
    let end = ends[i] < 0 ? ends[i] + d : ends[i];
    if (step > 0) {
      start = Math.min(Math.max(start, 0), d);
      end = Math.min(Math.max(end, 0), d);
      out[axis] = Math.max(0, Math.ceil((end - start) / step));
    } else {
      start = Math.min(Math.max(start, 0), d - 1);
      end = Math.min(Math.max(end, -1), d - 1);
      out[axis] = Math.max(0, Math.ceil((start - end) / -step));
    }
    ranges[axis] = [start, end, step];
  });
  const values = rearranged(n.values(0), x, out, (at) => at.map((k, axis) => ranges[axis][0] + k * ranges[axis][2]));
  return { dims: [out], values };
};

const squeeze: Rule = (n) => {
  const x = n.dims(0);
  const axes = n.intsFrom('axes', 1, 13);
  const removed = new Set(axes ? axes.map((a) => axisOf(a, x.length)) : x.flatMap((d, i) => (d === 1 ? [i] : [])));
  if ([...removed].some((a) => x[a] !== 1)) give('a Squeeze of an axis that is not 1');
  return { dims: [x.filter((_, i) => !removed.has(i))], values: n.values(0)?.data };
};

const unsqueeze: Rule = (n) => {
  const x = n.dims(0);
  const axes = n.intsFrom('axes', 1, 13) ?? give('Unsqueeze without axes');
  const rank = x.length + axes.length;
  const inserted = new Set(axes.map((a) => axisOf(a, rank)));
  if (inserted.size !== axes.length) give('an Unsqueeze axis given twice');
  const out: Dims = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(inserted.has(i) ? 1 : x[k++]);
  return { dims: [out], values: n.values(0)?.data };
};

const pad: Rule = (n) => {
  const x = n.dims(0);
  const pads = n.intsFrom('pads', 1, 11) ?? give('Pad without pads');
  const axes = n.opset >= 18 && n.has(3) ? n.ints(3).map((a) => axisOf(a, x.length)) : x.map((_, i) => i);
  if (pads.length !== 2 * axes.length) give('pads of the wrong length');
  const out = [...x];
  axes.forEach((axis, i) => (out[axis] = x[axis] + pads[i] + pads[i + axes.length]));
  if (out.some((d) => d < 0)) give('a Pad that crops past its input');
  return { dims: [out] };
};

/** Resize and Upsample: sizes where given, else floor(size × scale) as onnxruntime computes it in float32. */
const resize: Rule = (n) => {
  const x = n.dims(0);
  if (n.node.op_type === 'Resize' && (attrInts(n.node, 'axes') || attrString(n.node, 'keep_aspect_ratio_policy', 'stretch') !== 'stretch'))
    give('Resize axes or an aspect-ratio policy');
  const scalesInput = n.node.op_type === 'Upsample' ? 1 : n.opset < 11 ? 1 : 2;
  if (n.node.op_type === 'Resize' && n.opset >= 11 && n.has(3)) {
    const sizes = n.values(3);
    if (sizes && sizes.data.length > 0) {
      if (sizes.data.length !== x.length) give('Resize sizes of the wrong length');
      return { dims: [n.ints(3)] };
    }
  }
  const scales = n.node.op_type === 'Upsample' && n.opset < 9 ? attrFloats(n.node, 'scales') : n.has(scalesInput) ? n.values(scalesInput)?.data : undefined;
  if (!scales || scales.length !== x.length || scales.some((s) => !(s > 0))) give('Resize scales that are not known');
  return { dims: [x.map((d, i) => Math.floor(Math.fround(Math.fround(d) * Math.fround(scales[i]))))] };
};

const shape: Rule = (n) => {
  const x = n.dims(0);
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + x.length : v, 0), x.length);
  const start = n.opset >= 15 ? clamp(attrInt(n.node, 'start', 0)) : 0;
  const end = n.opset >= 15 ? clamp(attrInt(n.node, 'end', x.length)) : x.length;
  const values = x.slice(start, Math.max(start, end));
  return { dims: [[values.length]], values };
};

const gather: Rule = (n) => {
  const data = n.dims(0);
  const indices = n.dims(1);
  const axis = axisOf(attrInt(n.node, 'axis', 0), data.length);
  const index = n.values(1);
  if (index?.data.some((i) => i < -data[axis] || i >= data[axis])) give('a Gather index out of range');
  const v = n.values(0);
  const values = data.length === 1 && v && index ? index.data.map((i) => v.data[i < 0 ? i + data[0] : i]) : undefined;
  return { dims: [[...data.slice(0, axis), ...indices, ...data.slice(axis + 1)]], values };
};

const constant: Rule = (n) => {
  const tensor = attrTensor(n.node, 'value');
  if (tensor) {
    const values = smallValues(tensor);
    return { dims: [checkedDims((tensor.dims ?? []).map(Number))], values: values?.data };
  }
  const scalar = attrInt(n.node, 'value_int') ?? attrFloat(n.node, 'value_float');
  if (scalar !== undefined) return { dims: [[]], values: [scalar] };
  const list = attrInts(n.node, 'value_ints') ?? attrFloats(n.node, 'value_floats');
  if (list) return { dims: [[list.length]], values: list };
  return give('a Constant of another kind');
};

const constantOfShape: Rule = (n) => {
  const dims = n.has(0) ? n.ints(0) : [];
  const fill = attrTensor(n.node, 'value');
  const value = fill ? smallValues(fill)?.data[0] : 0;
  return { dims: [dims], values: value === undefined || sizeOf(checkedDims(dims)) > MAX_VALUES ? undefined : new Array<number>(sizeOf(dims)).fill(value) };
};

const expand: Rule = (n) => ({ dims: [broadcast([n.dims(0), n.ints(1)])] });

const tile: Rule = (n) => {
  const x = n.dims(0);
  const repeats = n.ints(1);
  if (repeats.length !== x.length || repeats.some((r) => r < 0)) give('Tile repeats');
  return { dims: [x.map((d, i) => d * repeats[i])] };
};

const range: Rule = (n) => {
  const [start, limit, delta] = [0, 1, 2].map((i) => n.values(i)?.data[0] ?? give('Range of values not known'));
  if (delta === 0) give('a Range step of 0');
  const count = Math.max(Math.ceil((limit - start) / delta), 0);
  return { dims: [[count]], values: count <= MAX_VALUES ? Array.from({ length: count }, (_, i) => start + i * delta) : undefined };
};

const topK: Rule = (n) => {
  const x = n.dims(0);
  const axis = axisOf(attrInt(n.node, 'axis', -1), x.length);
  const k = n.opset < 10 ? (attrInt(n.node, 'k') ?? give('TopK without k')) : n.ints(1)[0];
  if (k === undefined || k < 0 || k > x[axis]) give('a TopK k out of range');
  const dims = x.map((d, i) => (i === axis ? k : d));
  return { dims: [dims, dims] };
};

const layerNormalization: Rule = (n) => {
  const x = n.dims(0);
  const axis = axisOf(attrInt(n.node, 'axis', -1), x.length);
  const stats = x.map((d, i) => (i < axis ? d : 1));
  return { dims: [x, stats, stats] };
};

const batchNormalization: Rule = (n) => {
  if (n.node.output.slice(1).some(Boolean)) give('BatchNormalization in training mode');
  const x = n.dims(0);
  for (let i = 1; i <= 4; i++) if (n.dims(i).join() !== [x[1]].join()) give('BatchNormalization statistics of the wrong size');
  return { dims: [x] };
};

const dropout: Rule = (n) => {
  const x = n.dims(0);
  return { dims: [x, x], values: n.values(0)?.data };
};

const spaceDepth = (toSpace: boolean): Rule => {
  return (n) => {
    const [batch, c, h, w] = n.dims(0);
    const b = attrInt(n.node, 'blocksize') ?? give('no blocksize');
    if (n.rank(0) !== 4 || b < 1) give('a tensor that is not [N, C, H, W]');
    if (toSpace ? c % (b * b) !== 0 : h % b !== 0 || w % b !== 0) give('a block size that does not divide');
    return { dims: [toSpace ? [batch, c / (b * b), h * b, w * b] : [batch, c * b * b, h / b, w / b]] };
  };
};

const scatterND: Rule = (n) => {
  const data = n.dims(0);
  const indices = n.dims(1);
  const depth = indices[indices.length - 1];
  if (indices.length < 1 || depth > data.length) give('ScatterND indices deeper than its data');
  const updates = [...indices.slice(0, -1), ...data.slice(depth)];
  if (n.dims(2).join() !== updates.join()) give('ScatterND updates of the wrong shape');
  const index = n.values(1)?.data;
  if (index?.some((v, i) => v < -data[i % depth] || v >= data[i % depth])) give('a ScatterND index out of range');
  return { dims: [data] };
};

const cast: Rule = (n) => {
  const to = attrInt(n.node, 'to');
  const v = n.values(0);
  // Values cast to an integer type truncate (typed, by the output's type); to bool, non-zero is 1.
  return { dims: [n.dims(0)], values: v && to !== undefined ? v.data : undefined };
};

const comparing = (f: (a: number, b: number) => boolean) => broadcasting((a, b) => (f(a, b) ? 1 : 0));

const ONE_INPUT_SAME_DIMS = [
  'Relu',
  'LeakyRelu',
  'Sigmoid',
  'Tanh',
  'HardSigmoid',
  'HardSwish',
  'Elu',
  'Selu',
  'Celu',
  'ThresholdedRelu',
  'Softplus',
  'Softsign',
  'Mish',
  'Gelu',
  'Erf',
  'Exp',
  'Log',
  'Sqrt',
  'Reciprocal',
  'Sin',
  'Cos',
  'Tan',
  'Asin',
  'Acos',
  'Atan',
  'Sinh',
  'Cosh',
  'Asinh',
  'Acosh',
  'Atanh',
  'IsNaN',
  'IsInf',
  'Round',
  'Softmax',
  'LogSoftmax',
  'Hardmax',
  'LRN',
  'InstanceNormalization',
  'LpNormalization',
  'MeanVarianceNormalization',
  'Clip',
  'CumSum',
  'Trilu',
  'Shrink',
  'GroupNormalization',
];

const RULES: Record<string, Rule> = {
  ...Object.fromEntries(ONE_INPUT_SAME_DIMS.map((op) => [op, sameAsInput])),
  Identity: unary((x) => x),
  Neg: unary((x) => -x),
  Abs: unary(Math.abs),
  Floor: unary(Math.floor),
  Ceil: unary(Math.ceil),
  Sign: unary(Math.sign),
  Not: unary((x) => (x ? 0 : 1)),
  Cast: cast,
  CastLike: (n) => ({ dims: [n.dims(0)], values: n.values(0)?.data }),
  Add: broadcasting((a, b) => a + b),
  Sub: broadcasting((a, b) => a - b),
  Mul: broadcasting((a, b) => a * b),
  Div: (n) => broadcasting(divide(n))(n),
  Pow: broadcasting(),
  // fmod 0 (integers): the sign of the divisor, as Python's %; fmod 1: the sign of the dividend, as C's.
  Mod: (n) =>
    broadcasting((a, b) => {
      if (b === 0) give('a Mod by zero');
      return attrInt(n.node, 'fmod', 0) === 1 ? a % b : ((a % b) + b) % b;
    })(n),
  PRelu: broadcasting(),
  BitShift: broadcasting(),
  Max: broadcasting(Math.max, 1),
  Min: broadcasting(Math.min, 1),
  Sum: broadcasting((...xs) => xs.reduce((s, x) => s + x, 0), 1),
  Mean: broadcasting(undefined, 1),
  Equal: comparing((a, b) => a === b),
  Less: comparing((a, b) => a < b),
  Greater: comparing((a, b) => a > b),
  LessOrEqual: comparing((a, b) => a <= b),
  GreaterOrEqual: comparing((a, b) => a >= b),
  And: comparing((a, b) => Boolean(a && b)),
  Or: comparing((a, b) => Boolean(a || b)),
  Xor: comparing((a, b) => Boolean(a) !== Boolean(b)),
  Where: broadcasting((c, a, b) => (c ? a : b), 3),
  Conv: conv,
  ConvTranspose: convTranspose,
  MaxPool: pool,
  AveragePool: pool,
  LpPool: pool,
  GlobalAveragePool: globalPool,
  GlobalMaxPool: globalPool,
  GlobalLpPool: globalPool,
  BatchNormalization: batchNormalization,
  LayerNormalization: layerNormalization,
  Dropout: dropout,
  ReduceMean: reduce,
  ReduceSum: reduce,
  ReduceMax: reduce,
  ReduceMin: reduce,
  ReduceProd: reduce,
  ReduceL1: reduce,
  ReduceL2: reduce,
  ReduceLogSum: reduce,
  ReduceLogSumExp: reduce,
  ReduceSumSquare: reduce,
  ArgMax: argReduce,
  ArgMin: argReduce,
  Flatten: flatten,
  Gemm: gemm,
  MatMul: matMul,
  Reshape: reshape,
  Transpose: transpose,
  Concat: concat,
  Split: split,
  Slice: slice,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Pad: pad,
  Resize: resize,
  Upsample: resize,
  Shape: shape,
  Size: (n) => ({ dims: [[]], values: [sizeOf(n.dims(0))] }),
  Gather: gather,
  Constant: constant,
  ConstantOfShape: constantOfShape,
  Expand: expand,
  Tile: tile,
  Range: range,
  TopK: topK,
  GatherElements: (n) => {
    if (n.rank(0) !== n.rank(1)) give('GatherElements of different ranks');
    return { dims: [n.dims(1)] };
  },
  ScatterND: scatterND,
  ScatterElements: (n) => {
    if (n.rank(0) !== n.rank(1) || n.dims(1).join() !== n.dims(2).join()) give('ScatterElements of other ranks');
    return { dims: [n.dims(0)] };
  },
  DepthToSpace: spaceDepth(true),
  SpaceToDepth: spaceDepth(false),
};
