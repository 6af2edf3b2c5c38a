// Input gradient of Resize (nearest, linear, cubic; any coordinate_transformation_mode, antialias).
// Each of these modes is linear in x and separable: along a resized axis of length L → L', y is
// A·x with an interpolation matrix A [L', L]. The gradient is the transpose, dx = Aᵀ·dy, applied
// axis by axis as a MatMul. Rather than re-implementing onnxruntime's coordinate arithmetic, Aᵀ is
// obtained from Resize itself: resizing the identity I_L laid out as [L, 1, .., L, .., 1] (the
// batch axis enumerates the basis vectors, only this axis is resized) gives [L, 1, .., L', .., 1],
// whose row j is the weights input j contributes to every output, i.e. Aᵀ. The matrices are
// rebuilt at run time from the actual sizes, so a new input size works.
// Reference: the ONNX Resize spec; PyTorch's upsample_*_backward compute the same transpose.
import { attrInts, attrString } from '../../onnx/graph';
import { AttributeProto, DataType } from '../../onnx/proto';
import { attr } from '../emitter';
import { GradientRule, RuleContext } from '../rule';
import { normalizeAxis, onlyData, outputGradient, range } from './common';

const resize: GradientRule = (ctx) => {
  onlyData(ctx);
  const { emit, node } = ctx;
  const [x, roi, scales, sizes] = node.input;
  const y = node.output[0];
  const rank = ctx.rank(x);
  if (attrString(node, 'keep_aspect_ratio_policy', 'stretch') !== 'stretch') ctx.unsupported('keep_aspect_ratio_policy other than stretch');
  const cropping = attrString(node, 'coordinate_transformation_mode', 'half_pixel') === 'tf_crop_and_resize';
  const listedAxes = attrInts(node, 'axes')?.map((a) => normalizeAxis(a, rank));
  if (cropping && listedAxes) ctx.unsupported('tf_crop_and_resize with the axes attribute');
  const bySizes = !!sizes && (ctx.dims(sizes)[0] ?? 0) > 0;
  const axes = listedAxes ?? range(rank);
  const xDims = ctx.dims(x);
  const yDims = ctx.dims(y);
  const constantScales = !bySizes && scales ? ctx.constant(scales) : undefined;
  // Inputs optional from opset 13 are passed as empty tensors before it.
  const absent = () => (ctx.opset >= 13 ? '' : emit.floats([], [0], DataType.FLOAT));
  const probeAttributes: AttributeProto[] = (node.attribute ?? []).filter((a) => a.name !== 'axes');

  let grad = outputGradient(ctx);
  for (let k = axes.length - 1; k >= 0; k--) {
    const axis = axes[k];
    const unchanged = constantScales ? constantScales.data[k] === 1 && !cropping : false;
    if (axis < 2) {
      if (xDims[axis] !== yDims[axis] || (constantScales && !unchanged)) ctx.unsupported('resizing the batch or channel axis');
      continue;
    }
    if (unchanged) continue;
    const length = emit.shapeSlice(x, axis, axis + 1);
    const basis = emit.op('EyeLike', [emit.filled(emit.op('Concat', [length, length], [attr.int('axis', 0)]), 0, ctx.dtype)]);
    const others = (n: number) => (n > 0 ? [emit.ints(new Array(n).fill(1))] : []);
    const layout = emit.op('Concat', [length, ...others(axis - 1), length, ...others(rank - axis - 1)], [attr.int('axis', 0)]);
    const probe = emit.op('Reshape', [basis, layout]);
    const target = bySizes
      ? [
          absent(),
          emit.op('Concat', [length, ...others(axis - 1), emit.op('Slice', [sizes, emit.ints([k]), emit.ints([k + 1])]), ...others(rank - axis - 1)], [attr.int('axis', 0)]),
        ]
      : [
          emit.op(
            'Concat',
            [
              emit.floats(new Array(axis).fill(1), [axis], DataType.FLOAT),
              emit.op('Slice', [scales, emit.ints([k]), emit.ints([k + 1])]),
              emit.floats(new Array(rank - axis - 1).fill(1), [rank - axis - 1], DataType.FLOAT),
            ],
            [attr.int('axis', 0)],
          ),
        ];
    const resized = emit.op('Resize', [probe, cropping ? roi : absent(), ...target], probeAttributes);
    const transposedMatrix = emit.op('Reshape', [resized, emit.op('Concat', [length, emit.ints([-1])], [attr.int('axis', 0)])]);
    grad = applyAlongAxis(ctx, grad, transposedMatrix, axis, rank);
  }
  return [grad];
};

/** dx = Aᵀ·dy along `axis`, given Aᵀ as [L, L']. */
function applyAlongAxis(ctx: RuleContext, dy: string, transposedMatrix: string, axis: number, rank: number): string {
  const { emit } = ctx;
  if (axis === rank - 2) return emit.op('MatMul', [transposedMatrix, dy]);
  const matrix = emit.op('Transpose', [transposedMatrix], [attr.ints('perm', [1, 0])]);
  if (axis === rank - 1) return emit.op('MatMul', [dy, matrix]);
  const perm = range(rank);
  [perm[axis], perm[rank - 1]] = [perm[rank - 1], perm[axis]];
  const moved = emit.op('MatMul', [emit.op('Transpose', [dy], [attr.ints('perm', perm)]), matrix]);
  return emit.op('Transpose', [moved], [attr.ints('perm', perm)]);
}

export const resizeRules: Record<string, GradientRule> = {
  Resize: resize,
};
