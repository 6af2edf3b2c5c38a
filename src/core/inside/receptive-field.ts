// Receptive fields of every layer: the theoretical one from the graph, and the effective one
// measured with gradients.
//
// Theoretical (Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional Neural Networks",
// Distill 2019, eqs. 1–3; the same recurrence as Dumoulin & Visin's conv arithmetic), per spatial
// axis, starting from the input with size r = 1, jump j = 1, start s = 0 (pixel i has centre i):
//   k' = d·(k − 1) + 1                        effective kernel of kernel k, dilation d
//   r_out = r_in + (k' − 1)·j_in
//   j_out = j_in · stride
//   s_out = s_in + ((k' − 1)/2 − p_begin)·j_in  centre of output position 0, in input pixels
// for Conv, MaxPool, AveragePool, LpPool. ConvTranspose divides the jump by its stride and adds
// (k' − 1)·j_out; Resize divides the jump by its scale (nearest adds nothing, linear/cubic add one
// or three input steps). Element-wise ops, normalisations and activations pass the field through;
// ops with several spatial inputs (Add, Mul, Concat, Sum, Max, ...) take the input with the largest
// field. Global pooling (and everything computed from it) sees the whole input:
// r = r_in + (n_in − 1)·j_in over the n_in positions it pools. Ops that mix positions in ways the
// recurrence does not describe (Reshape, MatMul on spatial tensors, ...) end the analysis for the
// tensors that depend on them; they are reported, never guessed.
//
// Effective (Luo, Li, Urtasun & Zemel, "Understanding the Effective Receptive Field in Deep
// Convolutional Neural Networks", NeurIPS 2016): seed the gradient with 1 at the centre position of
// the layer output summed over channels, back-propagate to the input, take |∂/∂x| summed over input
// channels (averaged over the inputs used), and report the smallest set of pixels holding a given
// fraction (default 95%) of the total mass.
import { attrInt, attrInts, attrString, indexGraph, nodeLabel, topologicalOrder } from '../onnx/graph';
import { tensorFromProto } from '../onnx/initializers';
import { GraphProto, NodeProto, TensorProto } from '../onnx/proto';
import { assertTensorExists } from '../onnx/surgery';
import { computeGradients } from '../autodiff/gradients';
import { concreteInputDims, ConvModel } from '../model';
import { CancelledError } from '../cancel';
import { float32, FloatTensor, sizeOf } from '../tensor';
import { seededRandom, standardNormal } from '../random';

/** Receptive field of one tensor along [y, x]. */
export interface ReceptiveField {
  tensor: string;
  /** The node producing the tensor (its name, or op(output) when unnamed). */
  node: string;
  opType: string;
  /** Field size in input pixels, [height, width]. May exceed the input (padding). */
  size: [number, number];
  /** Input pixels between neighbouring positions of this tensor (product of strides). */
  jump: [number, number];
  /** Input-pixel coordinate of the centre of position 0's field (negative where padding reaches out). */
  start: [number, number];
  /** Computed from a global pooling: every position sees the whole input. */
  global: boolean;
}

/** A tensor the recurrence cannot describe, and why. */
export interface UnresolvedField {
  tensor: string;
  node: string;
  opType: string;
  reason: string;
}

export interface ReceptiveFieldReport {
  /** Model input size [H, W] the fields are stated for. */
  inputSize: [number, number];
  /** Per tensor, in execution order. */
  fields: ReceptiveField[];
  unresolved: UnresolvedField[];
}

export class ReceptiveFieldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReceptiveFieldError';
  }
}

interface Axis {
  r: number;
  j: number;
  s: number;
}
type Field = { axes: [Axis, Axis]; global: boolean };

const SIZE_READERS = new Set(['Shape', 'Size']);
const WINDOW_OPS = new Set(['Conv', 'MaxPool', 'AveragePool', 'LpPool']);
const GLOBAL_OPS = new Set(['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool']);
const REDUCE_OPS = new Set(['ReduceMean', 'ReduceMax', 'ReduceSum', 'ReduceMin', 'ReduceL2', 'ReduceL1', 'ReduceProd', 'ReduceLogSumExp', 'ReduceSumSquare']);
// Ops whose output position p depends only on input position p (or on all channels at p).
const POINTWISE_OPS = new Set([
  'Relu',
  'LeakyRelu',
  'PRelu',
  'Elu',
  'Selu',
  'Celu',
  'Gelu',
  'Sigmoid',
  'HardSigmoid',
  'HardSwish',
  'Tanh',
  'Softplus',
  'Softsign',
  'Clip',
  'Mish',
  'Erf',
  'Exp',
  'Log',
  'Sqrt',
  'Abs',
  'Neg',
  'Reciprocal',
  'Pow',
  'Floor',
  'Ceil',
  'Round',
  'Identity',
  'Dropout',
  'Cast',
  'BatchNormalization',
  'InstanceNormalization',
  'LRN',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Sum',
  'Max',
  'Min',
  'Mean',
  'Concat',
  'Where',
  'Softmax',
  'LogSoftmax',
  'QuantizeLinear',
  'DequantizeLinear',
  'ThresholdedRelu',
  'Sign',
  'Not',
  'Equal',
  'Less',
  'Greater',
  'Shrink',
  'Affine',
  'ScaledTanh',
]);

function pads2d(node: NodeProto, inDims: number[] | undefined, outDims: number[] | undefined, kEff: [number, number], strides: [number, number]): [number, number] {
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  if (autoPad === 'VALID') return [0, 0];
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    return [0, 1].map((a) => {
      const inSize = inDims?.[2 + a] ?? 0;
      const outSize = outDims?.[2 + a] ?? Math.ceil(inSize / strides[a]);
      const total = Math.max((outSize - 1) * strides[a] + kEff[a] - inSize, 0);
      return autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2);
    }) as [number, number];
  }
  const pads = attrInts(node, 'pads') ?? [0, 0, 0, 0];
  return [pads[0] ?? 0, pads[1] ?? 0];
}

function pair(values: number[] | undefined, fallback: number): [number, number] {
  return [values?.[0] ?? fallback, values?.[1] ?? fallback];
}

function windowField(node: NodeProto, input: Field, inDims?: number[], outDims?: number[]): Field {
  const kernel = pair(attrInts(node, 'kernel_shape'), 1);
  const strides = pair(attrInts(node, 'strides'), 1);
  const dilations = pair(attrInts(node, 'dilations'), 1);
  const kEff: [number, number] = [dilations[0] * (kernel[0] - 1) + 1, dilations[1] * (kernel[1] - 1) + 1];
  const pBegin = pads2d(node, inDims, outDims, kEff, strides);
  const axes = [0, 1].map((a) => {
    const g = input.axes[a];
    return { r: g.r + (kEff[a] - 1) * g.j, j: g.j * strides[a], s: g.s + ((kEff[a] - 1) / 2 - pBegin[a]) * g.j };
  }) as [Axis, Axis];
  return { axes, global: false };
}

// Transposed convolution: output o receives input i where o = i·s − p + m·d, so neighbouring
// outputs are j_in/s apart and one output's inputs span (k' − 1)/s input steps.
function transposedField(node: NodeProto, input: Field): Field {
  const kernel = pair(attrInts(node, 'kernel_shape'), 1);
  const strides = pair(attrInts(node, 'strides'), 1);
  const dilations = pair(attrInts(node, 'dilations'), 1);
  const pads = attrInts(node, 'pads') ?? [0, 0, 0, 0];
  const axes = [0, 1].map((a) => {
    const g = input.axes[a];
    const kEff = dilations[a] * (kernel[a] - 1) + 1;
    const j = g.j / strides[a];
    // Output 0's inputs are centred at i = (p_begin − (k' − 1)/2)/stride.
    return { r: g.r + (kEff - 1) * j, j, s: g.s + ((pads[a] ?? 0) - (kEff - 1) / 2) * j };
  }) as [Axis, Axis];
  return { axes, global: false };
}

function resizeField(node: NodeProto, input: Field, inDims: number[] | undefined, outDims: number[] | undefined): Field | string {
  if (!inDims || !outDims || inDims.length !== 4 || outDims.length !== 4) return 'its input and output shapes are unknown';
  const mode = attrString(node, 'mode', 'nearest');
  const taps = mode === 'nearest' ? 1 : mode === 'cubic' ? 4 : 2;
  const axes = [0, 1].map((a) => {
    const g = input.axes[a];
    const scale = outDims[2 + a] / inDims[2 + a];
    const j = g.j / scale;
    // Half-pixel centres: output o samples input (o + 0.5)/scale − 0.5.
    return { r: g.r + (taps - 1) * g.j, j, s: g.s + (0.5 / scale - 0.5) * g.j };
  }) as [Axis, Axis];
  return { axes, global: false };
}

function wholeInput(input: Field, inDims: number[] | undefined): Field {
  const axes = [0, 1].map((a) => {
    const g = input.axes[a];
    const n = inDims?.[2 + a] ?? 1;
    return { r: g.r + (n - 1) * g.j, j: g.j * n, s: g.s + ((n - 1) / 2) * g.j };
  }) as [Axis, Axis];
  return { axes, global: true };
}

function widest(fields: Field[]): Field {
  return fields.find((f) => f.global) ?? fields.reduce((a, b) => (b.axes[0].r * b.axes[1].r > a.axes[0].r * a.axes[1].r ? b : a));
}

// Pad (opset ≥ 11: pads as a constant second input, [x1_begin, x2_begin, ..., x1_end, ...]) moves
// position 0 by the leading spatial pads.
function padField(node: NodeProto, input: Field, initializers: Map<string, TensorProto>): Field | string {
  const padsTensor = initializers.get(node.input[1] ?? '');
  const pads = padsTensor ? Array.from(tensorFromProto(padsTensor).data as BigInt64Array, Number) : attrInts(node, 'pads');
  if (!pads || pads.length !== 8) return 'its pads are not a constant of a 4-D tensor';
  const axes = [0, 1].map((a) => ({ ...input.axes[a], s: input.axes[a].s - pads[2 + a] * input.axes[a].j })) as [Axis, Axis];
  return { axes, global: input.global };
}

function normalizedAxis(node: NodeProto, rank: number): number {
  const axis = attrInt(node, 'axis', 0);
  return axis < 0 ? axis + rank : axis;
}

function reducesSpatialAxes(node: NodeProto, rank: number): boolean {
  const axes = (attrInts(node, 'axes') ?? []).map((a) => (a < 0 ? a + rank : a));
  return axes.includes(2) || axes.includes(3);
}

/**
 * Theoretical receptive fields of every tensor computed from the model's image input.
 * `shapes` are the tensors' dims (ConvModel.probeShapes), used for auto_pad, Resize and global pooling.
 */
export function theoreticalReceptiveFields(graph: GraphProto, shapes: Map<string, number[]>, inputName?: string): ReceptiveFieldReport {
  const { initializers, graphInputs } = indexGraph(graph);
  const initializerProtos = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const input = inputName ?? graphInputs[0];
  const inDims = shapes.get(input);
  if (!inDims || inDims.length !== 4) {
    throw new ReceptiveFieldError(`receptive fields need an image input [N, C, H, W]; '${input}' has shape [${(inDims ?? []).join(', ')}]`);
  }
  const fieldOf = new Map<string, Field>([
    [
      input,
      {
        axes: [
          { r: 1, j: 1, s: 0 },
          { r: 1, j: 1, s: 0 },
        ],
        global: false,
      },
    ],
  ]);
  const unresolvedTensors = new Set<string>();
  const report: ReceptiveFieldReport = { inputSize: [inDims[2], inDims[3]], fields: [], unresolved: [] };

  for (const node of topologicalOrder(graph)) {
    const dataInputs = node.input.filter((i) => i && !initializers.has(i));
    const known = dataInputs.filter((i) => fieldOf.has(i)).map((i) => fieldOf.get(i)!);
    const blocked = dataInputs.find((i) => unresolvedTensors.has(i));
    // Shape and Size read sizes, not pixels: what is computed from them has no field.
    if ((known.length === 0 && !blocked) || SIZE_READERS.has(node.op_type)) continue;
    const outputs = node.output.filter(Boolean);
    const fail = (reason: string) => {
      for (const o of outputs) unresolvedTensors.add(o);
      report.unresolved.push(...outputs.map((o) => ({ tensor: o, node: nodeLabel(node), opType: node.op_type, reason })));
    };
    if (blocked) {
      fail(`it depends on '${blocked}', whose field is unresolved`);
      continue;
    }
    const first = dataInputs.find((i) => fieldOf.has(i))!;
    const firstDims = shapes.get(first);
    const outDims = shapes.get(outputs[0]);
    const base = widest(known);
    let field: Field | string;
    if (known.every((f) => f.global)) field = base;
    else if (WINDOW_OPS.has(node.op_type)) field = windowField(node, fieldOf.get(first)!, firstDims, outDims);
    else if (node.op_type === 'ConvTranspose') field = transposedField(node, fieldOf.get(first)!);
    else if (GLOBAL_OPS.has(node.op_type)) field = wholeInput(base, firstDims);
    else if (REDUCE_OPS.has(node.op_type) && reducesSpatialAxes(node, firstDims?.length ?? 4)) field = wholeInput(base, firstDims);
    else if (node.op_type === 'Resize' || node.op_type === 'Upsample') field = resizeField(node, base, firstDims, outDims);
    else if (node.op_type === 'Pad') field = padField(node, base, initializerProtos);
    else if (node.op_type === 'Concat' && [2, 3].includes(normalizedAxis(node, firstDims?.length ?? 4))) field = 'it concatenates along a spatial axis';
    else if (POINTWISE_OPS.has(node.op_type)) field = base;
    else field = `the receptive-field recurrence does not cover ${node.op_type}`;
    if (typeof field === 'string') {
      fail(field);
      continue;
    }
    for (const o of outputs) {
      fieldOf.set(o, field);
      report.fields.push({
        tensor: o,
        node: nodeLabel(node),
        opType: node.op_type,
        size: [field.axes[0].r, field.axes[1].r],
        jump: [field.axes[0].j, field.axes[1].j],
        start: [field.axes[0].s, field.axes[1].s],
        global: field.global,
      });
    }
  }
  return report;
}

/** Theoretical receptive fields of a loaded model (shapes probed with one run at the declared input size). */
export async function receptiveFields(model: ConvModel): Promise<ReceptiveFieldReport> {
  const shapes = new Map(await model.probeShapes());
  shapes.set(model.input.name, concreteInputDims(model.input.shape));
  return theoreticalReceptiveFields(model.graph, shapes, model.input.name);
}

export function receptiveFieldOf(report: ReceptiveFieldReport, tensor: string): ReceptiveField {
  const field = report.fields.find((f) => f.tensor === tensor);
  if (field) return field;
  const unresolved = report.unresolved.find((f) => f.tensor === tensor);
  if (unresolved) throw new ReceptiveFieldError(`the receptive field of '${tensor}' is unresolved: ${unresolved.reason}`);
  throw new ReceptiveFieldError(`'${tensor}' does not depend on the image input, so it has no receptive field`);
}

export interface EffectiveFieldOptions {
  /** Inputs to average over ([1, C, H, W] each); default: `samples` seeded standard-normal images. */
  inputs?: FloatTensor[];
  samples?: number;
  seed?: number;
  /** Fraction of the gradient mass the reported area holds; default 0.95. */
  massFraction?: number;
  signal?: AbortSignal;
}

export interface EffectiveReceptiveField {
  tensor: string;
  /** Position of the unit whose field this is, [y, x] in the layer's grid. */
  unit: [number, number];
  /** Σ_c |∂ Σ_k A[k, y, x] / ∂ input[c]|, averaged over the inputs, [H, W]. */
  map: FloatTensor;
  /** Smallest number of input pixels holding `massFraction` of the map's mass. */
  area: number;
  /** Side of the square with that area: comparable to the theoretical size. */
  side: number;
  massFraction: number;
  /** Bounding box [y0, x0, y1, x1] (exclusive ends) of those pixels. */
  box: [number, number, number, number];
}

/** The smallest set of pixels holding `fraction` of Σ map: its size and bounding box. */
export function massArea(map: ArrayLike<number>, width: number, fraction: number): { area: number; box: [number, number, number, number] } {
  const order = Array.from({ length: map.length }, (_, i) => i).sort((a, b) => map[b] - map[a]);
  let total = 0;
  for (let i = 0; i < map.length; i++) total += map[i];
  let box: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity];
  if (total <= 0) return { area: 0, box: [0, 0, 0, 0] };
  let mass = 0;
  let area = 0;
  for (const i of order) {
    if (mass >= fraction * total) break;
    mass += map[i];
    area++;
    const y = Math.floor(i / width);
    const x = i % width;
    box = [Math.min(box[0], y), Math.min(box[1], x), Math.max(box[2], y + 1), Math.max(box[3], x + 1)];
  }
  return { area, box };
}

/**
 * Effective receptive field of the centre unit of `tensor` (Luo et al. 2016), from the gradient
 * engine: ∂ (Σ_k A[k, y_c, x_c]) / ∂ input, seeded with 1 at the centre of every channel.
 */
export async function effectiveReceptiveField(model: ConvModel, tensor: string, options: EffectiveFieldOptions = {}): Promise<EffectiveReceptiveField> {
  assertTensorExists(model.graph, tensor);
  const inputName = model.input.name;
  const dims = concreteInputDims(model.input.shape);
  dims[0] = 1;
  const inputs = options.inputs ?? seededNormalImages(dims, options.samples ?? 4, options.seed ?? 0);
  const [, channels, height, width] = dims;
  const map = new Float32Array(height * width);
  let unit: [number, number] = [0, 0];
  for (const input of inputs) {
    if (options.signal?.aborted) throw new CancelledError();
    const probe = (await model.run({ [inputName]: input }, [tensor]))[tensor];
    if (probe.dims.length !== 4) throw new ReceptiveFieldError(`'${tensor}' has shape [${probe.dims.join(', ')}]; an effective receptive field needs a spatial layer [N, C, H, W]`);
    const [, c, h, w] = probe.dims;
    unit = [Math.floor(h / 2), Math.floor(w / 2)];
    const seed = float32(probe.dims);
    for (let k = 0; k < c; k++) seed.data[(k * h + unit[0]) * w + unit[1]] = 1;
    const { gradients } = await computeGradients(model, { [inputName]: input }, { wrt: [inputName], output: tensor, seed });
    const g = gradients[inputName].data as Float32Array;
    for (let ch = 0; ch < channels; ch++) {
      for (let p = 0; p < height * width; p++) map[p] += Math.abs(g[ch * height * width + p]) / inputs.length;
    }
  }
  const massFraction = options.massFraction ?? 0.95;
  const { area, box } = massArea(map, width, massFraction);
  return { tensor, unit, map: float32([height, width], map), area, side: Math.sqrt(area), massFraction, box };
}

function seededNormalImages(dims: number[], count: number, seed: number): FloatTensor[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const data = new Float32Array(sizeOf(dims));
    for (let i = 0; i < data.length; i++) data[i] = standardNormal(random);
    return float32(dims, data);
  });
}
