// Lucid's redirected ReLU gradient (lucid/misc/redirected_relu_grad.py), used while optimising a
// feature visualisation so that a channel that is dead on the starting image can still be woken:
//   g_relu = y > 0 ? dy : 0                          (the true gradient)
//   g_redirected = y > 0 ? dy : max(dy, 0)           (let through what would raise a negative input)
//   dx = Σ|g_relu| over a batch row > 0 ? g_relu : g_redirected, per row.
// Signs are for gradient ascent on the objective (dy = ∂J/∂y); Lucid minimises −J, hence its
// "x < 0 and grad > 0" zeroing. The true gradient is used wherever any of it gets through.
import { GradientRule } from '../autodiff/gradients';
import { onlyData, outputGradient } from '../autodiff/rules/common';

export const redirectedRelu: GradientRule = function redirectedRelu(ctx) {
  onlyData(ctx);
  const { emit } = ctx;
  const y = ctx.node.output[0];
  const dy = outputGradient(ctx);
  const active = emit.op('Greater', [y, ctx.scalar(0)]);
  const trueGradient = emit.op('Where', [active, dy, ctx.scalar(0)]);
  const redirected = emit.op('Where', [active, dy, emit.op('Relu', [dy])]);
  const rank = ctx.rank(y);
  const rowMass = emit.reduce(
    'ReduceSum',
    emit.op('Abs', [trueGradient]),
    Array.from({ length: rank - 1 }, (_, i) => i + 1),
    true,
  );
  return [emit.op('Where', [emit.op('Greater', [rowMass, ctx.scalar(0)]), trueGradient, redirected])];
};
