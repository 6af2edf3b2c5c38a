// How activation maximisation represents the image it optimises, with each map's adjoint (the
// backward pass turning ∂L/∂rgb into ∂L/∂parameters), following Lucid/Lucent
// (Olah, Mordvintsev & Schubert, "Feature Visualization", Distill 2017; lucent/optvis/param/
// spatial.py fft_image and color.py to_valid_rgb).
//
//   Fourier (default):  raw_c = Re(IDFT2_ortho(s ⊙ (a_c + i b_c))) / 4,
//                       s(f) = 1 / max(|f|, 1/max(H, W))^decay, |f| from numpy's fftfreq,
//                       so every frequency starts with energy ∝ 1/|f| (natural-image statistics).
//                       The full complex spectrum is the parameter (Lucent keeps the half-spectrum
//                       of rfft; Re(·) of the full one spans the same real images).
//   Pixel:              raw_c = p_c.
//   Colour:             x = M · raw per pixel, M = Lucid's colour-correlation square root scaled to
//                       unit largest column norm (decorrelated colour), or x = raw.
//   Valid RGB:          rgb = sigmoid(x) ∈ (0, 1).
// Adjoints: for y = Re(U z) with U unitary, ∂L/∂(Re z) + i ∂L/∂(Im z) = Uᴴ g, and the ortho IDFT's
// Uᴴ is the ortho DFT; M's adjoint is Mᵀ; sigmoid' = rgb (1 − rgb).
import { seededRandom, standardNormal } from '../random';

const COLOR_CORRELATION_SVD_SQRT = [
  [0.26, 0.09, 0.02],
  [0.27, 0.0, -0.05],
  [0.27, -0.09, 0.03],
];
const MAX_COLUMN_NORM = Math.max(...[0, 1, 2].map((j) => Math.hypot(...COLOR_CORRELATION_SVD_SQRT.map((row) => row[j]))));
/** Lucent's color_correlation_normalized. */
export const COLOR_DECORRELATION = COLOR_CORRELATION_SVD_SQRT.map((row) => row.map((v) => v / MAX_COLUMN_NORM));

export type Parameterization = 'fourier' | 'pixel';

export interface ImageParameters {
  kind: Parameterization;
  channels: number;
  height: number;
  width: number;
  decorrelate: boolean;
  /** Fourier: real and imaginary parts per channel, [C, H, W] each. Pixel: `real` only. */
  real: Float64Array;
  imag: Float64Array;
  /** Fourier: the per-frequency scale s, [H, W]. */
  scale: Float64Array;
}

export interface ParameterOptions {
  kind?: Parameterization;
  channels?: number;
  decorrelate?: boolean;
  /** Standard deviation of the initial values; Lucent's 0.01. */
  sd?: number;
  /** Exponent of the 1/|f| spectrum scale; Lucent's 1. */
  decayPower?: number;
  seed?: number;
}

function fftFrequencies(n: number): Float64Array {
  // numpy.fft.fftfreq(n): 0, 1, ..., ⌈n/2⌉−1, −⌊n/2⌋, ..., −1, divided by n.
  return Float64Array.from({ length: n }, (_, k) => (k < Math.ceil(n / 2) ? k : k - n) / n);
}

export function createParameters(height: number, width: number, options: ParameterOptions = {}): ImageParameters {
  const kind = options.kind ?? 'fourier';
  const channels = options.channels ?? 3;
  const random = seededRandom(options.seed ?? 0);
  const sd = options.sd ?? 0.01;
  const size = channels * height * width;
  const real = Float64Array.from({ length: size }, () => sd * standardNormal(random));
  const imag = kind === 'fourier' ? Float64Array.from({ length: size }, () => sd * standardNormal(random)) : new Float64Array(0);
  const scale = new Float64Array(kind === 'fourier' ? height * width : 0);
  if (kind === 'fourier') {
    const fy = fftFrequencies(height);
    const fx = fftFrequencies(width);
    const floor = 1 / Math.max(height, width);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) scale[y * width + x] = 1 / Math.max(Math.hypot(fy[y], fx[x]), floor) ** (options.decayPower ?? 1);
    }
  }
  return { kind, channels, height, width, decorrelate: options.decorrelate ?? channels === 3, real, imag, scale };
}

// Twiddle tables for an n-point DFT: cos and sin of 2π m / n, m = 0..n−1.
const twiddles = new Map<number, { cos: Float64Array; sin: Float64Array }>();
function twiddle(n: number) {
  let t = twiddles.get(n);
  if (!t) {
    t = { cos: Float64Array.from({ length: n }, (_, m) => Math.cos((2 * Math.PI * m) / n)), sin: Float64Array.from({ length: n }, (_, m) => Math.sin((2 * Math.PI * m) / n)) };
    twiddles.set(n, t);
  }
  return t;
}

// One n-point DFT of (re, im) in place, unnormalised, X[k] = Σ_j x[j] e^{sign·2πi jk/n}: iterative
// radix-2 Cooley–Tukey when n is a power of two, the direct sum otherwise.
function dft1(re: Float64Array, im: Float64Array, n: number, sign: 1 | -1, scratchRe: Float64Array, scratchIm: Float64Array): void {
  const { cos, sin } = twiddle(n);
  if ((n & (n - 1)) !== 0) {
    for (let k = 0; k < n; k++) {
      let sr = 0;
      let si = 0;
      for (let j = 0, m = 0; j < n; j++, m = (m + k) % n) {
        const c = cos[m];
        const s = sign * sin[m];
        sr += re[j] * c - im[j] * s;
        si += re[j] * s + im[j] * c;
      }
      scratchRe[k] = sr;
      scratchIm[k] = si;
    }
    re.set(scratchRe.subarray(0, n));
    im.set(scratchIm.subarray(0, n));
    return;
  }
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  for (let size = 2; size <= n; size <<= 1) {
    const half = size >> 1;
    const step = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const c = cos[k * step];
        const s = sign * sin[k * step];
        const a = start + k;
        const b = a + half;
        const tr = re[b] * c - im[b] * s;
        const ti = re[b] * s + im[b] * c;
        re[b] = re[a] - tr;
        im[b] = im[a] - ti;
        re[a] += tr;
        im[a] += ti;
      }
    }
  }
}

/**
 * In-place orthonormal 2-D DFT of one [H, W] complex plane: sign −1 forward, +1 inverse,
 * X[k] = (1/√N) Σ_n x[n] e^{sign·2πi kn/N} along each axis.
 */
export function dft2(re: Float64Array, im: Float64Array, height: number, width: number, sign: 1 | -1): void {
  const n = Math.max(height, width);
  const [lineRe, lineIm, scratchRe, scratchIm] = [0, 1, 2, 3].map(() => new Float64Array(n));
  const norm = 1 / Math.sqrt(height * width);
  for (let y = 0; y < height; y++) {
    const rowRe = re.subarray(y * width, (y + 1) * width);
    const rowIm = im.subarray(y * width, (y + 1) * width);
    dft1(rowRe, rowIm, width, sign, scratchRe, scratchIm);
  }
  const colRe = lineRe.subarray(0, height);
  const colIm = lineIm.subarray(0, height);
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      colRe[y] = re[y * width + x];
      colIm[y] = im[y * width + x];
    }
    dft1(colRe, colIm, height, sign, scratchRe, scratchIm);
    for (let y = 0; y < height; y++) {
      re[y * width + x] = colRe[y] * norm;
      im[y * width + x] = colIm[y] * norm;
    }
  }
}

const FOURIER_MAGIC = 4;

function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

/** The RGB image [C, H, W] in (0, 1) the parameters stand for. */
export function renderImage(p: ImageParameters): Float32Array {
  const plane = p.height * p.width;
  const raw = new Float64Array(p.channels * plane);
  if (p.kind === 'fourier') {
    for (let c = 0; c < p.channels; c++) {
      const re = new Float64Array(plane);
      const im = new Float64Array(plane);
      for (let i = 0; i < plane; i++) {
        re[i] = p.scale[i] * p.real[c * plane + i];
        im[i] = p.scale[i] * p.imag[c * plane + i];
      }
      dft2(re, im, p.height, p.width, 1);
      for (let i = 0; i < plane; i++) raw[c * plane + i] = re[i] / FOURIER_MAGIC;
    }
  } else {
    raw.set(p.real);
  }
  const out = new Float32Array(p.channels * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < p.channels; c++) {
      let x = raw[c * plane + i];
      if (p.decorrelate) {
        x = 0;
        for (let j = 0; j < p.channels; j++) x += COLOR_DECORRELATION[c][j] * raw[j * plane + i];
      }
      out[c * plane + i] = sigmoid(x);
    }
  }
  return out;
}

/** ∂L/∂parameters from ∂L/∂rgb, given the rgb renderImage returned; fills gradReal and gradImag. */
export function backpropImage(p: ImageParameters, rgb: Float32Array, gradRgb: Float32Array, gradReal: Float64Array, gradImag: Float64Array): void {
  const plane = p.height * p.width;
  const gradX = new Float64Array(p.channels * plane);
  for (let i = 0; i < gradX.length; i++) gradX[i] = gradRgb[i] * rgb[i] * (1 - rgb[i]);
  const gradRaw = new Float64Array(p.channels * plane);
  if (p.decorrelate) {
    for (let i = 0; i < plane; i++) {
      for (let j = 0; j < p.channels; j++) {
        let acc = 0;
        for (let c = 0; c < p.channels; c++) acc += COLOR_DECORRELATION[c][j] * gradX[c * plane + i];
        gradRaw[j * plane + i] = acc;
      }
    }
  } else {
    gradRaw.set(gradX);
  }
  if (p.kind === 'pixel') {
    gradReal.set(gradRaw);
    return;
  }
  for (let c = 0; c < p.channels; c++) {
    const re = Float64Array.from(gradRaw.subarray(c * plane, (c + 1) * plane), (v) => v / FOURIER_MAGIC);
    const im = new Float64Array(plane);
    dft2(re, im, p.height, p.width, -1);
    for (let i = 0; i < plane; i++) {
      gradReal[c * plane + i] = p.scale[i] * re[i];
      gradImag[c * plane + i] = p.scale[i] * im[i];
    }
  }
}
