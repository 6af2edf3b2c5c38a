// Elementwise, activation and matrix-product gradients against central finite differences,
// in float64 where onnxruntime's CPU kernels (forward and backward ops) support double.
import * as assert from 'assert';
import { DataType } from '../../src/core/onnx/proto';
import { Tensor } from '../../src/core/tensor';
import { attr, checkGradients, FloatType, node, separated, tensor, uniform } from './autodiff/harness';

const F64: FloatType = 'float64';

function unaryCase(
  op: string,
  opts: { opset?: number; dtype?: FloatType; low?: number; high?: number; attributes?: Parameters<typeof node>[3]; extra?: Record<string, Tensor> } = {},
) {
  const dtype = opts.dtype ?? F64;
  const x = opts.low === undefined ? separated([2, 3, 4], 11, 2, dtype) : uniform([2, 3, 4], 11, opts.low, opts.high, dtype);
  return checkGradients({
    opset: opts.opset ?? 13,
    nodes: [node(op, ['x', ...Object.keys(opts.extra ?? {})], ['y'], opts.attributes ?? [])],
    inputs: { x },
    initializers: opts.extra,
    output: 'y',
  });
}

function binaryCase(op: string, a: number[], b: number[], dtype: FloatType = F64, opset = 13, low = -1) {
  return checkGradients({
    opset,
    nodes: [node(op, ['a', 'b'], ['y'])],
    inputs: { a: uniform(a, 21, low, 1, dtype), b: uniform(b, 22, 0.5, 1.5, dtype) },
    output: 'y',
  });
}

describe('autodiff: binary ops with broadcasting', () => {
  for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
    it(`${op}: same shapes, per-channel, leading and scalar broadcasts, both operands broadcast`, async () => {
      await binaryCase(op, [2, 3, 4], [2, 3, 4]);
      await binaryCase(op, [2, 3, 4, 5], [3, 1, 1]);
      await binaryCase(op, [2, 3, 4, 5], [1, 3, 1, 5], F64, 11);
      await binaryCase(op, [2, 3], []);
      await binaryCase(op, [2, 1, 4], [3, 1]);
      await binaryCase(op, [1, 3, 1, 1], [1, 3, 4, 5]);
    });
  }
  it('Sum (float64) and Mean (float32: no double kernel) of three operands', async () => {
    for (const [op, dtype] of [
      ['Sum', F64],
      ['Mean', 'float32'],
    ] as const) {
      await checkGradients({
        opset: 13,
        nodes: [node(op, ['a', 'b', 'c'], ['y'])],
        inputs: { a: uniform([2, 3], 1, -1, 1, dtype), b: uniform([3], 2, -1, 1, dtype), c: uniform([2, 1], 3, -1, 1, dtype) },
        output: 'y',
      });
    }
  });
  it('Max and Min of broadcast operands, with ties sharing the gradient (float32: no double kernel)', async () => {
    for (const op of ['Max', 'Min']) {
      await checkGradients({
        opset: 13,
        nodes: [node(op, ['a', 'b', 'c'], ['y'])],
        inputs: { a: separated([2, 3, 4], 31), b: separated([3, 1], 32, 1.9) },
        initializers: { c: tensor('float32', [], [0.25]) },
        output: 'y',
      });
    }
    // Min(Relu(x), 6) with x = 6 exactly in one place: both operands equal, each gets half.
    const result = await checkGradients(
      {
        opset: 13,
        nodes: [node('Relu', ['x'], ['r']), node('Min', ['r', 'six'], ['y'])],
        inputs: { x: tensor('float32', [4], [-1, 2, 6, 7]) },
        initializers: { six: tensor('float32', [], [6]) },
        output: 'y',
      },
      { maxCoordinates: 2 },
    );
    assert.ok(Math.abs(Number(result.analytic.x.data[2]) - 0.5 * Number(result.seed.data[2])) < 1e-7, 'the tie at 6 splits the gradient');
  });
  it('Where and Expand', async () => {
    await checkGradients({
      opset: 13,
      nodes: [node('Greater', ['a', 'b'], ['c']), node('Where', ['c', 'a', 'b'], ['y'])],
      inputs: { a: separated([2, 3, 4], 1, 2, F64), b: uniform([3, 1], 2, -0.3, 0.3, F64) },
      output: 'y',
    });
    await checkGradients({
      opset: 13,
      nodes: [node('Expand', ['x', 'shape'], ['y'])],
      inputs: { x: uniform([3, 1], 1, -1, 1, F64) },
      initializers: { shape: { dtype: 'int64', dims: [3], data: BigInt64Array.from([2n, 3n, 4n]) } },
      output: 'y',
    });
  });
  it('a tensor consumed several times accumulates its gradients (x·x + sigmoid(x))', () =>
    checkGradients({
      opset: 13,
      nodes: [node('Mul', ['x', 'x'], ['sq']), node('Sigmoid', ['x'], ['s']), node('Add', ['sq', 's'], ['y'])],
      inputs: { x: uniform([2, 5], 4, -1, 1, F64) },
      output: 'y',
    }));
});

describe('autodiff: unary arithmetic', () => {
  it('Neg, Exp, Abs, Reciprocal', async () => {
    for (const op of ['Neg', 'Exp', 'Abs']) await unaryCase(op);
    await unaryCase('Reciprocal', { low: 0.5, high: 2 });
  });
  it('Sqrt and Log on positive inputs', async () => {
    await unaryCase('Sqrt', { low: 0.2, high: 2 });
    await unaryCase('Log', { low: 0.2, high: 2 });
  });
  it('Pow with constant exponents 2, 3 and 0.5 (also an int64 exponent)', async () => {
    for (const p of [2, 3]) await unaryCase('Pow', { extra: { p: tensor(F64, [], [p]) } });
    await unaryCase('Pow', { low: 0.2, high: 2, extra: { p: tensor(F64, [], [0.5]) } });
    await unaryCase('Pow', { opset: 15, extra: { p: { dtype: 'int64', dims: [], data: BigInt64Array.of(3n) } } });
  });
  it('Erf (float32: no double kernel)', () => unaryCase('Erf', { dtype: 'float32' }));
  it('Cast between float types', () =>
    checkGradients({
      opset: 13,
      nodes: [node('Cast', ['x'], ['d'], [attr.int('to', DataType.DOUBLE)]), node('Tanh', ['d'], ['t']), node('Cast', ['t'], ['y'], [attr.int('to', DataType.FLOAT)])],
      inputs: { x: uniform([2, 3], 5) },
      output: 'y',
    }));
});

describe('autodiff: activations', () => {
  it('Relu, Sigmoid, Tanh (float64)', async () => {
    for (const op of ['Relu', 'Sigmoid', 'Tanh']) await unaryCase(op);
  });
  it('LeakyRelu, Elu, Selu, HardSigmoid, Softplus, Softsign (float32)', async () => {
    await unaryCase('LeakyRelu', { dtype: 'float32', attributes: [attr.float('alpha', 0.1)] });
    await unaryCase('Elu', { dtype: 'float32', attributes: [attr.float('alpha', 0.7)] });
    await unaryCase('Selu', { dtype: 'float32' });
    await unaryCase('HardSigmoid', { dtype: 'float32', attributes: [attr.float('alpha', 0.3), attr.float('beta', 0.4)] });
    await unaryCase('Softplus', { dtype: 'float32' });
    await unaryCase('Softsign', { dtype: 'float32' });
  });
  it('HardSwish (opset 14), on both sides of ±3', () =>
    checkGradients({ opset: 14, nodes: [node('HardSwish', ['x'], ['y'])], inputs: { x: separated([2, 3, 4], 12, 4.5) }, output: 'y' }));
  it('PRelu with a per-channel slope', () =>
    checkGradients({
      opset: 13,
      nodes: [node('PRelu', ['x', 'slope'], ['y'])],
      inputs: { x: separated([2, 3, 2, 2], 13) },
      initializers: { slope: uniform([3, 1, 1], 14, 0.1, 0.5) },
      output: 'y',
    }));
  it('Clip (ReLU6) with min and max inputs, with min only, at opsets 11 and 13', async () => {
    const bound = (v: number) => tensor('float32', [], [v]);
    for (const opset of [11, 13]) {
      await checkGradients({
        opset,
        nodes: [node('Clip', ['x', 'lo', 'hi'], ['y'])],
        inputs: { x: separated([2, 3, 4], 15, 8) },
        initializers: { lo: bound(0), hi: bound(6) },
        output: 'y',
      });
      await checkGradients({ opset, nodes: [node('Clip', ['x', 'lo'], ['y'])], inputs: { x: separated([2, 3, 4], 16, 2) }, initializers: { lo: bound(-0.5) }, output: 'y' });
    }
  });
  it('Softmax and LogSoftmax: opset 11 coerces to 2-D at axis, opset 13 uses one axis', async () => {
    for (const op of ['Softmax', 'LogSoftmax']) {
      await checkGradients({ opset: 11, nodes: [node(op, ['x'], ['y'], [attr.int('axis', 1)])], inputs: { x: uniform([2, 3, 4], 17, -2, 2, F64) }, output: 'y' });
      await checkGradients({ opset: 11, nodes: [node(op, ['x'], ['y'])], inputs: { x: uniform([2, 5], 18, -2, 2, F64) }, output: 'y' });
      await checkGradients({ opset: 13, nodes: [node(op, ['x'], ['y'], [attr.int('axis', 1)])], inputs: { x: uniform([2, 3, 4], 19, -2, 2, F64) }, output: 'y' });
      await checkGradients({ opset: 13, nodes: [node(op, ['x'], ['y'])], inputs: { x: uniform([2, 3, 4], 20, -2, 2, F64) }, output: 'y' });
    }
  });
  it('GELU as exported by PyTorch (x·½·(1 + erf(x/√2))) and as the opset-20 Gelu op, exact and tanh', async () => {
    const c = (v: number) => tensor('float32', [], [v]);
    await checkGradients({
      opset: 13,
      nodes: [node('Div', ['x', 'sqrt2'], ['d']), node('Erf', ['d'], ['e']), node('Add', ['e', 'one'], ['a']), node('Mul', ['x', 'a'], ['m']), node('Mul', ['m', 'half'], ['y'])],
      inputs: { x: uniform([2, 3, 4], 21, -3, 3) },
      initializers: { sqrt2: c(Math.SQRT2), one: c(1), half: c(0.5) },
      output: 'y',
    });
    for (const approximate of ['none', 'tanh']) {
      await checkGradients({
        opset: 20,
        nodes: [node('Gelu', ['x'], ['y'], [attr.string('approximate', approximate)])],
        inputs: { x: uniform([2, 3, 4], 22, -3, 3) },
        output: 'y',
      });
    }
  });
});

describe('autodiff: MatMul and Gemm', () => {
  it('MatMul: 2-D, batched with broadcasting, 1-D operands', async () => {
    await binaryCase('MatMul', [3, 4], [4, 5]);
    await binaryCase('MatMul', [2, 1, 3, 4], [5, 4, 2]);
    await binaryCase('MatMul', [4], [2, 4, 3]);
    await binaryCase('MatMul', [2, 3, 4], [4]);
    await binaryCase('MatMul', [4], [4]);
  });
  it('Gemm: every transA/transB with alpha, beta and a broadcast C', async () => {
    for (const [transA, transB] of [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ]) {
      await checkGradients({
        opset: 13,
        nodes: [node('Gemm', ['a', 'b', 'c'], ['y'], [attr.int('transA', transA), attr.int('transB', transB), attr.float('alpha', 0.7), attr.float('beta', 1.3)])],
        inputs: { a: uniform(transA ? [4, 3] : [3, 4], 23, -1, 1, F64), b: uniform(transB ? [5, 4] : [4, 5], 24, -1, 1, F64), c: uniform([5], 25, -1, 1, F64) },
        output: 'y',
      });
    }
  });
  it('Gemm with weights: only the data input is differentiated', () =>
    checkGradients({
      opset: 11,
      nodes: [node('Gemm', ['x', 'w', 'bias'], ['y'], [attr.int('transB', 1)])],
      inputs: { x: uniform([2, 4], 26) },
      initializers: { w: uniform([3, 4], 27), bias: uniform([3], 28) },
      output: 'y',
    }));
});
