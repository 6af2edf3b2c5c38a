// Resizing and cropping of HWC images, matching the libraries models are trained with.
//
// - resizeSkimage: scikit-image 0.19 `skimage.transform.resize(image, (h, w), anti_aliasing=True)`
//   (order 1, mode 'reflect', clip=True) with SciPy ≥ 1.6. Per axis with factor s = in / out:
//   1. Gaussian prefilter, σ = max(0, (s − 1) / 2) (`scipy.ndimage.gaussian_filter`, truncate 4:
//      radius ⌊4σ + 0.5⌋, weights exp(−x² / 2σ²) normalised), boundary 'mirror' (numpy 'reflect':
//      d c b | a b c d | c b a), axis 0 then axis 1;
//   2. `scipy.ndimage.zoom(order=1, mode='mirror', grid_mode=True)`: output pixel o samples
//      source coordinate (o + 0.5)·s − 0.5, reflected into range, linearly interpolated;
//   3. clipped to the [min, max] of the input.
//   The filter is evaluated only at the rows and columns the interpolation reads, which gives the
//   same numbers as filtering the whole image.
// - resizePilBytes: Pillow 9 `Image.resize((w, h), Image.BILINEAR)` on 8-bit images, bit-exact
//   (libImaging/Resample.c): a triangle filter whose support is scaled by max(1, s) (antialiased
//   when shrinking), taps centred at (o + 0.5)·s, weights normalised and rounded to 22-bit fixed
//   point, horizontal pass then vertical pass, each rounded to 8 bits. torchvision's Resize on PIL
//   images is this.
// - resizeTriangle: the same filter in floating point (Pillow's float images, torchvision's
//   tensor Resize(antialias=True)); with antialias false the support stays 1, which is plain
//   bilinear with half-pixel centres and edge clamping: torch F.interpolate(mode='bilinear',
//   align_corners=False, antialias=False) and cv2.resize INTER_LINEAR.
// - shorterSideSize / centerCropBox: torchvision 0.14 Resize(int) and CenterCrop:
//   the shorter side becomes `size`, the longer ⌊size · long / short⌋; crop offsets
//   round((in − crop) / 2) with Python's round-half-to-even.
import { gaussianKernel } from './blur';

/** A row-major HWC image with any numeric storage. */
export interface ImageLike {
  width: number;
  height: number;
  channels: number;
  data: ArrayLike<number>;
}

export interface ResizedImage {
  width: number;
  height: number;
  channels: number;
  data: Float32Array;
}

export class ResizeError extends Error {}

function checkTarget(image: ImageLike, outH: number, outW: number): void {
  if (![outH, outW].every((n) => Number.isInteger(n) && n > 0)) {
    throw new ResizeError(`cannot resize to ${outH}×${outW}: sizes must be positive integers`);
  }
  if (image.data.length !== image.width * image.height * image.channels) {
    throw new ResizeError(`image data has ${image.data.length} values, not ${image.height}×${image.width}×${image.channels}`);
  }
}

/** numpy 'reflect' (scipy 'mirror') index into [0, n). */
function mirrorIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const j = ((i % period) + period) % period;
  return j >= n ? period - j : j;
}

/** scipy.ndimage.gaussian_filter's weights (truncate 4); σ ≈ 0 is no filter. */
function prefilterKernel(sigma: number): Float64Array {
  if (sigma <= 1e-15) return Float64Array.of(1);
  return gaussianKernel(sigma, Math.floor(4 * sigma + 0.5));
}

interface LinearTaps {
  lo: Int32Array;
  hi: Int32Array;
  frac: Float64Array;
}

/** scipy.ndimage.zoom grid_mode sampling positions, reflected into [0, n − 1] ('mirror'). */
function mirrorLinearTaps(inSize: number, outSize: number): LinearTaps {
  const factor = inSize / outSize;
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float64Array(outSize);
  for (let o = 0; o < outSize; o++) {
    let x = (o + 0.5) * factor - 0.5;
    if (inSize === 1) x = 0;
    else if (x < 0 || x > inSize - 1) x = reflectCoordinate(x, inSize);
    const base = Math.min(Math.floor(x), inSize - 1);
    lo[o] = base;
    hi[o] = Math.min(base + 1, inSize - 1);
    frac[o] = x - base;
  }
  return { lo, hi, frac };
}

function reflectCoordinate(x: number, n: number): number {
  const period = 2 * (n - 1);
  let y = ((x % period) + period) % period;
  if (y > n - 1) y = period - y;
  return y;
}

/** Sorted distinct source indices the taps read, and each index's position in that list. */
function neededIndices(taps: LinearTaps, inSize: number): { indices: number[]; position: Int32Array } {
  const used = new Uint8Array(inSize);
  for (let o = 0; o < taps.lo.length; o++) {
    used[taps.lo[o]] = 1;
    if (taps.frac[o] > 0) used[taps.hi[o]] = 1;
  }
  const indices: number[] = [];
  const position = new Int32Array(inSize).fill(-1);
  for (let i = 0; i < inSize; i++) if (used[i]) position[i] = indices.push(i) - 1;
  return { indices, position };
}

function valueRange(data: ArrayLike<number>): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    if (data[i] < min) min = data[i];
    if (data[i] > max) max = data[i];
  }
  return [min, max];
}

/**
 * skimage.transform.resize(image · valueScale, (outH, outW), anti_aliasing=True): pass bytes with
 * valueScale 1/255 to get img_as_float's [0, 1] values computed in double precision.
 */
export function resizeSkimage(image: ImageLike, outH: number, outW: number, valueScale = 1): ResizedImage {
  checkTarget(image, outH, outW);
  const { width: w, height: h, channels: c, data } = image;
  const ys = mirrorLinearTaps(h, outH);
  const xs = mirrorLinearTaps(w, outW);
  const rows = neededIndices(ys, h);
  const cols = neededIndices(xs, w);
  const ky = prefilterKernel(Math.max(0, (h / outH - 1) / 2));
  const kx = prefilterKernel(Math.max(0, (w / outW - 1) / 2));
  const ry = (ky.length - 1) / 2;
  const rx = (kx.length - 1) / 2;

  // Axis 0: filtered values at the needed rows, every column.
  const rowLength = w * c;
  const vertical = new Float64Array(rows.indices.length * rowLength);
  for (let r = 0; r < rows.indices.length; r++) {
    const out = r * rowLength;
    for (let k = 0; k < ky.length; k++) {
      const weight = ky[k] * valueScale;
      const src = mirrorIndex(rows.indices[r] + k - ry, h) * rowLength;
      for (let i = 0; i < rowLength; i++) vertical[out + i] += weight * data[src + i];
    }
  }
  // Axis 1: filtered values at the needed rows and columns.
  const nc = cols.indices.length;
  const filtered = new Float64Array(rows.indices.length * nc * c);
  const sourceColumns = cols.indices.map((x) => Int32Array.from(kx, (_, k) => mirrorIndex(x + k - rx, w) * c));
  for (let r = 0; r < rows.indices.length; r++) {
    const line = r * rowLength;
    for (let q = 0; q < nc; q++) {
      const taps = sourceColumns[q];
      const out = (r * nc + q) * c;
      for (let k = 0; k < kx.length; k++) {
        const src = line + taps[k];
        for (let ch = 0; ch < c; ch++) filtered[out + ch] += kx[k] * vertical[src + ch];
      }
    }
  }
  const [lowest, highest] = valueRange(data);
  const min = lowest * valueScale;
  const max = highest * valueScale;
  const out = new Float32Array(outH * outW * c);
  for (let oy = 0; oy < outH; oy++) {
    const top = rows.position[ys.lo[oy]];
    const bottom = ys.frac[oy] > 0 ? rows.position[ys.hi[oy]] : top;
    const fy = ys.frac[oy];
    for (let ox = 0; ox < outW; ox++) {
      const left = cols.position[xs.lo[ox]];
      const right = xs.frac[ox] > 0 ? cols.position[xs.hi[ox]] : left;
      const fx = xs.frac[ox];
      for (let ch = 0; ch < c; ch++) {
        const at = (row: number, col: number): number => filtered[(row * nc + col) * c + ch];
        const upper = at(top, left) * (1 - fx) + at(top, right) * fx;
        const lower = at(bottom, left) * (1 - fx) + at(bottom, right) * fx;
        const v = upper * (1 - fy) + lower * fy;
        out[(oy * outW + ox) * c + ch] = Math.min(max, Math.max(min, v));
      }
    }
  }
  return { width: outW, height: outH, channels: c, data: out };
}

interface FilterTaps {
  /** First source index of each output's window. */
  start: Int32Array;
  /** Window length of each output. */
  count: Int32Array;
  /** Weights, `size` per output (unused tail is 0). */
  weights: Float64Array;
  size: number;
}

/** Pillow's precompute_coeffs for the bilinear (triangle) filter. */
function triangleTaps(inSize: number, outSize: number, antialias: boolean): FilterTaps {
  const scale = inSize / outSize;
  const filterScale = antialias ? Math.max(1, scale) : 1;
  const support = filterScale;
  const size = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * size);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const first = Math.max(0, Math.trunc(center - support + 0.5));
    const n = Math.min(Math.trunc(center + support + 0.5), inSize) - first;
    let total = 0;
    for (let k = 0; k < n; k++) {
      const t = Math.abs((k + first - center + 0.5) / filterScale);
      const weight = t < 1 ? 1 - t : 0;
      weights[o * size + k] = weight;
      total += weight;
    }
    if (total !== 0) for (let k = 0; k < n; k++) weights[o * size + k] /= total;
    start[o] = first;
    count[o] = n;
  }
  return { start, count, weights, size };
}

const PRECISION_BITS = 22;

/** Pillow's normalize_coeffs_8bpc: weights as 22-bit fixed point, rounded half away from zero. */
function fixedPointWeights(taps: FilterTaps): Float64Array {
  return taps.weights.map((w) => (w < 0 ? Math.trunc(-0.5 + w * 2 ** PRECISION_BITS) : Math.trunc(0.5 + w * 2 ** PRECISION_BITS)));
}

/** A region of a resize's output: what is computed of it (a centre crop needs no more). */
export interface OutputWindow {
  top: number;
  left: number;
  height: number;
  width: number;
}

/**
 * Pillow's two-pass resample: horizontal pass (skipped when the width is unchanged), then vertical
 * pass (skipped when the height is unchanged). With `bytes`, fixed-point weights and 8-bit
 * rounding after each pass; otherwise double precision throughout. Only `window` of the output is
 * computed, from the source rows its vertical taps read (as Pillow limits its horizontal pass to
 * them): each output value is the same sum whatever the window, so a crop of the whole resize is
 * bit-identical to the window.
 */
function separableResize(image: ImageLike, outH: number, outW: number, antialias: boolean, bytes: boolean, window?: OutputWindow): Float64Array | Uint8Array {
  const { width: w, height: h, channels: c } = image;
  const box = window ?? { top: 0, left: 0, height: outH, width: outW };
  const alloc = (n: number): Float64Array | Uint8Array => (bytes ? new Uint8Array(n) : new Float64Array(n));
  const weightsOf = (taps: FilterTaps): Float64Array => (bytes ? fixedPointWeights(taps) : taps.weights);
  const vertical = outH !== h ? triangleTaps(h, outH, antialias) : undefined;
  // The source rows the window's output rows read.
  let firstRow = box.top;
  let endRow = box.top + box.height;
  if (vertical) {
    firstRow = h;
    endRow = 0;
    for (let o = box.top; o < box.top + box.height; o++) {
      firstRow = Math.min(firstRow, vertical.start[o]);
      endRow = Math.max(endRow, vertical.start[o] + vertical.count[o]);
    }
  }
  const rows = endRow - firstRow;
  const rowLength = box.width * c;
  // Pass 1: rows [firstRow, endRow) at the window's columns.
  const across = alloc(rows * rowLength);
  if (outW !== w) {
    const taps = triangleTaps(w, outW, antialias);
    resamplePass(image.data, across, taps, weightsOf(taps), box.left, box.width, rows, c, firstRow * w * c, w * c, c, rowLength, c, bytes);
  } else {
    for (let r = 0; r < rows; r++) {
      const from = ((firstRow + r) * w + box.left) * c;
      for (let i = 0; i < rowLength; i++) across[r * rowLength + i] = image.data[from + i];
    }
  }
  if (!vertical) return across;
  // Pass 2: the window's rows, each column of `across` a line.
  const out = alloc(box.height * rowLength);
  resamplePass(across, out, vertical, weightsOf(vertical), box.top, box.height, rowLength, 1, -firstRow * rowLength, 1, rowLength, 1, rowLength, bytes);
  return out;
}

const FIXED_ONE = 2 ** PRECISION_BITS;
const FIXED_HALF = 2 ** (PRECISION_BITS - 1);
const FIXED_MAX = 2 ** (PRECISION_BITS + 8);

/**
 * One pass of the separable resample along an axis: for the outputs o in [first, first + count)
 * and every line l (and channel, `channels` apart along the axis), dst = Σ_k weight[o, k] ·
 * src[base + l · srcLine + (start[o] + k) · srcStep]; with `bytes`, Pillow's fixed-point rounding
 * and clipping to 0–255, else the plain sum.
 */
function resamplePass(
  src: ArrayLike<number>,
  dst: Float64Array | Uint8Array,
  taps: FilterTaps,
  weights: Float64Array,
  first: number,
  count: number,
  lines: number,
  channels: number,
  base: number,
  srcLine: number,
  srcStep: number,
  dstLine: number,
  dstStep: number,
  bytes: boolean,
): void {
  const { start, count: tapCounts, size } = taps;
  for (let o = first; o < first + count; o++) {
    const n = tapCounts[o];
    const w0 = o * size;
    const s0 = base + start[o] * srcStep;
    const d0 = (o - first) * dstStep;
    for (let l = 0; l < lines; l++) {
      for (let ch = 0; ch < channels; ch++) {
        const from = s0 + l * srcLine + ch;
        let sum = bytes ? FIXED_HALF : 0;
        for (let k = 0; k < n; k++) sum += weights[w0 + k] * src[from + k * srcStep];
        // Pillow's clip8, inline: this is the hot loop of every image's preprocessing.
        dst[d0 + l * dstLine + ch] = !bytes ? sum : sum >= FIXED_MAX ? 255 : sum <= 0 ? 0 : Math.floor(sum / FIXED_ONE);
      }
    }
  }
}

/** Pillow Image.resize((outW, outH), BILINEAR) of an 8-bit image, bit-exact; only `window` of it where given. */
export function resizePilBytes(image: ImageLike, outH: number, outW: number, window?: OutputWindow): { width: number; height: number; channels: number; data: Uint8Array } {
  checkTarget(image, outH, outW);
  checkWindow(window, outH, outW);
  return { width: window?.width ?? outW, height: window?.height ?? outH, channels: image.channels, data: separableResize(image, outH, outW, true, true, window) as Uint8Array };
}

function checkWindow(window: OutputWindow | undefined, outH: number, outW: number): void {
  if (!window) return;
  const { top, left, height, width } = window;
  if (![top, left, height, width].every(Number.isInteger) || top < 0 || left < 0 || height < 1 || width < 1 || top + height > outH || left + width > outW) {
    throw new ResizeError(`the window ${height}×${width} at (${top}, ${left}) is not inside the ${outH}×${outW} resize`);
  }
}

/**
 * Triangle-filter resize in floating point: antialiased like Pillow / torchvision
 * Resize(antialias=True), or, with antialias false, plain bilinear (half-pixel centres, edges
 * clamped) like F.interpolate(align_corners=False) and cv2 INTER_LINEAR.
 */
export function resizeTriangle(image: ImageLike, outH: number, outW: number, antialias: boolean, valueScale = 1, window?: OutputWindow): ResizedImage {
  checkTarget(image, outH, outW);
  checkWindow(window, outH, outW);
  const data = separableResize(image, outH, outW, antialias, false, window);
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] * valueScale;
  return { width: window?.width ?? outW, height: window?.height ?? outH, channels: image.channels, data: out };
}

/** torchvision Resize(size) with an int size: the shorter side becomes `size`. Returns [h, w]. */
export function shorterSideSize(height: number, width: number, size: number): [number, number] {
  if (width <= height) return [Math.floor((size * height) / width), size];
  return [size, Math.floor((size * width) / height)];
}

/** Python's round(): half to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision CenterCrop offsets: top = round((h − cropH) / 2), left = round((w − cropW) / 2). */
export function centerCropBox(height: number, width: number, cropH: number, cropW: number): { top: number; left: number } {
  if (cropH > height || cropW > width) {
    throw new ResizeError(`cannot center-crop ${cropH}×${cropW} from a ${height}×${width} image`);
  }
  return { top: roundHalfEven((height - cropH) / 2), left: roundHalfEven((width - cropW) / 2) };
}

/** The h×w region at (top, left). */
export function cropImage<T extends Float32Array | Uint8Array>(
  image: { width: number; height: number; channels: number; data: T },
  top: number,
  left: number,
  h: number,
  w: number,
): { width: number; height: number; channels: number; data: T } {
  if (top < 0 || left < 0 || top + h > image.height || left + w > image.width) {
    throw new ResizeError(`crop ${h}×${w} at (${top}, ${left}) leaves the ${image.height}×${image.width} image`);
  }
  const c = image.channels;
  const data = new (image.data.constructor as { new (n: number): T })(h * w * c);
  for (let y = 0; y < h; y++) data.set(image.data.subarray(((top + y) * image.width + left) * c, ((top + y) * image.width + left + w) * c), y * w * c);
  return { width: w, height: h, channels: c, data };
}
