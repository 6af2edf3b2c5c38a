// Normalisation, reduction, shape-moving and Resize gradients against central finite differences,
// including the opset-11 and opset-13+ forms of ops whose axes moved from attribute to input.
import { Tensor } from '../../src/core/tensor';
import { attr, checkGradients, FloatType, node, separated, tensor, uniform } from './autodiff/harness';

const F64: FloatType = 'float64';
const ints = (values: number[]): Tensor => ({ dtype: 'int64', dims: [values.length], data: BigInt64Array.from(values.map(BigInt)) });
const floats = (values: number[]): Tensor => tensor('float32', [values.length], values);

function single(op: string, x: Tensor, opts: { opset?: number; attributes?: Parameters<typeof node>[3]; extra?: Record<string, Tensor>; extraNames?: string[] } = {}) {
  const extraNames = opts.extraNames ?? Object.keys(opts.extra ?? {});
  return checkGradients({
    opset: opts.opset ?? 13,
    nodes: [node(op, ['x', ...extraNames], ['y'], opts.attributes ?? [])],
    inputs: { x },
    initializers: opts.extra,
    output: 'y',
  });
}

describe('autodiff: normalisation', () => {
  it('BatchNormalization (inference) at opsets 11 and 15', async () => {
    for (const opset of [11, 15]) {
      await single('BatchNormalization', uniform([2, 3, 4, 4], 1), {
        opset,
        attributes: [attr.float('epsilon', 1e-3)],
        extra: { scale: uniform([3], 2, 0.5, 1.5), bias: uniform([3], 3), mean: uniform([3], 4), var: uniform([3], 5, 0.5, 2) },
      });
    }
  });
  it('InstanceNormalization', () =>
    single('InstanceNormalization', uniform([2, 3, 4, 5], 6, -2, 2), {
      extra: { scale: uniform([3], 7, 0.5, 1.5), bias: uniform([3], 8) },
      attributes: [attr.float('epsilon', 1e-3)],
    }));
  it('LayerNormalization over the last axis and over axes 1.. (opset 17)', async () => {
    await single('LayerNormalization', uniform([2, 3, 6], 9, -2, 2, F64), { opset: 17, extra: { scale: uniform([6], 10, 0.5, 1.5, F64), bias: uniform([6], 11, -1, 1, F64) } });
    await single('LayerNormalization', uniform([2, 3, 4], 12, -2, 2), { opset: 17, attributes: [attr.int('axis', 1)], extra: { scale: uniform([3, 4], 13, 0.5, 1.5) } });
  });
});

describe('autodiff: reductions', () => {
  it('ReduceSum: axes attribute (opset 11) and input (opset 13), keepdims 0/1, all axes, noop', async () => {
    const x = uniform([2, 3, 4], 14, -1, 1, F64);
    await single('ReduceSum', x, { opset: 11, attributes: [attr.ints('axes', [1, -1]), attr.int('keepdims', 0)] });
    await single('ReduceSum', x, { opset: 11 });
    await single('ReduceSum', x, { opset: 13, extra: { axes: ints([0, 2]) }, attributes: [attr.int('keepdims', 0)] });
    await single('ReduceSum', x, { opset: 13, extra: { axes: ints([1]) } });
    await single('ReduceSum', x, { opset: 13, extra: { axes: ints([]) }, attributes: [attr.int('noop_with_empty_axes', 1)] });
  });
  it('ReduceMean: axes attribute (opsets 11, 13) and input (opset 18)', async () => {
    const x = uniform([2, 3, 4], 15, -1, 1, F64);
    await single('ReduceMean', x, {
      opset: 11,
      attributes: [
        attr.ints(
          'axes',
          [2, 3].map((a) => a - 1),
        ),
        attr.int('keepdims', 0),
      ],
    });
    await single('ReduceMean', x, { opset: 13, attributes: [attr.ints('axes', [-1])] });
    await single('ReduceMean', x, { opset: 18, extra: { axes: ints([0, 1]) }, attributes: [attr.int('keepdims', 0)] });
  });
  it('ReduceMax and ReduceMin, keepdims 0 and 1, opsets 13 and 18', async () => {
    const x = separated([2, 3, 4], 16, 2, F64);
    for (const op of ['ReduceMax', 'ReduceMin']) {
      await single(op, x, { opset: 13, attributes: [attr.ints('axes', [1]), attr.int('keepdims', 0)] });
      await single(op, x, { opset: 18, extra: { axes: ints([0, 2]) } });
    }
  });
});

describe('autodiff: more reductions', () => {
  it('ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSumExp: axes attribute (opset 13) and input (opset 18)', async () => {
    const x = separated([2, 3, 4], 30, 2, F64);
    for (const op of ['ReduceL1', 'ReduceL2', 'ReduceSumSquare', 'ReduceLogSumExp']) {
      await single(op, x, { opset: 13, attributes: [attr.ints('axes', [1]), attr.int('keepdims', 0)] });
      await single(op, x, { opset: 18, extra: { axes: ints([0, 2]) } });
    }
  });
});

describe('autodiff: shape ops', () => {
  const x = uniform([2, 3, 4], 17, -1, 1, F64);
  it('Identity, Dropout, Flatten, Reshape', async () => {
    await single('Identity', x);
    await single('Dropout', x, { opset: 12 });
    await single('Flatten', x, { attributes: [attr.int('axis', 2)] });
    await single('Reshape', x, { extra: { shape: ints([4, -1]) } });
  });
  it('Squeeze and Unsqueeze: axes attribute (opset 11) and input (opset 13)', async () => {
    const thin = uniform([2, 1, 4, 1], 18, -1, 1, F64);
    await single('Squeeze', thin, { opset: 11, attributes: [attr.ints('axes', [1])] });
    await single('Squeeze', thin, { opset: 11 });
    await single('Squeeze', thin, { opset: 13, extra: { axes: ints([-1, 1]) } });
    await single('Unsqueeze', x, { opset: 11, attributes: [attr.ints('axes', [0, 4])] });
    await single('Unsqueeze', x, { opset: 13, extra: { axes: ints([1]) } });
  });
  it('Transpose with and without perm', async () => {
    await single('Transpose', x, { attributes: [attr.ints('perm', [1, 2, 0])] });
    await single('Transpose', x);
  });
  it('Concat along axes 1 and -1, with one differentiated input among constants', async () => {
    await checkGradients({
      opset: 13,
      nodes: [node('Concat', ['a', 'b', 'a'], ['y'], [attr.int('axis', 1)])],
      inputs: { a: uniform([2, 3, 4], 19, -1, 1, F64), b: uniform([2, 2, 4], 20, -1, 1, F64) },
      output: 'y',
    });
    await checkGradients(
      {
        opset: 11,
        nodes: [node('Concat', ['c', 'a', 'b'], ['y'], [attr.int('axis', -1)])],
        inputs: { a: uniform([2, 3], 21, -1, 1, F64), b: uniform([2, 1], 22, -1, 1, F64) },
        initializers: { c: uniform([2, 2], 23, -1, 1, F64) },
        output: 'y',
      },
      { wrt: ['a', 'b'] },
    );
  });
  it('Split: attribute (opset 11), input (opset 13), num_outputs (opset 18), one output unused', async () => {
    const splitGraph = (opset: number, splitNode: ReturnType<typeof node>, extra?: Record<string, Tensor>) =>
      checkGradients({
        opset,
        nodes: [splitNode, node('Mul', ['p0', 'p0'], ['q']), node('Concat', ['q', 'p2'], ['y'], [attr.int('axis', 1)])],
        inputs: { x: uniform([2, 6, 3], 24, -1, 1, F64) },
        initializers: extra,
        output: 'y',
      });
    await splitGraph(11, node('Split', ['x'], ['p0', 'p1', 'p2'], [attr.int('axis', 1), attr.ints('split', [1, 2, 3])]));
    await splitGraph(13, node('Split', ['x', 'sizes'], ['p0', 'p1', 'p2'], [attr.int('axis', 1)]), { sizes: ints([3, 1, 2]) });
    await splitGraph(18, node('Split', ['x'], ['p0', 'p1', 'p2'], [attr.int('axis', 1), attr.int('num_outputs', 3)]));
  });
  it('Slice: unit steps with negative and clamped bounds, step 2, step -1, axes subset', async () => {
    const big = uniform([3, 5, 6], 25, -1, 1, F64);
    const slice = (starts: number[], ends: number[], axes?: number[], steps?: number[]) =>
      single('Slice', big, {
        extra: { starts: ints(starts), ends: ints(ends), ...(axes ? { axes: ints(axes) } : {}), ...(steps ? { steps: ints(steps) } : {}) },
        extraNames: ['starts', 'ends', ...(axes ? ['axes'] : steps ? [''] : []), ...(steps ? ['steps'] : [])],
      });
    await slice([1, -4], [3, 100], [-2, 2]);
    await slice([0, 1, 2], [2, 4, -1]);
    await slice([1, 0], [5, 6], [1, 2], [2, 3]);
    await slice([-1, 4], [-100, 0], [0, 2], [-1, -2]);
  });
  it('Gather on data: repeated and negative indices, a matrix of indices, a scalar index', async () => {
    const big = uniform([4, 3, 5], 26, -1, 1, F64);
    await single('Gather', big, { extra: { idx: ints([0, 2, 2, -1]) } });
    await single('Gather', big, { attributes: [attr.int('axis', 2)], extra: { idx: { dtype: 'int64', dims: [2, 2], data: BigInt64Array.from([4n, 0n, 4n, 1n]) } } });
    await single('Gather', big, { attributes: [attr.int('axis', 1)], extra: { idx: { dtype: 'int64', dims: [], data: BigInt64Array.of(1n) } } });
  });
  it('Pad (constant) with positive and negative pads, and with axes (opset 18)', async () => {
    const img = uniform([1, 2, 4, 5], 27, -1, 1, F64);
    await single('Pad', img, { opset: 11, extra: { pads: ints([0, 0, 1, 2, 0, 1, 2, 0]) } });
    await single('Pad', img, { opset: 13, extra: { pads: ints([0, 0, -1, 2, 0, 0, 1, -2]), value: tensor(F64, [], [0.5]) } });
    await single('Pad', img, { opset: 18, extra: { pads: ints([1, -1, 2, 0]), value: tensor(F64, [], [0]), axes: ints([2, 3]) } });
  });
});

describe('autodiff: Resize', () => {
  const img = uniform([1, 2, 4, 5], 28);
  const resize = (opset: number, attributes: Parameters<typeof node>[3], target: { scales?: number[]; sizes?: number[] }, x = img) => {
    const inputs = opset >= 13 ? ['', target.scales ? 'scales' : '', ...(target.sizes ? ['sizes'] : [])] : ['roi', 'scales', ...(target.sizes ? ['sizes'] : [])];
    const extra: Record<string, Tensor> = {
      ...(opset < 13 ? { roi: floats([]), scales: floats(target.scales ?? []) } : target.scales ? { scales: floats(target.scales) } : {}),
      ...(target.sizes ? { sizes: ints(target.sizes) } : {}),
    };
    return single('Resize', x, { opset, attributes, extra, extraNames: inputs });
  };
  it('nearest ×2 (opset 11, asymmetric floor, as PyTorch exports) and ×1.5 (opset 13, round_prefer_floor)', async () => {
    await resize(11, [attr.string('mode', 'nearest'), attr.string('coordinate_transformation_mode', 'asymmetric'), attr.string('nearest_mode', 'floor')], { scales: [1, 1, 2, 2] });
    await resize(13, [attr.string('mode', 'nearest')], { scales: [1, 1, 1.5, 1.5] });
  });
  it('linear: half_pixel up, align_corners to sizes, pytorch_half_pixel down', async () => {
    await resize(13, [attr.string('mode', 'linear')], { scales: [1, 1, 2, 2.5] });
    await resize(11, [attr.string('mode', 'linear'), attr.string('coordinate_transformation_mode', 'align_corners')], { sizes: [1, 2, 7, 9] });
    await resize(13, [attr.string('mode', 'linear'), attr.string('coordinate_transformation_mode', 'pytorch_half_pixel')], { sizes: [1, 2, 3, 2] });
  });
  it('cubic, antialiased linear downscale and the axes attribute (opset 18)', async () => {
    await resize(13, [attr.string('mode', 'cubic')], { scales: [1, 1, 2, 2] });
    await resize(18, [attr.string('mode', 'linear'), attr.int('antialias', 1)], { scales: [1, 1, 0.5, 0.6] }, uniform([1, 2, 8, 10], 29));
    await resize(18, [attr.string('mode', 'nearest'), attr.ints('axes', [3, 2])], { scales: [2, 3] });
  });
});
