// Resampling of single-channel float maps (row-major h×w), with the conventions of the libraries
// whose results we match:
// - resizeBilinear: OpenCV cv2.resize INTER_LINEAR on float32 — half-pixel centres
//   (src = (dst + 0.5)·in/out − 0.5), coordinates clamped to the edge pixels. pytorch-grad-cam
//   upsamples CAMs with it.
// - resizeBilinearAlignCorners: torch UpsamplingBilinear2d (align_corners=True) —
//   src = dst·(in − 1)/(out − 1). pytorch-grad-cam's Score-CAM upsamples activations with it.
// - resizeNearest: torch F.interpolate mode 'nearest' and cv2 INTER_NEAREST — src = floor(dst·in/out).
//   Captum's GuidedGradCam upsamples Grad-CAM with it.

interface Taps {
  lo: Int32Array;
  hi: Int32Array;
  frac: Float32Array;
}

function halfPixelTaps(inSize: number, outSize: number): Taps {
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float32Array(outSize);
  const scale = inSize / outSize;
  for (let d = 0; d < outSize; d++) {
    const x = (d + 0.5) * scale - 0.5;
    let s = Math.floor(x);
    let f = x - s;
    if (s < 0) {
      s = 0;
      f = 0;
    }
    if (s >= inSize - 1) {
      s = inSize - 1;
      f = 0;
    }
    lo[d] = s;
    hi[d] = Math.min(s + 1, inSize - 1);
    frac[d] = f;
  }
  return { lo, hi, frac };
}

function alignCornerTaps(inSize: number, outSize: number): Taps {
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float32Array(outSize);
  const scale = outSize > 1 ? (inSize - 1) / (outSize - 1) : 0;
  for (let d = 0; d < outSize; d++) {
    const x = d * scale;
    const s = Math.min(Math.floor(x), inSize - 1);
    lo[d] = s;
    hi[d] = Math.min(s + 1, inSize - 1);
    frac[d] = x - s;
  }
  return { lo, hi, frac };
}

function separable(src: ArrayLike<number>, h: number, w: number, ys: Taps, xs: Taps): Float32Array {
  const outH = ys.lo.length;
  const outW = xs.lo.length;
  // Horizontal pass on every source row, then vertical blend of two rows per output row.
  const rows = new Float32Array(h * outW);
  for (let y = 0; y < h; y++) {
    const base = y * w;
    for (let x = 0; x < outW; x++) {
      const a = src[base + xs.lo[x]];
      rows[y * outW + x] = a + (src[base + xs.hi[x]] - a) * xs.frac[x];
    }
  }
  const out = new Float32Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const top = ys.lo[y] * outW;
    const bottom = ys.hi[y] * outW;
    const f = ys.frac[y];
    for (let x = 0; x < outW; x++) {
      const a = rows[top + x];
      out[y * outW + x] = a * (1 - f) + rows[bottom + x] * f;
    }
  }
  return out;
}

function checkSizes(src: ArrayLike<number>, h: number, w: number, outH: number, outW: number): void {
  if (src.length !== h * w) throw new RangeError(`resize: ${src.length} values do not form a ${h}×${w} map`);
  if (![h, w, outH, outW].every((n) => Number.isInteger(n) && n > 0)) {
    throw new RangeError(`resize: sizes must be positive integers (got ${h}×${w} → ${outH}×${outW})`);
  }
}

/** cv2.resize(src, (outW, outH), interpolation=INTER_LINEAR) for a float32 map. */
export function resizeBilinear(src: ArrayLike<number>, h: number, w: number, outH: number, outW: number): Float32Array {
  checkSizes(src, h, w, outH, outW);
  return separable(src, h, w, halfPixelTaps(h, outH), halfPixelTaps(w, outW));
}

/** torch.nn.UpsamplingBilinear2d(size=(outH, outW)), i.e. bilinear with align_corners=True. */
export function resizeBilinearAlignCorners(src: ArrayLike<number>, h: number, w: number, outH: number, outW: number): Float32Array {
  checkSizes(src, h, w, outH, outW);
  return separable(src, h, w, alignCornerTaps(h, outH), alignCornerTaps(w, outW));
}

/** torch F.interpolate(mode='nearest') / cv2 INTER_NEAREST: each output takes source floor(dst·in/out). */
export function resizeNearest(src: ArrayLike<number>, h: number, w: number, outH: number, outW: number): Float32Array {
  checkSizes(src, h, w, outH, outW);
  const sy = Int32Array.from({ length: outH }, (_, y) => Math.min(Math.floor((y * h) / outH), h - 1));
  const sx = Int32Array.from({ length: outW }, (_, x) => Math.min(Math.floor((x * w) / outW), w - 1));
  const out = new Float32Array(outH * outW);
  for (let y = 0; y < outH; y++) for (let x = 0; x < outW; x++) out[y * outW + x] = src[sy[y] * w + sx[x]];
  return out;
}

/**
 * Linear resampling of a map of any rank (row-major `dims`), one axis at a time — torch
 * F.interpolate mode 'linear' (1-D) and 'trilinear' (3-D): half-pixel centres clamped at the edges
 * (align_corners=False), or align_corners=True. In 2-D it is resizeBilinear / resizeBilinearAlignCorners.
 */
export function resizeLinear(src: ArrayLike<number>, dims: readonly number[], outDims: readonly number[], alignCorners = false): Float32Array {
  if (dims.length !== outDims.length || ![...dims, ...outDims].every((n) => Number.isInteger(n) && n > 0)) {
    throw new RangeError(`resize: sizes must be positive integers of one rank (got ${dims.join('×')} → ${outDims.join('×')})`);
  }
  if (src.length !== dims.reduce((a, b) => a * b, 1)) throw new RangeError(`resize: ${src.length} values do not form a ${dims.join('×')} map`);
  let values = Float32Array.from(src);
  const shape = [...dims];
  for (let axis = dims.length - 1; axis >= 0; axis--) {
    const taps = alignCorners ? alignCornerTaps(dims[axis], outDims[axis]) : halfPixelTaps(dims[axis], outDims[axis]);
    const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
    const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const out = new Float32Array(outer * outDims[axis] * inner);
    for (let o = 0; o < outer; o++) {
      for (let d = 0; d < outDims[axis]; d++) {
        const lo = (o * dims[axis] + taps.lo[d]) * inner;
        const hi = (o * dims[axis] + taps.hi[d]) * inner;
        const f = taps.frac[d];
        const at = (o * outDims[axis] + d) * inner;
        for (let i = 0; i < inner; i++) out[at + i] = values[lo + i] * (1 - f) + values[hi + i] * f;
      }
    }
    values = out;
    shape[axis] = outDims[axis];
  }
  return values;
}

/** resizeNearest for a map of any rank: torch F.interpolate(mode='nearest'), src = floor(dst·in/out) on every axis. */
export function resizeNearestNd(src: ArrayLike<number>, dims: readonly number[], outDims: readonly number[]): Float32Array {
  if (dims.length !== outDims.length || ![...dims, ...outDims].every((n) => Number.isInteger(n) && n > 0)) {
    throw new RangeError(`resize: sizes must be positive integers of one rank (got ${dims.join('×')} → ${outDims.join('×')})`);
  }
  const sources = outDims.map((out, a) => Int32Array.from({ length: out }, (_, d) => Math.min(Math.floor((d * dims[a]) / out), dims[a] - 1)));
  const size = outDims.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  const index = new Array<number>(outDims.length).fill(0);
  for (let o = 0; o < size; o++) {
    let s = 0;
    for (let a = 0; a < dims.length; a++) s = s * dims[a] + sources[a][index[a]];
    out[o] = src[s];
    for (let a = outDims.length - 1; a >= 0 && ++index[a] === outDims[a]; a--) index[a] = 0;
  }
  return out;
}
