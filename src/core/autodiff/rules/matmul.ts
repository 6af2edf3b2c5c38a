// Gradients of matrix products:
//   MatMul y = a·b (numpy semantics: batched, broadcast, 1-D operands promoted):
//     da = dy·bᵀ, db = aᵀ·dy over the last two axes, then reduced over broadcast batch axes.
//   Gemm y = α·A'·B' + β·C with A' = transA ? Aᵀ : A, B' likewise:
//     dA' = α·dy·B'ᵀ, dB' = α·A'ᵀ·dy, dC = β·dy reduced to C's shape; each emitted as one Gemm
//     with the transposes folded into transA/transB.
// Reference: PyTorch derivatives.yaml (mm, matmul via at::native::matmul_backward, addmm).
import { attrFloat, attrInt } from '../../onnx/graph';
import { attr } from '../emitter';
import { GradientRule, RuleContext } from '../rule';
import { outputGradient, range } from './common';

/** Swaps the last two axes of a tensor of the given rank. */
function transposeLast(ctx: RuleContext, t: string, rank: number): string {
  const perm = range(rank);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return ctx.emit.op('Transpose', [t], [attr.ints('perm', perm)]);
}

const matmul: GradientRule = (ctx) => {
  const { emit } = ctx;
  const [a, b] = ctx.node.input;
  const dims = { a: ctx.dims(a), b: ctx.dims(b), y: ctx.dims(ctx.node.output[0]) };
  // Promote 1-D operands as numpy does, so every product below is between (batched) matrices.
  let dy = outputGradient(ctx);
  const dyDims = [...dims.y];
  if (dims.a.length === 1) {
    const axis = dims.b.length === 1 ? dyDims.length : dyDims.length - 1;
    dy = emit.unsqueeze(dy, [axis]);
    dyDims.splice(axis, 0, 1);
  }
  if (dims.b.length === 1) {
    dy = emit.unsqueeze(dy, [dyDims.length]);
    dyDims.push(1);
  }
  const promote = (operand: string, d: number[], axis: number) => {
    if (d.length > 1) return operand;
    const promoted = emit.unsqueeze(operand, [axis]);
    ctx.setDims(promoted, axis === 0 ? [1, d[0]] : [d[0], 1]);
    return promoted;
  };
  const a2 = promote(a, dims.a, 0);
  const b2 = promote(b, dims.b, 1);
  const batch = dyDims.slice(0, -2);
  // Each product has dy's batch axes; sum those the operand was broadcast over, then restore its shape.
  const toOperand = (product: string, promoted: string, operand: string) => {
    ctx.setDims(product, [...batch, ...ctx.dims(promoted).slice(-2)]);
    const reduced = ctx.unbroadcast(product, product, promoted);
    return promoted === operand ? reduced : emit.reshapeLike(reduced, operand);
  };
  return [
    ctx.wants[0] ? toOperand(emit.op('MatMul', [dy, transposeLast(ctx, b2, ctx.rank(b2))]), a2, a) : undefined,
    ctx.wants[1] ? toOperand(emit.op('MatMul', [transposeLast(ctx, a2, ctx.rank(a2)), dy]), b2, b) : undefined,
  ];
};

const gemm: GradientRule = (ctx) => {
  const { emit, node } = ctx;
  const dy = outputGradient(ctx);
  const [a, b, c] = node.input;
  const alpha = attrFloat(node, 'alpha', 1);
  const beta = attrFloat(node, 'beta', 1);
  const transA = attrInt(node, 'transA', 0) === 1;
  const transB = attrInt(node, 'transB', 0) === 1;
  const product = (left: string, right: string, tl: boolean, tr: boolean) =>
    emit.op('Gemm', [left, right], [attr.float('alpha', alpha), attr.int('transA', tl ? 1 : 0), attr.int('transB', tr ? 1 : 0)]);
  // dA = α·dy·B'ᵀ, or its transpose α·B'·dyᵀ when A was transposed.
  const da = () => (transA ? product(b, dy, transB, true) : product(dy, b, false, !transB));
  // dB = α·A'ᵀ·dy, or its transpose α·dyᵀ·A' when B was transposed.
  const db = () => (transB ? product(dy, a, true, transA) : product(a, dy, !transA, false));
  const dc = () => ctx.unbroadcast(beta === 1 ? dy : emit.op('Mul', [dy, ctx.scalar(beta)]), node.output[0], c);
  return [ctx.wants[0] ? da() : undefined, ctx.wants[1] ? db() : undefined, ctx.wants[2] ? dc() : undefined];
};

export const matmulRules: Record<string, GradientRule> = {
  MatMul: matmul,
  Gemm: gemm,
};
