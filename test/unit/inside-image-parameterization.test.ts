import * as assert from 'assert';
import { seededRandom } from '../../src/core/random';
import { COLOR_DECORRELATION, backpropImage, createParameters, dft2, renderImage } from '../../src/core/inside/image-parameterization';
import { AffineResampler, IDENTITY, randomTransform } from '../../src/core/inside/transforms';

const random = seededRandom(42);
const noise = (n: number) => Float64Array.from({ length: n }, () => random() - 0.5);
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, v, i) => s + v * b[i], 0);

describe('orthonormal 2-D DFT', () => {
  it('inverts itself and keeps the energy (Parseval) on a non-power-of-two size', () => {
    const [h, w] = [6, 10];
    const re = noise(h * w);
    const im = noise(h * w);
    const [re0, im0] = [Float64Array.from(re), Float64Array.from(im)];
    dft2(re, im, h, w, -1);
    close(dot(re, re) + dot(im, im), dot(re0, re0) + dot(im0, im0), 1e-9, 'energy');
    dft2(re, im, h, w, 1);
    for (let i = 0; i < h * w; i++) close(re[i], re0[i], 1e-12, `re[${i}]`);
  });

  for (const [h, w] of [
    [8, 16],
    [6, 10],
  ]) {
    it(`equals the direct double sum on ${h}×${w} (${h * w === 128 ? 'radix-2 FFT' : 'direct DFT'} path)`, () => {
      const re = noise(h * w);
      const im = noise(h * w);
      const expectedRe = new Float64Array(h * w);
      const expectedIm = new Float64Array(h * w);
      for (let ky = 0; ky < h; ky++) {
        for (let kx = 0; kx < w; kx++) {
          for (let y = 0; y < h; y++) {
            for (let x = 0; x < w; x++) {
              const angle = -2 * Math.PI * ((ky * y) / h + (kx * x) / w);
              expectedRe[ky * w + kx] += (re[y * w + x] * Math.cos(angle) - im[y * w + x] * Math.sin(angle)) / Math.sqrt(h * w);
              expectedIm[ky * w + kx] += (re[y * w + x] * Math.sin(angle) + im[y * w + x] * Math.cos(angle)) / Math.sqrt(h * w);
            }
          }
        }
      }
      dft2(re, im, h, w, -1);
      for (let i = 0; i < h * w; i++) {
        close(re[i], expectedRe[i], 1e-12, `re[${i}]`);
        close(im[i], expectedIm[i], 1e-12, `im[${i}]`);
      }
    });
  }

  it('turns a constant into its DC term √N · value', () => {
    const re = new Float64Array(16).fill(2);
    const im = new Float64Array(16);
    dft2(re, im, 4, 4, -1);
    close(re[0], 2 * 4, 1e-12, 'DC');
    for (let i = 1; i < 16; i++) close(Math.hypot(re[i], im[i]), 0, 1e-12, `bin ${i}`);
  });
});

function close(a: number, b: number, tol: number, what: string) {
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
}

describe('image parameterisations (Lucent fft_image + to_valid_rgb)', () => {
  it('keeps the decorrelation matrix of Lucent: largest column norm 1', () => {
    const norms = [0, 1, 2].map((j) => Math.hypot(...COLOR_DECORRELATION.map((row) => row[j])));
    close(Math.max(...norms), 1, 1e-12, 'largest column norm');
  });

  for (const kind of ['fourier', 'pixel'] as const) {
    it(`${kind}: the backward pass equals finite differences of <g, rgb(θ)>`, () => {
      const [h, w] = [8, 6];
      const p = createParameters(h, w, { kind, seed: 3, sd: 0.5 });
      const g = Float32Array.from(noise(3 * h * w));
      const rgb = renderImage(p);
      const gradReal = new Float64Array(p.real.length);
      const gradImag = new Float64Array(p.real.length);
      backpropImage(p, rgb, g, gradReal, gradImag);
      const objective = () => dot(g, renderImage(p));
      const eps = 1e-3;
      for (const [which, grad] of kind === 'fourier'
        ? ([
            ['real', gradReal],
            ['imag', gradImag],
          ] as const)
        : ([['real', gradReal]] as const)) {
        for (const i of [0, 5, 17, 50, 3 * h * w - 1]) {
          const values = p[which];
          const saved = values[i];
          values[i] = saved + eps;
          const up = objective();
          values[i] = saved - eps;
          const down = objective();
          values[i] = saved;
          // float32 rendering limits the finite difference to about 1e-4 relative.
          close(grad[i], (up - down) / (2 * eps), 2e-4 * Math.max(1, Math.abs(grad[i])), `${which}[${i}]`);
        }
      }
    });
  }

  it('starts near grey, and the same seed gives the same image', () => {
    const a = renderImage(createParameters(16, 16, { seed: 1 }));
    const b = renderImage(createParameters(16, 16, { seed: 1 }));
    assert.deepStrictEqual(a, b);
    for (const v of a) assert.ok(Math.abs(v - 0.5) < 0.1);
  });
});

describe('affine resampling (jitter, scale, rotation) and its adjoint', () => {
  const [h, w] = [9, 9];

  it('the identity copies the image and a shift moves it by whole pixels', () => {
    const x = Float32Array.from(noise(h * w));
    assert.deepStrictEqual(new AffineResampler(IDENTITY, 1, h, w).apply(x), x);
    const shifted = new AffineResampler({ shift: [1, 2], scale: 1, degrees: 0 }, 1, h, w, 0).apply(x);
    close(shifted[3 * w + 4], x[2 * w + 2], 1e-7, 'out(3,4) = in(2,2)');
    assert.strictEqual(shifted[0], 0);
  });

  it('a 90° rotation about the centre samples out(y, x) = in(x, H−1−y)', () => {
    const x = Float32Array.from(noise(h * w));
    const rotated = new AffineResampler({ shift: [0, 0], scale: 1, degrees: 90 }, 1, h, w).apply(x);
    // out(q) samples s = c + R(q − c) with sy = cy + dx, sx = cx − dy at 90°, c = (4, 4).
    close(rotated[2 * w + 7], x[7 * w + (h - 1 - 2)], 1e-6, 'out(2,7) = in(7,6)');
  });

  it('apply and adjoint satisfy <T x, g> = <x, Tᵀ g> for random transforms (fill 0: linear)', () => {
    const r = seededRandom(7);
    for (let trial = 0; trial < 5; trial++) {
      const t = randomTransform(r, [h, w], { jitter: 2 });
      const resampler = new AffineResampler(t, 3, h, w, 0);
      const x = Float32Array.from(noise(3 * h * w));
      const g = Float32Array.from(noise(3 * h * w));
      close(dot(resampler.apply(x), g), dot(x, resampler.adjoint(g)), 1e-5, `transform ${JSON.stringify(t)}`);
    }
  });
});
