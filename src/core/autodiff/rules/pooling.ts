// Input gradients of pooling. Windows may overlap (stride < kernel), so gradients that several
// windows send to one input position must ACCUMULATE, exactly, at every opset from 11:
//   MaxPool: the node's Indices output (flat index of each window's maximum, the first one on
//     ties, as in PyTorch) says where each dy goes. Windows whose positions agree modulo
//     m = ⌈k_eff/s⌉ on every axis cannot overlap, so within such a phase the targets are distinct
//     and a plain ScatterElements into zeros is exact; the m₁·m₂·… phases are then summed. (No
//     ScatterElements reduction, which needs opset 16; no pad or ceil_mode arithmetic either.)
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
  const { emit, node } = ctx;
  if (attrInt(node, 'storage_order', 0) !== 0) ctx.unsupported('column-major storage_order');
  const dy = outputGradient(ctx);
  const [x] = node.input;
  const w = windowOf(node, attrInts(node, 'kernel_shape') ?? []);
  const indices = ctx.forwardOutput(1);
  // Windows whose indices agree modulo m = ⌈k_eff/s⌉ on every axis are disjoint.
  const phases = effectiveKernel(w).map((k, i) => Math.ceil(k / w.strides[i]));
  const axes = range(phases.length, 2);
  const flat = emit.ints([-1]);
  const zeros = emit.filled(emit.op('Reshape', [emit.op('Size', [x]), emit.ints([1])]), 0, ctx.dtype);
  const parts = offsetsOf(phases).map((start) => {
    const pick = (t: string) => (phases.every((m) => m === 1) ? t : emit.op('Slice', [t, emit.ints(start), emit.ints(start.map(() => INT64_MAX)), emit.ints(axes), emit.ints(phases)]));
    return emit.op('ScatterElements', [zeros, emit.op('Reshape', [pick(indices), flat]), emit.op('Reshape', [pick(dy), flat])], [attr.int('axis', 0)]);
  });
  return [emit.reshapeLike(emit.sum(parts), x)];
};

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
