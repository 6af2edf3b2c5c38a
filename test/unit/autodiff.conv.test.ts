// Conv and ConvTranspose input gradients against central finite differences.
import { attr, checkGradients, node, separated, uniform } from './autodiff/harness';

function convCase(opset: number, x: number[], w: number[], attributes: Parameters<typeof node>[3]) {
  return checkGradients({
    opset,
    nodes: [node('Conv', ['x', 'w', 'b'], ['y'], attributes)],
    inputs: { x: uniform(x, 1) },
    initializers: { w: uniform(w, 2), b: uniform([w[0]], 3) },
    output: 'y',
  });
}

describe('autodiff: Conv', () => {
  it('3×3, pad 1, stride 1', () => convCase(13, [1, 2, 6, 6], [3, 2, 3, 3], [attr.ints('pads', [1, 1, 1, 1])]));
  it('stride 2 with pads, even and odd sizes', async () => {
    await convCase(13, [1, 2, 7, 7], [3, 2, 3, 3], [attr.ints('pads', [1, 1, 1, 1]), attr.ints('strides', [2, 2])]);
    await convCase(13, [2, 2, 8, 8], [3, 2, 3, 3], [attr.ints('pads', [1, 1, 1, 1]), attr.ints('strides', [2, 2])]);
  });
  it('dilation 2 with asymmetric pads and stride 3', () =>
    convCase(11, [1, 2, 9, 10], [2, 2, 3, 2], [attr.ints('pads', [0, 1, 2, 0]), attr.ints('dilations', [2, 2]), attr.ints('strides', [3, 2])]));
  it('groups and depthwise', async () => {
    await convCase(13, [1, 4, 6, 6], [6, 2, 3, 3], [attr.int('group', 2), attr.ints('pads', [1, 1, 1, 1])]);
    await convCase(13, [1, 3, 7, 7], [3, 1, 3, 3], [attr.int('group', 3), attr.ints('pads', [1, 1, 1, 1]), attr.ints('strides', [2, 2])]);
  });
  it('auto_pad SAME_UPPER, SAME_LOWER, VALID', async () => {
    await convCase(13, [1, 2, 7, 8], [2, 2, 4, 3], [attr.string('auto_pad', 'SAME_UPPER'), attr.ints('strides', [2, 2])]);
    await convCase(13, [1, 2, 7, 8], [2, 2, 4, 3], [attr.string('auto_pad', 'SAME_LOWER'), attr.ints('strides', [2, 3])]);
    await convCase(13, [1, 2, 8, 8], [2, 2, 3, 3], [attr.string('auto_pad', 'VALID'), attr.ints('strides', [3, 3])]);
  });
  it('stride 1 as a flipped-kernel Conv: dilated, asymmetric pads, SAME with an even kernel, depthwise', async () => {
    await convCase(13, [1, 2, 7, 8], [3, 2, 3, 2], [attr.ints('pads', [2, 0, 1, 1]), attr.ints('dilations', [2, 1])]);
    await convCase(13, [1, 2, 6, 7], [2, 2, 4, 2], [attr.string('auto_pad', 'SAME_UPPER')]);
    await convCase(13, [1, 2, 6, 7], [2, 2, 4, 2], [attr.string('auto_pad', 'SAME_LOWER')]);
    await convCase(13, [1, 4, 6, 6], [4, 1, 3, 3], [attr.int('group', 4), attr.ints('pads', [1, 1, 1, 1])]);
    await convCase(13, [1, 4, 5, 5], [6, 2, 1, 1], [attr.int('group', 2)]);
  });
  it('stride 1 with pads larger than the kernel reach (ConvTranspose form)', () => convCase(13, [1, 2, 5, 5], [2, 2, 2, 2], [attr.ints('pads', [2, 0, 1, 3])]));
  it('1-D and 3-D convolutions', async () => {
    await convCase(13, [1, 2, 11], [3, 2, 3], [attr.ints('pads', [1, 0]), attr.ints('strides', [2])]);
    await convCase(13, [1, 2, 11], [3, 2, 3], [attr.ints('pads', [2, 1])]);
    await convCase(13, [1, 2, 5, 4, 4], [2, 2, 3, 2, 2], [attr.ints('pads', [1, 0, 1, 1, 1, 0]), attr.ints('strides', [2, 1, 2])]);
    await convCase(13, [1, 2, 5, 4, 4], [2, 2, 3, 2, 2], [attr.ints('pads', [1, 0, 1, 1, 1, 0])]);
  });
});

function convTransposeCase(x: number[], w: number[], attributes: Parameters<typeof node>[3]) {
  return checkGradients({
    opset: 13,
    nodes: [node('ConvTranspose', ['x', 'w'], ['y'], attributes)],
    inputs: { x: separated(x, 4) },
    initializers: { w: uniform(w, 5) },
    output: 'y',
  });
}

describe('autodiff: ConvTranspose', () => {
  it('stride 2, pads, output_padding', () =>
    convTransposeCase([1, 3, 4, 5], [3, 2, 3, 3], [attr.ints('strides', [2, 2]), attr.ints('pads', [1, 0, 1, 2]), attr.ints('output_padding', [1, 1])]));
  it('groups and dilations', () => convTransposeCase([1, 4, 4, 4], [4, 3, 2, 3], [attr.int('group', 2), attr.ints('dilations', [2, 1]), attr.ints('strides', [1, 2])]));
  it('output_shape and auto_pad SAME_UPPER/SAME_LOWER', async () => {
    await convTransposeCase([1, 2, 4, 4], [2, 2, 3, 3], [attr.ints('strides', [2, 2]), attr.ints('output_shape', [8, 9])]);
    await convTransposeCase([1, 2, 4, 4], [2, 2, 4, 3], [attr.ints('strides', [2, 2]), attr.string('auto_pad', 'SAME_UPPER')]);
    await convTransposeCase([1, 2, 4, 4], [2, 2, 4, 3], [attr.ints('strides', [2, 2]), attr.string('auto_pad', 'SAME_LOWER')]);
  });
});
