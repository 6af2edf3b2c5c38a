// Gradients of elementwise arithmetic with numpy broadcasting. Every operand's gradient is reduced
// back to its own shape (ctx.unbroadcast). Formulas (dy = incoming gradient, y = output):
//   Add: da = dy, db = dy           Sub: da = dy, db = -dy
//   Mul: da = dy·b, db = dy·a        Div: da = dy/b, db = -dy·y/b
//   Sum: dx_i = dy                   Mean: dx_i = dy/n
//   Max/Min: dx_i = dy·[x_i = y] / #ties (ties share the gradient, as torch.maximum does)
//   Where(c, a, b): da = dy·[c], db = dy·[¬c]        Expand: dx = Σ over the expanded axes
//   Pow(x, p), p not differentiated: dx = dy·p·x^(p-1)
//   Neg: -dy   Sqrt: dy/(2y)   Exp: dy·y   Log: dy/x   Reciprocal: -dy·y²   Abs: dy·sign(x)
//   Erf: dy·(2/√π)·exp(-x²)      Cast (float to float): dy cast back
// Reference: PyTorch tools/autograd/derivatives.yaml for add, sub, mul, div, pow, sqrt, exp, log,
// reciprocal, abs, erf, where, expand, maximum, minimum.
import { attr } from '../emitter';
import { GradientRule, RuleContext } from '../rule';
import { onlyData, outputGradient } from './common';

const PI = Math.PI;

function binary(da: (ctx: RuleContext, dy: string) => string, db: (ctx: RuleContext, dy: string) => string): GradientRule {
  return (ctx) => {
    const dy = outputGradient(ctx);
    const [a, b] = ctx.node.input;
    const y = ctx.node.output[0];
    return [ctx.wants[0] ? ctx.unbroadcast(da(ctx, dy), y, a) : undefined, ctx.wants[1] ? ctx.unbroadcast(db(ctx, dy), y, b) : undefined];
  };
}

function unary(dx: (ctx: RuleContext, dy: string, x: string, y: string) => string): GradientRule {
  return (ctx) => {
    onlyData(ctx);
    return [dx(ctx, outputGradient(ctx), ctx.node.input[0], ctx.node.output[0])];
  };
}

const add = binary(
  (_, dy) => dy,
  (_, dy) => dy,
);
// Negating after the reduction touches fewer elements.
const sub: GradientRule = (ctx) => {
  const [da, db] = binary(
    (_, dy) => dy,
    (_, dy) => dy,
  )(ctx);
  return [da, db && ctx.emit.op('Neg', [db])];
};
const mul = binary(
  (ctx, dy) => ctx.emit.op('Mul', [dy, ctx.node.input[1]]),
  (ctx, dy) => ctx.emit.op('Mul', [dy, ctx.node.input[0]]),
);
const div = binary(
  (ctx, dy) => ctx.emit.op('Div', [dy, ctx.node.input[1]]),
  (ctx, dy) => ctx.emit.op('Neg', [ctx.emit.op('Div', [ctx.emit.op('Mul', [dy, ctx.node.output[0]]), ctx.node.input[1]])]),
);

function variadic(scale: (ctx: RuleContext) => number): GradientRule {
  return (ctx) => {
    const dy = outputGradient(ctx);
    const factor = scale(ctx);
    const scaled = factor === 1 ? dy : ctx.emit.op('Mul', [dy, ctx.scalar(factor)]);
    return ctx.node.input.map((x, k) => (ctx.wants[k] ? ctx.unbroadcast(scaled, ctx.node.output[0], x) : undefined));
  };
}

/** dx_i = dy·[x_i = y]/#(inputs equal to y): ties share the gradient as torch.maximum/minimum do. */
const extremum: GradientRule = (ctx) => {
  const { emit, node } = ctx;
  const dy = outputGradient(ctx);
  const y = node.output[0];
  const hits = node.input.map((x) => emit.op('Cast', [emit.op('Equal', [x, y])], [attr.int('to', ctx.dtype)]));
  const share = emit.op('Div', [dy, emit.sum(hits)]);
  return node.input.map((x, k) => (ctx.wants[k] ? ctx.unbroadcast(emit.op('Mul', [share, hits[k]]), y, x) : undefined));
};

const where: GradientRule = (ctx) => {
  const dy = outputGradient(ctx);
  const [condition, a, b] = ctx.node.input;
  const y = ctx.node.output[0];
  const zero = ctx.scalar(0);
  return [
    undefined,
    ctx.wants[1] ? ctx.unbroadcast(ctx.emit.op('Where', [condition, dy, zero]), y, a) : undefined,
    ctx.wants[2] ? ctx.unbroadcast(ctx.emit.op('Where', [condition, zero, dy]), y, b) : undefined,
  ];
};

const expand: GradientRule = (ctx) => {
  onlyData(ctx);
  return [ctx.unbroadcast(outputGradient(ctx), ctx.node.output[0], ctx.node.input[0])];
};

const pow: GradientRule = (ctx) => {
  onlyData(ctx);
  const { emit } = ctx;
  const dy = outputGradient(ctx);
  const [x, p] = ctx.node.input;
  const exponent = ctx.elemType(p) === ctx.dtype ? p : emit.op('Cast', [p], [attr.int('to', ctx.dtype)]);
  const derivative = emit.op('Mul', [exponent, emit.op('Pow', [x, emit.op('Sub', [exponent, ctx.scalar(1)])])]);
  return [ctx.unbroadcast(emit.op('Mul', [dy, derivative]), ctx.node.output[0], x)];
};

const cast: GradientRule = (ctx) => [ctx.emit.op('Cast', [outputGradient(ctx)], [attr.int('to', ctx.elemType(ctx.node.input[0]))])];

export const elementwiseRules: Record<string, GradientRule> = {
  Add: add,
  Sub: sub,
  Mul: mul,
  Div: div,
  Sum: variadic(() => 1),
  Mean: variadic((ctx) => 1 / ctx.node.input.length),
  Max: extremum,
  Min: extremum,
  Where: where,
  Expand: expand,
  Pow: pow,
  Cast: cast,
  Neg: unary((ctx, dy) => ctx.emit.op('Neg', [dy])),
  Sqrt: unary((ctx, dy, _x, y) => ctx.emit.op('Div', [ctx.emit.op('Mul', [dy, ctx.scalar(0.5)]), y])),
  Exp: unary((ctx, dy, _x, y) => ctx.emit.op('Mul', [dy, y])),
  Log: unary((ctx, dy, x) => ctx.emit.op('Div', [dy, x])),
  Reciprocal: unary((ctx, dy, _x, y) => ctx.emit.op('Neg', [ctx.emit.op('Mul', [dy, ctx.emit.op('Mul', [y, y])])])),
  Abs: unary((ctx, dy, x) => ctx.emit.op('Mul', [dy, ctx.emit.op('Sign', [x])])),
  Erf: unary((ctx, dy, x) => {
    const { emit } = ctx;
    const gauss = emit.op('Exp', [emit.op('Neg', [emit.op('Mul', [x, x])])]);
    return emit.op('Mul', [dy, emit.op('Mul', [gauss, ctx.scalar(2 / Math.sqrt(PI))])]);
  }),
};
