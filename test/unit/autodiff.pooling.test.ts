// Pooling input gradients against central finite differences. Inputs are `separated` (distinct
// values, far apart relative to the step), so no perturbation changes which element is a maximum.
import { attr, checkGradients, node, separated } from './autodiff/harness';

function pool(op: string, x: number[], attributes: Parameters<typeof node>[3], opset = 13) {
  return checkGradients({ opset, nodes: [node(op, ['x'], ['y'], attributes)], inputs: { x: separated(x, 7) }, output: 'y' });
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
      pool('AveragePool', [1, 2, 7, 7], [attr.ints('kernel_shape', [3, 3]), attr.ints('strides', [2, 2]), attr.ints('pads', [1, 1, 1, 1]), attr.int('count_include_pad', include)]));
    it(`count_include_pad=${include} with ceil_mode`, async () => {
      await pool('AveragePool', [1, 2, 8, 8], [attr.ints('kernel_shape', [3, 3]), attr.ints('strides', [2, 2]), attr.int('ceil_mode', 1), attr.int('count_include_pad', include)]);
      await pool('AveragePool', [1, 2, 8, 9], [attr.ints('kernel_shape', [3, 2]), attr.ints('strides', [2, 2]), attr.ints('pads', [1, 0, 1, 1]), attr.int('ceil_mode', 1), attr.int('count_include_pad', include)]);
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
