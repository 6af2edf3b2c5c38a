// Input gradients of normalisation layers (scale, bias and statistics are not differentiated):
//   BatchNormalization, inference form y = γ·(x-μ)/√(σ²+ε) + β with stored μ, σ²:
//     dx = dy·γ/√(σ²+ε), per channel (axis 1).
//   InstanceNormalization (statistics over the spatial axes of each sample and channel) and
//   LayerNormalization (statistics over the axes from `axis` on), x̂ = (x-μ)·r, r = 1/√(var+ε):
//     ĝ = dy·γ,  dx = r·(ĝ - mean(ĝ) - x̂·mean(ĝ·x̂)), means over the normalised axes.
//   The statistics are recomputed from x in the backward graph (two reductions), as onnxruntime
//   does not expose them for InstanceNormalization.
// Reference: PyTorch derivatives.yaml (native_batch_norm_backward in eval mode,
// native_layer_norm_backward) and aten/src/ATen/native/layer_norm.cpp.
import { attrFloat, attrInt } from '../../onnx/graph';
import { GradientRule, RuleContext } from '../rule';
import { normalizeAxis, onlyData, outputGradient, range } from './common';

/** γ of shape [C] reshaped to broadcast along axis 1 of a tensor of the given rank. */
function perChannel(ctx: RuleContext, t: string, rank: number): string {
  return ctx.emit.op('Reshape', [t, ctx.emit.ints([-1, ...new Array(rank - 2).fill(1)])]);
}

function refuseStatisticOutputs(ctx: RuleContext): void {
  if (ctx.dy.slice(1).some(Boolean)) ctx.unsupported('a gradient flows into its statistics outputs');
}

const batchNormalization: GradientRule = (ctx) => {
  onlyData(ctx);
  refuseStatisticOutputs(ctx);
  if (attrInt(ctx.node, 'training_mode', 0) === 1) ctx.unsupported('training mode (batch statistics) is not differentiated');
  const { emit, node } = ctx;
  const [x, scale, , , variance] = node.input;
  const epsilon = attrFloat(node, 'epsilon', 1e-5);
  const factor = emit.op('Div', [scale, emit.op('Sqrt', [emit.op('Add', [variance, ctx.scalar(epsilon)])])]);
  return [emit.op('Mul', [outputGradient(ctx), perChannel(ctx, factor, ctx.rank(x))])];
};

/** dx of y = x̂·γ + β where x̂ is x standardised over `axes`; `gamma` already broadcastable to x. */
function standardizedGradient(ctx: RuleContext, x: string, gamma: string, axes: number[], epsilon: number): string {
  const { emit } = ctx;
  const mean = (t: string) => emit.reduce('ReduceMean', t, axes, true);
  const centered = emit.op('Sub', [x, mean(x)]);
  const inverseStd = emit.op('Reciprocal', [emit.op('Sqrt', [emit.op('Add', [mean(emit.op('Mul', [centered, centered])), ctx.scalar(epsilon)])])]);
  const standardized = emit.op('Mul', [centered, inverseStd]);
  const g = emit.op('Mul', [outputGradient(ctx), gamma]);
  const projection = emit.op('Mul', [standardized, mean(emit.op('Mul', [g, standardized]))]);
  return emit.op('Mul', [inverseStd, emit.op('Sub', [emit.op('Sub', [g, mean(g)]), projection])]);
}

const instanceNormalization: GradientRule = (ctx) => {
  onlyData(ctx);
  const [x, scale] = ctx.node.input;
  const rank = ctx.rank(x);
  return [standardizedGradient(ctx, x, perChannel(ctx, scale, rank), range(rank - 2, 2), attrFloat(ctx.node, 'epsilon', 1e-5))];
};

const layerNormalization: GradientRule = (ctx) => {
  onlyData(ctx);
  refuseStatisticOutputs(ctx);
  const [x, scale] = ctx.node.input;
  const rank = ctx.rank(x);
  const axis = normalizeAxis(attrInt(ctx.node, 'axis', -1), rank);
  return [standardizedGradient(ctx, x, scale, range(rank - axis, axis), attrFloat(ctx.node, 'epsilon', 1e-5))];
};

export const normalizationRules: Record<string, GradientRule> = {
  BatchNormalization: batchNormalization,
  InstanceNormalization: instanceNormalization,
  LayerNormalization: layerNormalization,
};
