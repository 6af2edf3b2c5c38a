// Gradients of ops that move data without arithmetic (dy = incoming gradient):
//   Identity, Dropout (inference): dx = dy
//   Flatten, Reshape, Squeeze, Unsqueeze: dx = Reshape(dy, Shape(x))
//   Transpose(perm): dx = Transpose(dy, perm⁻¹)
//   Concat: dx_i = Slice(dy, offset_i, offset_i + size_i) along the axis, sizes read at run time
//   Split: dx = Concat(dy_k), zeros for outputs no gradient reaches
//   Slice with unit steps: dx = Pad(dy) with the slice's begin and the remainder; other steps:
//     ScatterElements into zeros, one axis at a time. The selected indices of each axis are found
//     by applying the same Slice to Range(0, dim), so clamping and negative indices match exactly.
//   Gather(x, idx, axis): dx[.., d, ..] = Σ_i [idx_i = d]·dy[.., i, ..], a MatMul with the one-hot
//     matrix of idx, which accumulates repeated indices exactly at every opset.
//   Pad (constant mode): dx = Pad(dy, -pads): crops what was padded, zero-fills what was cropped.
// Reference: PyTorch derivatives.yaml (view/reshape, permute, cat, split, slice_backward,
// index_select_backward, constant_pad_nd).
import { attrInt, attrInts, attrString } from '../../onnx/graph';
import { DataType } from '../../onnx/proto';
import { attr } from '../emitter';
import { GradientRule, RuleContext } from '../rule';
import { normalizeAxis, onlyData, outputGradient, range } from './common';

const passThrough: GradientRule = (ctx) => {
  onlyData(ctx);
  return [outputGradient(ctx)];
};

const reshapeBack: GradientRule = (ctx) => {
  onlyData(ctx);
  return [ctx.emit.reshapeLike(outputGradient(ctx), ctx.node.input[0])];
};

const transpose: GradientRule = (ctx) => {
  const rank = ctx.rank(ctx.node.input[0]);
  const perm = attrInts(ctx.node, 'perm') ?? range(rank).reverse();
  const inverse = new Array<number>(rank);
  perm.forEach((p, i) => (inverse[p] = i));
  return [ctx.emit.op('Transpose', [outputGradient(ctx)], [attr.ints('perm', inverse)])];
};

const concat: GradientRule = (ctx) => {
  const { emit, node } = ctx;
  const dy = outputGradient(ctx);
  const axis = normalizeAxis(attrInt(node, 'axis', 0), ctx.rank(node.output[0]));
  const axes = emit.ints([axis]);
  let offset = emit.ints([0]);
  return node.input.map((x, k) => {
    const size = emit.shapeSlice(x, axis, axis + 1);
    const end = emit.op('Add', [offset, size]);
    const dx = ctx.wants[k] ? emit.op('Slice', [dy, offset, end, axes]) : undefined;
    offset = end;
    return dx;
  });
};

const split: GradientRule = (ctx) => {
  onlyData(ctx);
  const { emit, node } = ctx;
  const parts = node.output.map((o, k) => ctx.dy[k] ?? emit.zerosLike(o, ctx.dtype));
  const axis = normalizeAxis(attrInt(node, 'axis', 0), ctx.rank(node.input[0]));
  return [emit.op('Concat', parts, [attr.int('axis', axis)])];
};

/** A constant int64 input as numbers; `fallback` where the input is absent. */
function constantInts(ctx: RuleContext, index: number, fallback: () => number[]): number[] {
  const name = ctx.node.input[index];
  if (!name) return fallback();
  const value = ctx.constant(name);
  if (!value) ctx.unsupported(`its input '${name}' is computed at run time`);
  return Array.from(value.data as BigInt64Array | Int32Array, Number);
}

const slice: GradientRule = (ctx) => {
  onlyData(ctx);
  const { emit, node } = ctx;
  const dy = outputGradient(ctx);
  const [x, starts, ends] = node.input;
  const rank = ctx.rank(x);
  const count = ctx.dims(starts)[0];
  const axes = constantInts(ctx, 3, () => range(count)).map((a) => normalizeAxis(a, rank));
  const steps = constantInts(ctx, 4, () => new Array(count).fill(1));
  const asInt64 = (t: string) => (ctx.elemType(t) === DataType.INT64 ? t : emit.op('Cast', [t], [attr.int('to', DataType.INT64)]));
  const pick = (t: string, k: number) => emit.op('Slice', [asInt64(t), emit.ints([k]), emit.ints([k + 1])]);
  // The indices of x the slice keeps along each axis, by slicing Range(0, dim) the same way.
  const kept = axes.map((axis, k) => {
    const positions = emit.op('Range', [emit.int(0), emit.dim(x, axis), emit.int(1)]);
    return emit.op('Slice', [positions, pick(starts, k), pick(ends, k), emit.ints([0]), emit.ints([steps[k]])]);
  });
  if (steps.every((s) => s === 1)) {
    const begin = range(rank).map((a) => (axes.includes(a) ? emit.op('Slice', [kept[axes.indexOf(a)], emit.ints([0]), emit.ints([1])]) : emit.ints([0])));
    const end = range(rank).map((a, i) =>
      axes.includes(a) ? emit.op('Sub', [emit.op('Sub', [emit.shapeSlice(x, a, a + 1), begin[i]]), emit.shapeSlice(dy, a, a + 1)]) : emit.ints([0]),
    );
    return [emit.op('Pad', [dy, emit.op('Concat', [...begin, ...end], [attr.int('axis', 0)])])];
  }
  let grad = dy;
  axes.forEach((axis, k) => {
    const shape = emit.op('Concat', [emit.shapeSlice(grad, 0, axis), emit.shapeSlice(x, axis, axis + 1), emit.shapeSlice(grad, axis + 1)], [attr.int('axis', 0)]);
    const indexShape = range(rank).map((a) => (a === axis ? -1 : 1));
    const indices = emit.op('Expand', [emit.op('Reshape', [kept[k], emit.ints(indexShape)]), emit.shape(grad)]);
    grad = emit.op('ScatterElements', [emit.filled(shape, 0, ctx.dtype), indices, grad], [attr.int('axis', axis)]);
  });
  return [grad];
};

const gather: GradientRule = (ctx) => {
  onlyData(ctx);
  const { emit, node } = ctx;
  const dy = outputGradient(ctx);
  const [x, indices] = node.input;
  const rank = ctx.rank(x);
  const axis = normalizeAxis(attrInt(node, 'axis', 0), rank);
  // One-hot rows of the indices; Mod maps negative indices to count from the end, as Gather does.
  const depth = emit.dim(x, axis);
  const flat = emit.op('Reshape', [emit.op('Cast', [indices], [attr.int('to', DataType.INT64)]), emit.ints([-1])]);
  const oneHot = emit.oneHot(emit.op('Mod', [flat, depth]), depth, 1, 1, ctx.dtype);
  const product = (from: number, to: number) => (from >= to ? emit.ints([1]) : emit.reduce('ReduceProd', emit.shapeSlice(x, from, to), [0], true));
  const rows = emit.op('Concat', [product(0, axis), emit.ints([-1]), product(axis + 1, rank)], [attr.int('axis', 0)]);
  const summed = emit.op('MatMul', [emit.op('Transpose', [oneHot], [attr.ints('perm', [1, 0])]), emit.op('Reshape', [dy, rows])]);
  return [emit.reshapeLike(summed, x)];
};

const pad: GradientRule = (ctx) => {
  onlyData(ctx);
  const { emit, node } = ctx;
  const mode = attrString(node, 'mode', 'constant');
  if (mode !== 'constant') ctx.unsupported(`mode '${mode}'`);
  const [, pads, , axes] = node.input;
  return [emit.op('Pad', [outputGradient(ctx), emit.op('Neg', [pads]), ...(axes ? ['', axes] : [])])];
};

export const shapeRules: Record<string, GradientRule> = {
  Identity: passThrough,
  Dropout: passThrough,
  Flatten: reshapeBack,
  Reshape: reshapeBack,
  Squeeze: reshapeBack,
  Unsqueeze: reshapeBack,
  Transpose: transpose,
  Concat: concat,
  Split: split,
  Slice: slice,
  Gather: gather,
  Pad: pad,
};
