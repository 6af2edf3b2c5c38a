import * as assert from 'assert';
import { float32 } from '../../src/core/tensor';
import { minMaxNormalize, ranks, spearman, ssim } from '../../src/core/inside/similarity';

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

describe('Spearman rank correlation', () => {
  it('gives tied values their average rank', () => {
    assert.deepStrictEqual(Array.from(ranks([10, 20, 20, 5])), [2, 3.5, 3.5, 1]);
  });

  it('is 1 for any increasing relation, −1 for a decreasing one', () => {
    const x = [0.1, 0.5, 0.2, 3, 2];
    close(
      spearman(
        x,
        x.map((v) => Math.exp(5 * v)),
      ),
      1,
      1e-12,
      'increasing',
    );
    close(
      spearman(
        x,
        x.map((v) => -v * v * v),
      ),
      -1,
      1e-12,
      'decreasing',
    );
  });

  it('matches the hand computation with ties', () => {
    // ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4]: deviations from 2.5 give
    // cov = 4.5, var x = 4.5, var y = 5, so ρ = 4.5 / √(4.5 · 5) = √0.9.
    close(spearman([1, 2, 2, 3], [1, 3, 2, 4]), Math.sqrt(0.9), 1e-12, 'ρ');
  });

  it('refuses maps of different sizes', () => {
    assert.throws(() => spearman([1, 2], [1, 2, 3]), /maps of 2 and 3 values cannot be compared/);
  });
});

describe('SSIM (Wang et al. 2004, 11×11 Gaussian window, σ 1.5)', () => {
  const pattern = (h: number, w: number, f: (y: number, x: number) => number) => {
    const t = float32([h, w]);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) t.data[y * w + x] = f(y, x);
    return t;
  };

  it('is 1 for identical maps', () => {
    const a = pattern(20, 24, (y, x) => 0.5 + 0.5 * Math.sin(0.3 * y) * Math.cos(0.2 * x));
    close(ssim(a, a), 1, 1e-12, 'SSIM(a, a)');
  });

  it('for constant maps reduces to the luminance term (2 c1 c2 + C1)/(c1² + c2² + C1)', () => {
    // The values as float32 stores them.
    const c1 = Math.fround(0.3);
    const c2 = Math.fround(0.7);
    const C1 = 0.01 ** 2;
    close(
      ssim(
        pattern(16, 16, () => c1),
        pattern(16, 16, () => c2),
      ),
      (2 * c1 * c2 + C1) / (c1 * c1 + c2 * c2 + C1),
      1e-9,
      'SSIM',
    );
  });

  it('for a ±1 checkerboard against its negative follows from the window weights alone', () => {
    // Every window of a checkerboard has μ = ±m with m = (Σ_u g(u)(−1)^u)² (g: the normalised 1-D
    // Gaussian), E[x²] = 1, so σ² = 1 − m², and the negated board has μ = ∓m, σxy = −(1 − m²):
    // SSIM = (C1 − 2m²)/(2m² + C1) · (C2 − 2(1 − m²))/(2(1 − m²) + C2), data range 2.
    const board = pattern(21, 21, (y, x) => ((y + x) % 2 === 0 ? 1 : -1));
    const negated = float32(
      [21, 21],
      board.data.map((v) => -v),
    );
    const g = Array.from({ length: 11 }, (_, i) => Math.exp(-((i - 5) ** 2) / (2 * 1.5 * 1.5)));
    const total = g.reduce((a, b) => a + b, 0);
    const m = g.reduce((acc, v, i) => acc + (v / total) * (i % 2 === 0 ? 1 : -1), 0) ** 2;
    const C1 = (0.01 * 2) ** 2;
    const C2 = (0.03 * 2) ** 2;
    const expected = ((C1 - 2 * m * m) / (2 * m * m + C1)) * ((C2 - 2 * (1 - m * m)) / (2 * (1 - m * m) + C2));
    close(ssim(board, negated, 2), expected, 1e-9, 'SSIM(board, −board)');
    assert.ok(expected < -0.9);
  });

  it('refuses maps of different sizes and maps too small for a window', () => {
    assert.throws(() => ssim(float32([4, 4]), float32([5, 5])), /SSIM compares two single maps of one size/);
    assert.throws(() => ssim(float32([2, 2]), float32([2, 2])), /too small for SSIM/);
  });
});

describe('min-max normalisation', () => {
  it('maps the range to [0, 1] and a constant map to zeros', () => {
    assert.deepStrictEqual(Array.from(minMaxNormalize([2, 4, 3])), [0, 1, 0.5]);
    assert.deepStrictEqual(Array.from(minMaxNormalize([7, 7])), [0, 0]);
  });
});
