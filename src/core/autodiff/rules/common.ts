// Small pieces shared by the rule files.
import { RuleContext } from '../rule';

/**
 * Refuses nodes where an input other than the data inputs lies on the differentiated path (e.g.
 * weights computed from the input): those gradients are never built.
 */
export function onlyData(ctx: RuleContext, dataInputs: readonly number[] = [0]): void {
  ctx.wants.forEach((wanted, k) => {
    if (wanted && !dataInputs.includes(k)) {
      ctx.unsupported(`its input '${ctx.node.input[k]}' depends on the differentiated tensors, and only gradients of data inputs are built`);
    }
  });
}

/** The gradient flowing into output 0, which every rule here needs. */
export function outputGradient(ctx: RuleContext, index = 0): string {
  const dy = ctx.dy[index];
  if (!dy) ctx.unsupported(`a gradient flows only into output ${ctx.dy.findIndex(Boolean)}`);
  return dy;
}

/** Axis normalised to [0, rank). */
export function normalizeAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

export function range(n: number, start = 0): number[] {
  return Array.from({ length: n }, (_, i) => start + i);
}
