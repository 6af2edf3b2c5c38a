// Gradients of reductions over `axes` (attribute before opset 13/18, constant input after; absent
// means all axes unless noop_with_empty_axes): dy is first given back the reduced axes
// (keepdims=0), then
//   ReduceSum: dx = dy broadcast to x      ReduceMean: dx = dy·(|y|/|x|) broadcast
//   ReduceMax/ReduceMin: dx = dy·[x = y]/#ties, shared evenly among ties as torch.amax/amin do.
//   ReduceL1: dy·sign(x)   ReduceL2: dy·x/y   ReduceSumSquare: 2·dy·x   ReduceLogSumExp: dy·exp(x - y)
// Reference: PyTorch derivatives.yaml (sum.dim_IntList, mean.dim, amax/amin via
// scale_grad_by_count(restore_reduced_dims(...)), norm_backward, logsumexp_backward).
import { attrInt, attrInts } from '../../onnx/graph';
import { attr } from '../emitter';
import { GradientRule, RuleContext } from '../rule';
import { normalizeAxis, onlyData, outputGradient, range } from './common';

/** The reduced axes, sorted and non-negative; 'none' for a reduction that is an identity. */
function reducedAxes(ctx: RuleContext, axesAsInputFrom: number): number[] | 'none' {
  const { node } = ctx;
  const rank = ctx.rank(node.input[0]);
  let axes: number[] | undefined;
  if (ctx.opset >= axesAsInputFrom) {
    const input = node.input[1];
    if (input) {
      const value = ctx.constant(input);
      if (!value) ctx.unsupported('its axes are computed at run time');
      axes = Array.from(value.data as BigInt64Array, Number);
    }
    if ((!axes || axes.length === 0) && attrInt(node, 'noop_with_empty_axes', 0) === 1) return 'none';
  } else {
    axes = attrInts(node, 'axes');
  }
  return axes && axes.length > 0 ? [...new Set(axes.map((a) => normalizeAxis(a, rank)))].sort((a, b) => a - b) : range(rank);
}

function reduction(axesAsInputFrom: number, dx: (ctx: RuleContext, dyKept: string, yKept: () => string, axes: number[]) => string): GradientRule {
  return (ctx) => {
    onlyData(ctx);
    const dy = outputGradient(ctx);
    const axes = reducedAxes(ctx, axesAsInputFrom);
    if (axes === 'none') return [dy];
    const keep = attrInt(ctx.node, 'keepdims', 1) === 1;
    const restore = (t: string) => (keep ? t : ctx.emit.unsqueeze(t, axes));
    return [dx(ctx, restore(dy), () => restore(ctx.node.output[0]), axes)];
  };
}

const reduceSum = reduction(13, (ctx, dy) => ctx.emit.op('Expand', [dy, ctx.emit.shape(ctx.node.input[0])]));

const reduceMean = reduction(18, (ctx, dy) => {
  const { emit, node } = ctx;
  const toFloat = (t: string) => emit.op('Cast', [t], [attr.int('to', ctx.dtype)]);
  const scale = emit.op('Div', [toFloat(emit.op('Size', [node.output[0]])), toFloat(emit.op('Size', [node.input[0]]))]);
  return emit.op('Expand', [emit.op('Mul', [dy, scale]), emit.shape(node.input[0])]);
});

const reduceExtremum = reduction(18, (ctx, dy, y, axes) => {
  const { emit } = ctx;
  const hits = emit.op('Cast', [emit.op('Equal', [ctx.node.input[0], y()])], [attr.int('to', ctx.dtype)]);
  const ties = emit.reduce('ReduceSum', hits, axes, true);
  return emit.op('Mul', [hits, emit.op('Div', [dy, ties])]);
});

const reduceL1 = reduction(18, (ctx, dy) => ctx.emit.op('Mul', [ctx.emit.op('Sign', [ctx.node.input[0]]), dy]));

const reduceL2 = reduction(18, (ctx, dy, y) => ctx.emit.op('Mul', [ctx.node.input[0], ctx.emit.op('Div', [dy, y()])]));

const reduceSumSquare = reduction(18, (ctx, dy) => ctx.emit.op('Mul', [ctx.node.input[0], ctx.emit.op('Mul', [dy, ctx.scalar(2)])]));

const reduceLogSumExp = reduction(18, (ctx, dy, y) => ctx.emit.op('Mul', [ctx.emit.op('Exp', [ctx.emit.op('Sub', [ctx.node.input[0], y()])]), dy]));

export const reduceRules: Record<string, GradientRule> = {
  ReduceSum: reduceSum,
  ReduceMean: reduceMean,
  ReduceMax: reduceExtremum,
  ReduceMin: reduceExtremum,
  ReduceL1: reduceL1,
  ReduceL2: reduceL2,
  ReduceSumSquare: reduceSumSquare,
  ReduceLogSumExp: reduceLogSumExp,
};
