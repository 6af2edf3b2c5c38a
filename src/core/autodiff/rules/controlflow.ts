// Gradient of If: the vector-Jacobian product of the branch that was taken. The backward graph has
// an If on the same condition whose branches are the backward graphs of the forward branches
// (built by the same engine, RuleContext.differentiateSubgraph): each outputs, for every outer-scope
// tensor on the differentiated path, Σ_k dy_k · ∂ branch_output_k / ∂ tensor, zeros where that
// branch does not read it. The condition is bool and gets no gradient; a branch whose outputs do
// not depend on the tensor contributes zeros, as torch.cond's backward does.
// Loop and Scan have no rule: their gradient is refused by name (the builder never prunes them).
import { allInputs } from '../../onnx/graph';
import { GraphProto } from '../../onnx/proto';
import { attr } from '../emitter';
import { GradientRule } from '../rule';

const ifRule: GradientRule = (ctx) => {
  const inputs = allInputs(ctx.node);
  const wrt = inputs.filter((_, k) => k > 0 && ctx.wants[k]);
  const branch = (name: string): GraphProto => {
    const body = ctx.node.attribute?.find((a) => a.name === name)?.g;
    if (!body) return ctx.unsupported(`it has no ${name}`);
    return ctx.differentiateSubgraph(body, ctx.dy, wrt);
  };
  const thenGrad = branch('then_branch');
  const elseGrad = branch('else_branch');
  const grads = ctx.emit.emit('If', [ctx.node.input[0]], [attr.graph('then_branch', thenGrad), attr.graph('else_branch', elseGrad)], wrt.length);
  return inputs.map((name, k) => (k > 0 && ctx.wants[k] ? grads[wrt.indexOf(name)] : undefined));
};

export const controlFlowRules: Record<string, GradientRule> = { If: ifRule };
