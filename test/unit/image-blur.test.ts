import * as assert from 'assert';
import { gaussianBlur, gaussianKernel } from '../../src/core/image/blur';

function close(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} vs ${expected}`);
}

describe('Gaussian kernel and blur', () => {
  it('weights are exp(−k²/2σ²) normalised to sum 1', () => {
    const kernel = gaussianKernel(1.5, 4);
    close(
      kernel.reduce((a, b) => a + b, 0),
      1,
      1e-15,
      'sum',
    );
    for (let k = -4; k <= 4; k++) close(kernel[k + 4] / kernel[4], Math.exp(-(k * k) / (2 * 1.5 * 1.5)), 1e-15, `w[${k}] / w[0]`);
  });

  it('keeps a constant image and spreads a point symmetrically, in place', () => {
    const flat = new Float64Array(2 * 25).fill(0.3);
    gaussianBlur(flat, 2, 5, 5, 1, flat);
    for (const v of flat) close(v, 0.3, 1e-12, 'constant');
    const point = new Float64Array(49);
    point[24] = 1;
    gaussianBlur(point, 1, 7, 7, 1, point);
    close(point[23], point[25], 1e-12, 'left/right');
    close(point[17], point[31], 1e-12, 'up/down');
    assert.ok(point[24] > point[23] && point[23] > point[22]);
  });

  it('smooths an edge into a new array, leaving the input as it was', () => {
    const edge = Float32Array.of(0, 0, 0, 0, 1, 1, 1, 1);
    const blurred = gaussianBlur(edge, 1, 1, 8, 1, new Float32Array(8));
    assert.ok(blurred[3] > 0 && blurred[3] < 0.5 && blurred[4] > 0.5 && blurred[4] < 1);
    assert.deepStrictEqual(Array.from(edge), [0, 0, 0, 0, 1, 1, 1, 1]);
  });

  it('σ ≤ 0 leaves the values as they are', () => {
    const values = Float32Array.of(1, 5, 2, 7);
    assert.deepStrictEqual(Array.from(gaussianBlur(values, 1, 2, 2, 0, new Float32Array(4))), [1, 5, 2, 7]);
  });
});
