import * as assert from 'assert';
import { channelStats } from '../../src/core/activations';
import { float32 } from '../../src/core/tensor';

describe('channel statistics', () => {
  it('computes mean, extremes and zero fraction per channel over batch and space, and flags dead channels', () => {
    // 2 images, 2 channels, 2 positions.
    const t = float32([2, 2, 2], [1, 0, /* ch1 */ 0, 0, /* img2 ch0 */ 3, 0, /* ch1 */ -1, 0]);
    const [a, b] = channelStats(t);
    assert.deepStrictEqual(a, { index: 0, mean: 1, min: 0, max: 3, zeroFraction: 0.5, dead: false });
    assert.deepStrictEqual(b, { index: 1, mean: -0.25, min: -1, max: 0, zeroFraction: 0.75, dead: true });
  });
});
