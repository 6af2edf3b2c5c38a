// Pooling input gradients against central finite differences. Inputs are `separated` (distinct
// values, far apart relative to the step), so no perturbation changes which element is a maximum.
import * as assert from 'assert';
import { buildGradientModel } from '../../src/core/autodiff/build';
import { probeShapes } from '../../src/core/autodiff/shapes';
import { encodeModel } from '../../src/core/onnx/proto';
import { seededRandom } from '../../src/core/random';
import { createSession, run } from '../../src/core/onnx/session';
import { Tensor, sizeOf } from '../../src/core/tensor';
import { attr, checkGradients, makeModel, node, separated, tensor, uniform } from './autodiff/harness';

function pool(op: string, x: number[], attributes: Parameters<typeof node>[3], opset = 13, dtype: 'float32' | 'float64' = 'float32') {
  return checkGradients({ opset, nodes: [node(op, ['x'], ['y'], attributes)], inputs: { x: separated(x, 7, 2, dtype) }, output: 'y' });
}

describe('autodiff: MaxPool', () => {
  it('overlapping 3×3 windows, stride 2, pads 1 (resnet stem)', () =>
    pool('MaxPool', [2, 3, 8, 8], [attr.ints('kernel_shape', [3, 3]), attr.ints('strides', [2, 2]), attr.ints('pads', [1, 1, 1, 1])]));
  it('ceil_mode with overlapping windows, even and odd sizes (squeezenet)', async () => {
    await pool('MaxPool', [1, 2, 8, 8], [attr.ints('kernel_shape', [3, 3]), attr.ints('strides', [2, 2]), attr.int('ceil_mode', 1)]);
    await pool('MaxPool', [1, 2, 9, 10], [attr.ints('kernel_shape', [3, 3]), attr.ints('strides', [2, 2]), attr.int('ceil_mode', 1), attr.ints('pads', [1, 0, 0, 1])]);
  });
  it('stride 1, dilations, asymmetric kernel', async () => {
    await pool('MaxPool', [1, 2, 6, 6], [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [1, 1])], 11);
    await pool('MaxPool', [1, 1, 9, 8], [attr.ints('kernel_shape', [2, 3]), attr.ints('dilations', [2, 1]), attr.ints('strides', [1, 2])]);
  });
  it('auto_pad SAME_UPPER and SAME_LOWER', async () => {
    await pool('MaxPool', [1, 2, 7, 8], [attr.ints('kernel_shape', [3, 2]), attr.ints('strides', [2, 2]), attr.string('auto_pad', 'SAME_UPPER')]);
    await pool('MaxPool', [1, 2, 7, 8], [attr.ints('kernel_shape', [3, 2]), attr.ints('strides', [2, 2]), attr.string('auto_pad', 'SAME_LOWER')]);
  });
  it('non-overlapping 2×2 windows (a single phase) and 3-D windows', async () => {
    await pool('MaxPool', [2, 2, 8, 7], [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2]), attr.int('ceil_mode', 1)]);
    await pool('MaxPool', [1, 2, 5, 6, 5], [attr.ints('kernel_shape', [3, 2, 2]), attr.ints('strides', [2, 1, 2]), attr.ints('pads', [1, 0, 0, 1, 1, 1])]);
  });
  it('1-D windows', () => pool('MaxPool', [2, 2, 11], [attr.ints('kernel_shape', [3]), attr.ints('strides', [2]), attr.ints('pads', [1, 1])]));
});

describe('autodiff: AveragePool', () => {
  for (const include of [0, 1]) {
    it(`count_include_pad=${include} with pads, overlapping`, () =>
      pool(
        'AveragePool',
        [1, 2, 7, 7],
        [attr.ints('kernel_shape', [3, 3]), attr.ints('strides', [2, 2]), attr.ints('pads', [1, 1, 1, 1]), attr.int('count_include_pad', include)],
      ));
    it(`count_include_pad=${include} with ceil_mode`, async () => {
      await pool('AveragePool', [1, 2, 8, 8], [attr.ints('kernel_shape', [3, 3]), attr.ints('strides', [2, 2]), attr.int('ceil_mode', 1), attr.int('count_include_pad', include)]);
      await pool(
        'AveragePool',
        [1, 2, 8, 9],
        [attr.ints('kernel_shape', [3, 2]), attr.ints('strides', [2, 2]), attr.ints('pads', [1, 0, 1, 1]), attr.int('ceil_mode', 1), attr.int('count_include_pad', include)],
      );
    });
  }
  it('auto_pad SAME_UPPER, 2×2 non-overlapping', async () => {
    await pool('AveragePool', [1, 2, 7, 8], [attr.ints('kernel_shape', [3, 3]), attr.ints('strides', [2, 2]), attr.string('auto_pad', 'SAME_UPPER')]);
    await pool('AveragePool', [2, 2, 8, 8], [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])], 11);
  });
});

describe('autodiff: global pooling', () => {
  it('GlobalAveragePool', () => pool('GlobalAveragePool', [2, 3, 5, 4], []));
  it('GlobalMaxPool', () => pool('GlobalMaxPool', [2, 3, 5, 4], []));
});

interface PoolWindow {
  kernel: number[];
  strides: number[];
  pads: number[];
  dilations: number[];
}

/**
 * PyTorch's max-pooling backward on a 2-D input: each window's gradient goes to its first maximum
 * in row-major order among the positions inside the input (padding never wins).
 */
function maxPoolBackward(x: Tensor, dy: Tensor, w: PoolWindow): Float64Array {
  const [n, c, h, wd] = x.dims;
  const [, , oh, ow] = dy.dims;
  const dx = new Float64Array(x.data.length);
  for (let plane = 0; plane < n * c; plane++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let best = -1;
        for (let a = 0; a < w.kernel[0]; a++) {
          for (let b = 0; b < w.kernel[1]; b++) {
            const iy = oy * w.strides[0] - w.pads[0] + a * w.dilations[0];
            const ix = ox * w.strides[1] - w.pads[1] + b * w.dilations[1];
            if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
            const at = (plane * h + iy) * wd + ix;
            if (best < 0 || x.data[at] > x.data[best]) best = at;
          }
        }
        dx[best] += Number(dy.data[(plane * oh + oy) * ow + ox]);
      }
    }
  }
  return dx;
}

describe('autodiff: MaxPool ties', () => {
  const cases: [string, number[], PoolWindow, number][] = [
    ['3×3 stride 2 pads 1 (resnet stem)', [2, 3, 9, 10], { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], dilations: [1, 1] }, 0],
    ['3×3 stride 2 ceil_mode (squeezenet)', [1, 2, 10, 9], { kernel: [3, 3], strides: [2, 2], pads: [0, 0, 0, 0], dilations: [1, 1] }, 1],
    ['2×3 stride 1, dilation 2, asymmetric pads', [1, 2, 8, 9], { kernel: [2, 3], strides: [1, 1], pads: [1, 0, 0, 2], dilations: [2, 1] }, 0],
  ];
  for (const [what, dims, w, ceil] of cases) {
    it(`${what}: every window's gradient goes to its first maximum, as in PyTorch, also where all values are negative`, async () => {
      // Few distinct values, all ≤ 0 in one channel: ties everywhere, and a padded position would win if padding counted.
      const rand = seededRandom(31);
      const x = tensor(
        'float32',
        dims,
        Array.from({ length: sizeOf(dims) }, (_, i) => (i < sizeOf(dims.slice(1)) ? -1 - Math.floor(rand() * 2) : Math.floor(rand() * 3) - 1)),
      );
      const attributes = [
        attr.ints('kernel_shape', w.kernel),
        attr.ints('strides', w.strides),
        attr.ints('pads', w.pads),
        attr.ints('dilations', w.dilations),
        attr.int('ceil_mode', ceil),
      ];
      const model = makeModel({ opset: 13, nodes: [node('MaxPool', ['x'], ['y'], attributes)], inputs: { x }, output: 'y' });
      const shapes = await probeShapes(model, { x });
      const built = buildGradientModel(model, { wrt: ['x'], output: 'y', shapes });
      const seed = uniform(shapes.get('y') as number[], 5);
      const session = await createSession(encodeModel(built.model), 'cpu');
      try {
        const result = await run(session, { x, [built.seed]: seed }, built.outputs);
        const expected = maxPoolBackward(x, seed, w);
        const actual = result[built.gradients.x].data as Float32Array;
        assert.strictEqual(actual.length, expected.length);
        for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= 1e-6, `dx[${i}] = ${actual[i]}, PyTorch's rule gives ${expected[i]}`);
      } finally {
        await session.session.release();
      }
    });
  }

  it('float64 (onnxruntime has no double Conv: through the Indices output)', () =>
    pool('MaxPool', [1, 2, 7, 7], [attr.ints('kernel_shape', [3, 3]), attr.ints('strides', [2, 2]), attr.ints('pads', [1, 1, 1, 1])], 13, 'float64'));
});
