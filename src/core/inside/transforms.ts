// Random geometric transforms that make activation maximisation robust (transformation robustness:
// Mordvintsev, Olah & Tyka 2015; Lucid's standard_transforms = pad 12, jitter 8, scale 0.9–1.1,
// rotate ±10°, jitter 4), as one affine resampling per step with its adjoint.
//
// Affine resampling of a [C, H, W] image around its centre c = ((H−1)/2, (W−1)/2):
//   out(q) = bilinear(src, c + R(θ)·(q − c)/scale − t),
// sampling neighbours outside the image as the constant `fill` (Lucid pads with 0.5 grey).
// Bilinear weights are (1−fy)(1−fx), (1−fy)fx, fy(1−fx), fy·fx; the adjoint scatters ∂L/∂out
// back with the same weights to the in-image neighbours.
export interface AffineTransform {
  /** Translation in pixels, [y, x]. */
  shift: [number, number];
  /** > 1 enlarges the content. */
  scale: number;
  /** Rotation in degrees. */
  degrees: number;
}

export interface TransformOptions {
  /** Largest translation in pixels (uniform integer in [−jitter, jitter]); default ≈ 4% of the size. */
  jitter?: number;
  /** Scales drawn uniformly from; default Lucid's 0.90, 0.92, …, 1.10. */
  scales?: number[];
  /** Largest rotation in degrees (uniform integer in [−r, r]); default 10. */
  rotate?: number;
  /** Value outside the image; default 0.5 (grey). */
  fill?: number;
}

export const IDENTITY: AffineTransform = { shift: [0, 0], scale: 1, degrees: 0 };

const LUCID_SCALES = Array.from({ length: 11 }, (_, i) => 1 + (i - 5) / 50);

export function randomTransform(random: () => number, size: [number, number], options: TransformOptions = {}): AffineTransform {
  const jitter = options.jitter ?? Math.max(1, Math.round(0.04 * Math.max(...size)));
  const scales = options.scales ?? LUCID_SCALES;
  const rotate = options.rotate ?? 10;
  const integer = (limit: number) => Math.floor(random() * (2 * limit + 1)) - limit;
  return {
    shift: [integer(jitter), integer(jitter)],
    scale: scales[Math.floor(random() * scales.length)] ?? 1,
    degrees: integer(rotate),
  };
}

interface Tap {
  index: number;
  weight: number;
}

// For every output pixel, the in-image neighbours and weights it samples; the rest of the weight
// goes to the fill value.
function samplingTaps(t: AffineTransform, height: number, width: number): { taps: Tap[][]; fillWeight: Float64Array } {
  const cy = (height - 1) / 2;
  const cx = (width - 1) / 2;
  const angle = (t.degrees * Math.PI) / 180;
  const cos = Math.cos(angle) / t.scale;
  const sin = Math.sin(angle) / t.scale;
  const taps: Tap[][] = [];
  const fillWeight = new Float64Array(height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dy = y - cy;
      const dx = x - cx;
      const sy = cy + cos * dy + sin * dx - t.shift[0];
      const sx = cx - sin * dy + cos * dx - t.shift[1];
      const y0 = Math.floor(sy);
      const x0 = Math.floor(sx);
      const fy = sy - y0;
      const fx = sx - x0;
      const list: Tap[] = [];
      let outside = 0;
      for (const [yy, xx, w] of [
        [y0, x0, (1 - fy) * (1 - fx)],
        [y0, x0 + 1, (1 - fy) * fx],
        [y0 + 1, x0, fy * (1 - fx)],
        [y0 + 1, x0 + 1, fy * fx],
      ]) {
        if (w === 0) continue;
        if (yy >= 0 && yy < height && xx >= 0 && xx < width) list.push({ index: yy * width + xx, weight: w });
        else outside += w;
      }
      taps.push(list);
      fillWeight[y * width + x] = outside;
    }
  }
  return { taps, fillWeight };
}

/** A resampler of [C, H, W] images for one transform, and its adjoint. */
export class AffineResampler {
  private readonly taps: Tap[][];
  private readonly fillWeight: Float64Array;

  constructor(
    readonly transform: AffineTransform,
    readonly channels: number,
    readonly height: number,
    readonly width: number,
    readonly fill = 0.5,
  ) {
    ({ taps: this.taps, fillWeight: this.fillWeight } = samplingTaps(transform, height, width));
  }

  apply(src: Float32Array): Float32Array {
    const plane = this.height * this.width;
    const out = new Float32Array(src.length);
    for (let c = 0; c < this.channels; c++) {
      for (let p = 0; p < plane; p++) {
        let v = this.fill * this.fillWeight[p];
        for (const tap of this.taps[p]) v += tap.weight * src[c * plane + tap.index];
        out[c * plane + p] = v;
      }
    }
    return out;
  }

  /** ∂L/∂src from ∂L/∂out. */
  adjoint(gradOut: Float32Array): Float32Array {
    const plane = this.height * this.width;
    const out = new Float32Array(gradOut.length);
    for (let c = 0; c < this.channels; c++) {
      for (let p = 0; p < plane; p++) {
        const g = gradOut[c * plane + p];
        if (g === 0) continue;
        for (const tap of this.taps[p]) out[c * plane + tap.index] += tap.weight * g;
      }
    }
    return out;
  }
}
