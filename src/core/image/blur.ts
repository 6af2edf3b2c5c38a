// Gaussian smoothing: the weights shared by the anti-aliasing prefilter of resizeSkimage, SSIM's
// window, the blurred baseline of deletion/insertion and the blur step of activation maximisation.
//   w_k = exp(−k² / 2σ²) / Σ_j exp(−j² / 2σ²),   k = −r … r
// gaussianBlur filters each [H, W] plane separably (rows, then columns) with r = ⌈3σ⌉, reading
// clamped coordinates past the edges (scipy.ndimage mode 'nearest').

/** The normalised Gaussian weights for offsets −radius … radius. */
export function gaussianKernel(sigma: number, radius: number): Float64Array {
  const kernel = Float64Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const total = kernel.reduce((a, b) => a + b, 0);
  for (let i = 0; i < kernel.length; i++) kernel[i] /= total;
  return kernel;
}

/**
 * Gaussian blur of each [H, W] plane of `data` ([C, H, W]) into `out`, which may be `data` itself;
 * sums in double precision. σ ≤ 0 leaves the values as they are.
 */
export function gaussianBlur<T extends Float32Array | Float64Array>(data: Float32Array | Float64Array, channels: number, height: number, width: number, sigma: number, out: T): T {
  if (sigma <= 0) {
    if (out !== data) out.set(data);
    return out;
  }
  const radius = Math.ceil(3 * sigma);
  const kernel = gaussianKernel(sigma, radius);
  const plane = height * width;
  const rows = new Float64Array(plane);
  for (let c = 0; c < channels; c++) {
    const base = c * plane;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let acc = 0;
        for (let k = -radius; k <= radius; k++) acc += kernel[k + radius] * data[base + y * width + Math.min(width - 1, Math.max(0, x + k))];
        rows[y * width + x] = acc;
      }
    }
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let acc = 0;
        for (let k = -radius; k <= radius; k++) acc += kernel[k + radius] * rows[Math.min(height - 1, Math.max(0, y + k)) * width + x];
        out[base + y * width + x] = acc;
      }
    }
  }
  return out;
}
