// Per-channel statistics of a layer's output over one or more inputs: what a user scans for
// dead or saturated channels.
import { Tensor } from './tensor';

export interface ChannelStats {
  index: number;
  mean: number;
  min: number;
  max: number;
  /** Fraction of values that are exactly zero (ReLU's dead zone). */
  zeroFraction: number;
  /** Never positive on any of the inputs: the channel carries no signal forward through a ReLU. */
  dead: boolean;
}

/**
 * Statistics per channel of an activation [N, C, ...spatial] (or [N, C]) over all N inputs and
 * positions. Channel axis 1, as ONNX CNNs are NCHW.
 */
export function channelStats(activation: Tensor): ChannelStats[] {
  const [n, c] = activation.dims;
  if (activation.dims.length < 2) throw new Error(`an activation needs at least 2 dimensions, got [${activation.dims.join(', ')}]`);
  const spatial = activation.dims.slice(2).reduce((a, b) => a * b, 1);
  const data = activation.data as Float32Array;
  const stats: ChannelStats[] = [];
  for (let ch = 0; ch < c; ch++) {
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    let zeros = 0;
    for (let b = 0; b < n; b++) {
      const base = (b * c + ch) * spatial;
      for (let i = 0; i < spatial; i++) {
        const v = data[base + i];
        sum += v;
        if (v < min) min = v;
        if (v > max) max = v;
        if (v === 0) zeros++;
      }
    }
    const count = n * spatial;
    stats.push({ index: ch, mean: sum / count, min, max, zeroFraction: zeros / count, dead: max <= 0 });
  }
  return stats;
}
