// Input gradients of pooling. Windows may overlap (stride < kernel), so gradients that several
// windows send to one input position must ACCUMULATE, exactly, at every opset from 11:
//   MaxPool: each window's dy goes to its maximum, the first one in row-major window order on
//     ties, as in PyTorch. float32: a Conv with one-hot kernels [K, 1, k...] lays the K elements of
//     every window out as K channels (x·1 + 0·rest is exact; the input is padded with the lowest
//     finite value, so padding never wins); ArgMax over them (first maximum) one-hot times dy is
//     put back by the ConvTranspose with the same kernels, which adds overlapping windows. The
//     forward MaxPool keeps onnxruntime's fast path, which its Indices output (10× slower) loses.
//     Other types (no Conv kernel): the Indices output says where each dy goes. Windows whose
//     positions agree modulo m = ⌈k_eff/s⌉ on every axis cannot overlap, so within such a phase
//     the targets are distinct and a plain ScatterElements into zeros is exact; the m₁·m₂·…
//     phases are then summed. (No ScatterElements reduction, which needs opset 16.)
//   AveragePool: y = Σ_window x / D with D the divisor onnxruntime used (kernel size, count of
//     valid positions, with ceil_mode windows clipped): 1/D = AveragePool(1)/V where V counts the
//     valid positions of each window (a Conv of ones); dx = ConvTranspose(dy/D, ones kernel).
//     ConvTranspose adds every window back (col2im); the result is then cropped/padded onto the
//     input's extent (fitSpatial).
//   GlobalAveragePool: dx = dy/(H·W) broadcast.  GlobalMaxPool: dx = dy at the first maximum
//     (ArgMax over the flattened plane, one-hot).
// Reference: PyTorch's max_pool2d_with_indices_backward and avg_pool2d_backward
// (aten/src/ATen/native/cpu/MaxPoolKernel.cpp, AvgPoolKernel.cpp); onnxruntime's pool kernels for
// the divisor and tie semantics.
import { attrInt, attrInts } from '../../onnx/graph';
import { DataType } from '../../onnx/proto';
import { Tensor } from '../../tensor';
import { INT64_MAX, attr } from '../emitter';
import { GradientRule, RuleContext } from '../rule';
import { onlyData, outputGradient, range } from './common';
import { Window, beginPadsOnly, effectiveKernel, fitSpatial, isSame, samePadBegin, windowAttributes, windowOf } from './window';

/**
 * Σ over the windows containing each input position of `values` [N, C, O...]: ConvTranspose with a
 * ones kernel on the N·C planes, then mapped onto x's extent.
 */
function addWindowsBack(ctx: RuleContext, values: string, ones: string, w: Window, x: string, y: string): string {
  const { emit } = ctx;
  const planes = emit.op('Reshape', [values, emit.op('Concat', [emit.ints([-1, 1]), emit.shapeSlice(y, 2)], [attr.int('axis', 0)])]);
  const summed = emit.op('ConvTranspose', [planes, ones], windowAttributes(w, beginPadsOnly(w)));
  const back = emit.op('Reshape', [summed, emit.op('Concat', [emit.shapeSlice(y, 0, 2), emit.shapeSlice(summed, 2)], [attr.int('axis', 0)])]);
  return fitSpatial(ctx, back, x, isSame(w) ? samePadBegin(emit, w, x, y) : w.kernel.map(() => 0));
}

const maxPool: GradientRule = (ctx) => {
  onlyData(ctx);
  if (attrInt(ctx.node, 'storage_order', 0) !== 0) ctx.unsupported('column-major storage_order');
  const dy = outputGradient(ctx);
  return [ctx.dtype === DataType.FLOAT ? maxPoolByWindows(ctx, dy) : maxPoolByIndices(ctx, dy)];
};

/** Through the window elements extracted by a one-hot Conv, their ArgMax, and a one-hot ConvTranspose. */
function maxPoolByWindows(ctx: RuleContext, dy: string): string {
  const { emit, node } = ctx;
  const [x] = node.input;
  const y = node.output[0];
  const w = windowOf(node, attrInts(node, 'kernel_shape') ?? []);
  const nd = w.kernel.length;
  const size = w.kernel.reduce((a, b) => a * b, 1);
  const oneHot = emit.constantTensor(oneHotKernels(w.kernel, ctx.dtype === DataType.DOUBLE ? 'float64' : 'float32'));
  // The N·C planes as a batch of one-channel images, padded with the lowest finite value so that
  // padding never wins a window, and cut or padded at the end to exactly the extent the windows
  // cover, (O − 1)·s + k_eff (ceil_mode's last window included).
  const planes = emit.op('Reshape', [x, emit.op('Concat', [emit.ints([-1, 1]), emit.shapeSlice(x, 2)], [attr.int('axis', 0)])]);
  const begin = isSame(w) ? samePadBegin(emit, w, x, y) : emit.ints(w.pads.slice(0, nd));
  const ones = emit.ints(w.strides.map(() => 1));
  const extent = emit.op('Add', [emit.op('Mul', [emit.op('Sub', [emit.shapeSlice(y, 2), ones]), emit.ints(w.strides)]), emit.ints(effectiveKernel(w))]);
  const end = emit.op('Sub', [extent, emit.op('Add', [emit.shapeSlice(x, 2), begin])]);
  const pads = emit.op('Concat', [emit.ints([0, 0]), begin, emit.ints([0, 0]), end], [attr.int('axis', 0)]);
  const padded = emit.op('Pad', [planes, pads, ctx.scalar(ctx.dtype === DataType.DOUBLE ? -Number.MAX_VALUE : -FLOAT32_MAX)]);
  // Channel t of a Conv with one-hot kernels is element t of every window (x·1 + 0·rest, exact).
  const windows = emit.op('Conv', [padded, oneHot], [attr.ints('strides', w.strides), attr.ints('dilations', w.dilations)]);
  // ArgMax takes the first maximum in row-major window order, as PyTorch's max_pool does.
  const first = emit.op('ArgMax', [windows], [attr.int('axis', 1), attr.int('keepdims', 0)]);
  const chosen = emit.oneHot(first, emit.int(size), 1, 1 + nd, ctx.dtype);
  const routed = emit.op('Mul', [chosen, emit.op('Reshape', [dy, emit.op('Concat', [emit.ints([-1, 1]), emit.shapeSlice(y, 2)], [attr.int('axis', 0)])])]);
  const summed = emit.op('ConvTranspose', [routed, oneHot], windowAttributes(w, new Array(2 * nd).fill(0)));
  const back = emit.op('Reshape', [summed, emit.op('Concat', [emit.shapeSlice(y, 0, 2), emit.shapeSlice(summed, 2)], [attr.int('axis', 0)])]);
  return fitSpatial(ctx, back, x, isSame(w) ? begin : w.pads.slice(0, nd));
}

const FLOAT32_MAX = 3.4028234663852886e38;

/** Weight [K, 1, k...] with a single 1 at window element t in channel t: K = the window's size. */
function oneHotKernels(kernel: number[], dtype: 'float32' | 'float64'): Tensor {
  const size = kernel.reduce((a, b) => a * b, 1);
  const data = dtype === 'float64' ? new Float64Array(size * size) : new Float32Array(size * size);
  for (let t = 0; t < size; t++) data[t * size + t] = 1;
  return { dtype, dims: [size, 1, ...kernel], data };
}

/** Through the node's Indices output, for element types onnxruntime has no Conv for (float64). */
function maxPoolByIndices(ctx: RuleContext, dy: string): string {
  const { emit, node } = ctx;
  const [x] = node.input;
  const w = windowOf(node, attrInts(node, 'kernel_shape') ?? []);
  const indices = ctx.forwardOutput(1);
  // Windows whose indices agree modulo m = ⌈k_eff/s⌉ on every axis are disjoint.
  const phases = effectiveKernel(w).map((k, i) => Math.ceil(k / w.strides[i]));
  const axes = range(phases.length, 2);
  const flat = emit.ints([-1]);
  const zeros = emit.filled(emit.op('Reshape', [emit.op('Size', [x]), emit.ints([1])]), 0, ctx.dtype);
  const parts = offsetsOf(phases).map((start) => {
    const pick = (t: string) =>
      phases.every((m) => m === 1) ? t : emit.op('Slice', [t, emit.ints(start), emit.ints(start.map(() => INT64_MAX)), emit.ints(axes), emit.ints(phases)]);
    return emit.op('ScatterElements', [zeros, emit.op('Reshape', [pick(indices), flat]), emit.op('Reshape', [pick(dy), flat])], [attr.int('axis', 0)]);
  });
  return emit.reshapeLike(emit.sum(parts), x);
}

/** Every combination of per-axis offsets 0..m-1. */
function offsetsOf(phases: number[]): number[][] {
  return phases.reduce<number[][]>((acc, m) => acc.flatMap((prefix) => range(m).map((o) => [...prefix, o])), [[]]);
}

const averagePool: GradientRule = (ctx) => {
  onlyData(ctx);
  const { emit, node } = ctx;
  const dy = outputGradient(ctx);
  const [x] = node.input;
  const y = node.output[0];
  const w = windowOf(node, attrInts(node, 'kernel_shape') ?? []);
  const ones = emit.floats(new Array(w.kernel.reduce((a, b) => a * b, 1)).fill(1), [1, 1, ...w.kernel], ctx.dtype);
  const plane = emit.filled(emit.op('Concat', [emit.ints([1, 1]), emit.shapeSlice(x, 2)], [attr.int('axis', 0)]), 1, ctx.dtype);
  // The pool of ones is V/D with V the valid positions per window: onnxruntime's own divisor D.
  const pooledOnes = emit.op('AveragePool', [plane], node.attribute ?? []);
  const valid = isSame(w)
    ? emit.op('Conv', [plane, ones], [attr.ints('strides', w.strides), attr.ints('dilations', w.dilations), attr.string('auto_pad', w.autoPad)])
    : validCount(ctx, plane, ones, w, y);
  const inverseDivisor = emit.op('Div', [pooledOnes, valid]);
  const scaled = emit.op('Mul', [dy, inverseDivisor]);
  return [addWindowsBack(ctx, scaled, ones, w, x, y)];
};

/** Valid input positions per window (explicit pads): a Conv of ones padded to cover ceil_mode windows, cut to y's extent. */
function validCount(ctx: RuleContext, plane: string, ones: string, w: Window, y: string): string {
  const { emit } = ctx;
  const nd = w.kernel.length;
  const pads = [...w.pads.slice(0, nd), ...w.pads.slice(nd).map((p, i) => p + w.strides[i] - 1)];
  const counts = emit.op('Conv', [plane, ones], windowAttributes(w, pads));
  return emit.op('Slice', [counts, emit.ints(new Array(nd).fill(0)), emit.shapeSlice(y, 2), emit.ints(range(nd, 2))]);
}

const globalAveragePool: GradientRule = (ctx) => {
  onlyData(ctx);
  const { emit, node } = ctx;
  const [x] = node.input;
  const toFloat = (t: string) => emit.op('Cast', [t], [attr.int('to', ctx.dtype)]);
  const scale = emit.op('Div', [toFloat(emit.op('Size', [node.output[0]])), toFloat(emit.op('Size', [x]))]);
  return [emit.op('Expand', [emit.op('Mul', [outputGradient(ctx), scale]), emit.shape(x)])];
};

const globalMaxPool: GradientRule = (ctx) => {
  onlyData(ctx);
  const { emit, node } = ctx;
  const [x] = node.input;
  const rows = emit.op('Concat', [emit.shapeSlice(x, 0, 2), emit.ints([-1])], [attr.int('axis', 0)]);
  const first = emit.op('ArgMax', [emit.op('Reshape', [x, rows])], [attr.int('axis', 2), attr.int('keepdims', 0)]);
  const planeSize = emit.op('Div', [emit.op('Size', [x]), emit.op('Size', [node.output[0]])]);
  const oneHot = emit.oneHot(first, planeSize, 2, 2, ctx.dtype);
  const spread = emit.op('Mul', [oneHot, emit.op('Reshape', [outputGradient(ctx), emit.op('Concat', [emit.shapeSlice(x, 0, 2), emit.ints([1])], [attr.int('axis', 0)])])]);
  return [emit.reshapeLike(spread, x)];
};

export const poolingRules: Record<string, GradientRule> = {
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalAveragePool,
  GlobalMaxPool: globalMaxPool,
};
