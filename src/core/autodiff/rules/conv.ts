// Input gradients of convolutions (weights are never differentiated):
//   Conv y = x ⋆ W (strides s, dilations d, pads p, group g):
//     dx = ConvTranspose(dy, W) with the same s, d, g and begin pads. A Conv weight [M, C/g, k...]
//     is exactly a ConvTranspose weight mapping M channels back to C. It covers s·(O-1) + k_eff -
//     p_begin positions, which may end before the input (positions no window read get zeros) or
//     after it (positions in the end padding are cut): a Pad computed from Shape(x) fits it, so no
//     size is baked in. With stride 1 the same sum is a plain convolution of dy with W's channel
//     axes swapped (per group) and its kernel reversed, pads k_eff - 1 - p: onnxruntime runs Conv
//     much faster than ConvTranspose, so that form is used wherever no pad exceeds k_eff - 1.
//     auto_pad SAME: ConvTranspose without pads, then crop the begin padding computed at run time.
//   ConvTranspose y = x ⋆ᵀ W: dx = Conv(dy, W) with the same s, d, g and begin pads, end pads
//     max(0, p_end - output_padding), which gives exactly the input's extent.
// Reference: PyTorch's convolution_backward (aten/src/ATen/native/Convolution.cpp), where the
// input gradient of a convolution is the transposed convolution and vice versa.
import { attrInts, attrString } from '../../onnx/graph';
import { INT64_MIN, attr } from '../emitter';
import { GradientRule, RuleContext } from '../rule';
import { onlyData, outputGradient, range } from './common';
import { Window, beginPadsOnly, effectiveKernel, fitSpatial, groupOf, isSame, samePadBegin, windowAttributes, windowOf } from './window';

const conv: GradientRule = (ctx) => {
  onlyData(ctx);
  const { emit, node } = ctx;
  const dy = outputGradient(ctx);
  const [x, weight] = node.input;
  const w = windowOf(node, ctx.dims(weight).slice(2));
  const group = attr.int('group', groupOf(node));
  if (w.strides.every((s) => s === 1)) {
    const pads = strideOnePads(w);
    if (pads.every((p) => p >= 0)) return [emit.op('Conv', [dy, flippedWeight(ctx, weight)], [attr.ints('dilations', w.dilations), attr.ints('pads', pads), group])];
  }
  const transposed = (pads: number[]) => emit.op('ConvTranspose', [dy, weight], [...windowAttributes(w, pads), group]);
  if (isSame(w)) return [fitSpatial(ctx, transposed(w.pads), x, samePadBegin(emit, w, x, node.output[0]))];
  return [
    fitSpatial(
      ctx,
      transposed(beginPadsOnly(w)),
      x,
      w.kernel.map(() => 0),
    ),
  ];
};

/**
 * Pads of the stride-1 transposed convolution written as a convolution: k_eff - 1 - p at each end.
 * Under auto_pad SAME with stride 1 the total padding is k_eff - 1 whatever the size, so static.
 */
function strideOnePads(w: Window): number[] {
  const nd = w.kernel.length;
  const reach = effectiveKernel(w).map((k) => k - 1);
  if (!isSame(w)) return [...w.pads.slice(0, nd).map((p, i) => reach[i] - p), ...w.pads.slice(nd).map((p, i) => reach[i] - p)];
  const begin = reach.map((r) => (w.autoPad === 'SAME_UPPER' ? Math.floor(r / 2) : r - Math.floor(r / 2)));
  return [...begin.map((b, i) => reach[i] - b), ...begin];
}

/**
 * W [M, C/g, k...] as the weight of the convolution that maps M channels back to C: within each
 * group the two channel axes swapped, [C, M/g, k...], and the kernel reversed along every spatial
 * axis. W is an initializer in exported models, so onnxruntime folds this at session creation.
 */
function flippedWeight(ctx: RuleContext, weight: string): string {
  const { emit } = ctx;
  const [m, cPerGroup, ...kernel] = ctx.dims(weight);
  const g = groupOf(ctx.node);
  const grouped = emit.op('Reshape', [weight, emit.ints([g, m / g, cPerGroup, ...kernel])]);
  const swapped = emit.op('Transpose', [grouped], [attr.ints('perm', [0, 2, 1, ...range(kernel.length, 3)])]);
  const transposed = emit.op('Reshape', [swapped, emit.ints([g * cPerGroup, m / g, ...kernel])]);
  const spatial = range(kernel.length, 2).filter((a) => kernel[a - 2] > 1);
  if (spatial.length === 0) return transposed;
  const all = spatial.map(() => -1);
  return emit.op('Slice', [transposed, emit.ints(all), emit.ints(spatial.map(() => INT64_MIN)), emit.ints(spatial), emit.ints(all)]);
}

const convTranspose: GradientRule = (ctx) => {
  onlyData(ctx);
  const { emit, node } = ctx;
  const dy = outputGradient(ctx);
  const [x, weight] = node.input;
  const w = windowOf(node, ctx.dims(weight).slice(2));
  const nd = w.kernel.length;
  const outputPadding = attrInts(node, 'output_padding') ?? new Array(nd).fill(0);
  const pads = transposePads(ctx.dims(x).slice(2), ctx.dims(node.output[0]).slice(2), w.pads, outputPadding, effectiveKernel(w), w.strides, node);
  const convPads = [...pads.slice(0, nd), ...pads.slice(nd).map((p, i) => Math.max(0, p - outputPadding[i]))];
  return [emit.op('Conv', [dy, weight], [...windowAttributes(w, convPads), attr.int('group', groupOf(node))])];
};

/**
 * The pads a ConvTranspose applied. With output_shape or auto_pad SAME they are derived from the
 * total padding s·(in-1) + output_padding + k_eff - out, split as the ONNX spec says: SAME_UPPER
 * puts the extra unit at the end, otherwise at the beginning.
 */
function transposePads(
  inSize: number[],
  outSize: number[],
  explicit: number[],
  outputPadding: number[],
  kernel: number[],
  strides: number[],
  node: Parameters<typeof attrString>[0],
): number[] {
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  if (!attrInts(node, 'output_shape') && (autoPad === 'NOTSET' || autoPad === 'VALID')) return explicit;
  const total = inSize.map((n, i) => Math.max(0, strides[i] * (n - 1) + outputPadding[i] + kernel[i] - outSize[i]));
  const begin = total.map((t) => (autoPad === 'SAME_UPPER' ? Math.floor(t / 2) : t - Math.floor(t / 2)));
  return [...begin, ...total.map((t, i) => t - begin[i])];
}

export const convRules: Record<string, GradientRule> = {
  Conv: conv,
  ConvTranspose: convTranspose,
};
