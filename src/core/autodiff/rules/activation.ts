// Gradients of activations (dy = incoming gradient, x = input, y = output):
//   Relu: dy·[x>0]    LeakyRelu: x>0 ? dy : α·dy    PRelu: x>0 ? dy : slope·dy
//   Elu: x>0 ? dy : dy·(y+α)    Selu: x>0 ? γ·dy : dy·(y+γα)
//   Clip (ReLU6): dy·[min<x<max] = dy·[min<y<max], strict like PyTorch's hardtanh_backward
//   Sigmoid: dy·y·(1-y)    Tanh: dy·(1-y²)    HardSigmoid: α·dy·[0<y<1]
//   HardSwish: x<-3 ? 0 : x>3 ? dy : dy·(x/3+1/2)    Softplus: dy·σ(x)    Softsign: dy/(1+|x|)²
//   Gelu: dy·(Φ(x) + x·φ(x)), tanh form differentiated as written in the ONNX spec
//   Softmax: y·(dy - Σ dy·y)    LogSoftmax: dy - exp(y)·Σ dy, sums over the softmax axes
//     (before opset 13 the input is coerced to 2-D at `axis`, so all axes from `axis` on).
// Guided Backpropagation (Springenberg et al., 2015) and deconvnet (Zeiler & Fergus, 2014) swap
// the ReLU rule: guided = relu(dy)·[x>0], deconv = relu(dy). As in Captum's GuidedBackprop and
// Deconvolution, only ReLU is overridden (Captum hooks torch.nn.ReLU modules only, so ReLU6, which
// exports as Clip, keeps its ordinary gradient).
// Reference: PyTorch derivatives.yaml (threshold_backward, leaky_relu_backward, elu_backward,
// hardtanh_backward, sigmoid_backward, tanh_backward, hardsigmoid_backward, hardswish_backward,
// softplus_backward, gelu_backward, _softmax_backward_data, _log_softmax_backward_data);
// Captum captum/attr/_core/guided_backprop_deconvnet.py.
import { attrFloat, attrInt, attrString } from '../../onnx/graph';
import { attr } from '../emitter';
import { GradientRule, RuleContext } from '../rule';
import { normalizeAxis, onlyData, outputGradient, range } from './common';

type UnaryGradient = (ctx: RuleContext, dy: string, x: string, y: string) => string;

function activation(dx: UnaryGradient): GradientRule {
  return (ctx) => {
    onlyData(ctx);
    return [dx(ctx, outputGradient(ctx), ctx.node.input[0], ctx.node.output[0])];
  };
}

const positive = (ctx: RuleContext, t: string) => ctx.emit.op('Greater', [t, ctx.scalar(0)]);

/** dy·[condition]; onnxruntime runs Mul(Cast(condition)) about twice as fast as Where. */
const masked = (ctx: RuleContext, dy: string, condition: string) => ctx.emit.op('Mul', [dy, ctx.emit.op('Cast', [condition], [attr.int('to', ctx.dtype)])]);

/** x > 0 ? dy : negativeSide */
const byInputSign = (ctx: RuleContext, x: string, dy: string, negativeSide: string) => ctx.emit.op('Where', [positive(ctx, x), dy, negativeSide]);

const relu: GradientRule = function relu(ctx) {
  onlyData(ctx);
  return [masked(ctx, outputGradient(ctx), positive(ctx, ctx.node.output[0]))];
};

/** Guided Backpropagation's ReLU: only positive gradients, only where the input was positive. */
export const guidedRelu: GradientRule = function guidedRelu(ctx) {
  onlyData(ctx);
  return [masked(ctx, ctx.emit.op('Relu', [outputGradient(ctx)]), positive(ctx, ctx.node.output[0]))];
};

/** Deconvnet's ReLU: the ReLU of the gradient, whatever the input's sign. */
export const deconvRelu: GradientRule = function deconvRelu(ctx) {
  onlyData(ctx);
  return [ctx.emit.op('Relu', [outputGradient(ctx)])];
};

const leakyRelu = activation((ctx, dy, x) => byInputSign(ctx, x, dy, ctx.emit.op('Mul', [dy, ctx.scalar(attrFloat(ctx.node, 'alpha', 0.01))])));

const prelu: GradientRule = (ctx) => {
  onlyData(ctx);
  const dy = outputGradient(ctx);
  const [x, slope] = ctx.node.input;
  return [byInputSign(ctx, x, dy, ctx.emit.op('Mul', [dy, slope]))];
};

const elu = activation((ctx, dy, x, y) => byInputSign(ctx, x, dy, ctx.emit.op('Mul', [dy, ctx.emit.op('Add', [y, ctx.scalar(attrFloat(ctx.node, 'alpha', 1))])])));

const SELU_ALPHA = 1.67326319217681884765625;
const SELU_GAMMA = 1.05070102214813232421875;
const selu = activation((ctx, dy, x, y) => {
  const { emit } = ctx;
  const gamma = attrFloat(ctx.node, 'gamma', SELU_GAMMA);
  const alpha = attrFloat(ctx.node, 'alpha', SELU_ALPHA);
  return byInputSign(ctx, x, emit.op('Mul', [dy, ctx.scalar(gamma)]), emit.op('Mul', [dy, emit.op('Add', [y, ctx.scalar(gamma * alpha)])]));
});

const clip: GradientRule = (ctx) => {
  onlyData(ctx);
  const { emit } = ctx;
  const dy = outputGradient(ctx);
  // min < x < max exactly where min < y < max (y = min(max(x, min), max)): reading the output
  // keeps onnxruntime's Conv+Clip fusion, which a consumer of x would break.
  const y = ctx.node.output[0];
  // From opset 11 the bounds are optional inputs (earlier opsets are refused by the builder).
  const [, min, max] = ctx.node.input;
  const conditions = [min && emit.op('Greater', [y, min]), max && emit.op('Less', [y, max])].filter((c): c is string => !!c);
  if (conditions.length === 0) return [dy];
  return [masked(ctx, dy, conditions.length === 2 ? emit.op('And', conditions) : conditions[0])];
};

const sigmoid = activation((ctx, dy, _x, y) => ctx.emit.op('Mul', [dy, ctx.emit.op('Mul', [y, ctx.emit.op('Sub', [ctx.scalar(1), y])])]));

const tanh = activation((ctx, dy, _x, y) => ctx.emit.op('Mul', [dy, ctx.emit.op('Sub', [ctx.scalar(1), ctx.emit.op('Mul', [y, y])])]));

const hardSigmoid = activation((ctx, dy, _x, y) => {
  const { emit } = ctx;
  const inside = emit.op('And', [emit.op('Greater', [y, ctx.scalar(0)]), emit.op('Less', [y, ctx.scalar(1)])]);
  return emit.op('Where', [inside, emit.op('Mul', [dy, ctx.scalar(attrFloat(ctx.node, 'alpha', 0.2))]), ctx.scalar(0)]);
});

const hardSwish = activation((ctx, dy, x) => {
  const { emit } = ctx;
  const middle = emit.op('Mul', [dy, emit.op('Add', [emit.op('Div', [x, ctx.scalar(3)]), ctx.scalar(0.5)])]);
  const upper = emit.op('Where', [emit.op('Greater', [x, ctx.scalar(3)]), dy, middle]);
  return emit.op('Where', [emit.op('Less', [x, ctx.scalar(-3)]), ctx.scalar(0), upper]);
});

const softplus = activation((ctx, dy, x) => ctx.emit.op('Mul', [dy, ctx.emit.op('Sigmoid', [x])]));

const softsign = activation((ctx, dy, x) => {
  const { emit } = ctx;
  const denominator = emit.op('Add', [ctx.scalar(1), emit.op('Abs', [x])]);
  return emit.op('Div', [dy, emit.op('Mul', [denominator, denominator])]);
});

const gelu = activation((ctx, dy, x) => {
  const { emit } = ctx;
  const half = ctx.scalar(0.5);
  if (attrString(ctx.node, 'approximate', 'none') === 'tanh') {
    // y = x/2·(1 + tanh(u)), u = √(2/π)·(x + 0.044715x³)
    const c = Math.sqrt(2 / Math.PI);
    const x2 = emit.op('Mul', [x, x]);
    const u = emit.op('Mul', [emit.op('Mul', [x, emit.op('Add', [ctx.scalar(1), emit.op('Mul', [x2, ctx.scalar(0.044715)])])]), ctx.scalar(c)]);
    const t = emit.op('Tanh', [u]);
    const du = emit.op('Mul', [emit.op('Add', [ctx.scalar(1), emit.op('Mul', [x2, ctx.scalar(3 * 0.044715)])]), ctx.scalar(c)]);
    const sech2 = emit.op('Sub', [ctx.scalar(1), emit.op('Mul', [t, t])]);
    const derivative = emit.op('Add', [emit.op('Mul', [emit.op('Add', [ctx.scalar(1), t]), half]), emit.op('Mul', [emit.op('Mul', [x, half]), emit.op('Mul', [sech2, du])])]);
    return emit.op('Mul', [dy, derivative]);
  }
  const cdf = emit.op('Mul', [emit.op('Add', [ctx.scalar(1), emit.op('Erf', [emit.op('Mul', [x, ctx.scalar(Math.SQRT1_2)])])]), half]);
  const pdf = emit.op('Mul', [emit.op('Exp', [emit.op('Mul', [emit.op('Mul', [x, x]), ctx.scalar(-0.5)])]), ctx.scalar(1 / Math.sqrt(2 * Math.PI))]);
  return emit.op('Mul', [dy, emit.op('Add', [cdf, emit.op('Mul', [x, pdf])])]);
});

/** The axes a (Log)Softmax normalises over, by opset. */
function softmaxAxes(ctx: RuleContext): number[] {
  const rank = ctx.rank(ctx.node.input[0]);
  if (ctx.opset >= 13) return [normalizeAxis(attrInt(ctx.node, 'axis', -1), rank)];
  const axis = normalizeAxis(attrInt(ctx.node, 'axis', 1), rank);
  return range(rank - axis, axis);
}

const softmax = activation((ctx, dy, _x, y) => {
  const { emit } = ctx;
  const dot = emit.reduce('ReduceSum', emit.op('Mul', [dy, y]), softmaxAxes(ctx), true);
  return emit.op('Mul', [y, emit.op('Sub', [dy, dot])]);
});

const logSoftmax = activation((ctx, dy, _x, y) => {
  const { emit } = ctx;
  const total = emit.reduce('ReduceSum', dy, softmaxAxes(ctx), true);
  return emit.op('Sub', [dy, emit.op('Mul', [emit.op('Exp', [y]), total])]);
});

export const activationRules: Record<string, GradientRule> = {
  Relu: relu,
  LeakyRelu: leakyRelu,
  PRelu: prelu,
  Elu: elu,
  Selu: selu,
  Clip: clip,
  Sigmoid: sigmoid,
  Tanh: tanh,
  HardSigmoid: hardSigmoid,
  HardSwish: hardSwish,
  Softplus: softplus,
  Softsign: softsign,
  Gelu: gelu,
  Softmax: softmax,
  LogSoftmax: logSoftmax,
};
