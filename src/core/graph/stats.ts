// Activation statistics of every node of a graph for one input, computed in bounded memory: the
// node outputs are exposed in groups whose estimated size fits the activation limit
// (src/core/activation-memory.ts), one session and run per group, released before the next, and
// only each output's small summary is kept.
//
// For an output [N, C, ...] (channels on axis 1, as ONNX CNNs are NCHW), over all N and positions:
//   mean, max, zeroFraction = #{v = 0} / #values;
//   a channel is dead when it has no positive value (max ≤ 0: nothing passes a following ReLU);
//   a channel is saturated when every value lies within SATURATION_TOLERANCE·(hi − lo) of one of
//   its op's bounds [lo, hi] (Sigmoid and HardSigmoid [0, 1], Tanh [−1, 1], Clip [min, max]):
//   there the op's derivative is (near) zero, so no gradient flows back through the channel.
//   A channel at a bound of 0 (Clip(0, 6) all zero) is both dead and saturated.
// The thumbnail is the mean over channels of the first item's spatial map, box-averaged down to at
// most THUMBNAIL_SIDE a side.
import type { NodeStatsView } from './types';
import { ConvModel } from '../model';
import { attrFloat } from '../onnx/graph';
import { tensorFromProto } from '../onnx/initializers';
import { encodeModelReusing, GraphProto, NodeProto } from '../onnx/proto';
import { exposeOutputs } from '../onnx/surgery';
import { throwIfCancelled } from '../cancel';
import { createSession, run } from '../onnx/session';
import { Tensor, mapToFloat32 } from '../tensor';

export const SATURATION_TOLERANCE = 1e-3;
export const THUMBNAIL_SIDE = 32;

export interface Thumbnail {
  width: number;
  height: number;
  values: Float32Array;
}

/** The protocol's node statistics, with the thumbnail as values rather than a PNG. */
export type NodeStats = Omit<NodeStatsView, 'thumbnail'> & { thumbnail?: Thumbnail };

/** The bounds of a bounded op's output, or undefined (Clip without constant bounds too). */
export function outputBounds(node: NodeProto, graph: GraphProto): [number, number] | undefined {
  switch (node.op_type) {
    case 'Sigmoid':
    case 'HardSigmoid':
      return [0, 1];
    case 'Tanh':
      return [-1, 1];
    case 'Clip': {
      // Opset < 11: attributes; later: optional scalar inputs, which must be initializers here.
      const bound = (k: number, attr: string, fallback: number): number | undefined => {
        if (node.input.length <= k) return attrFloat(node, attr, fallback);
        const name = node.input[k];
        if (!name) return fallback;
        const init = (graph.initializer ?? []).find((t) => t.name === name);
        return init ? Number(tensorFromProto(init).data[0]) : undefined;
      };
      const lo = bound(1, 'min', -Infinity);
      const hi = bound(2, 'max', Infinity);
      return lo !== undefined && hi !== undefined && Number.isFinite(lo) && Number.isFinite(hi) && hi > lo ? [lo, hi] : undefined;
    }
    default:
      return undefined;
  }
}

/** The statistics of one float output [N, C, ...] (see the file's comment for the definitions). */
export function tensorStats(t: Tensor, bounds?: [number, number]): NodeStats {
  const [n, c] = t.dims;
  const data = t.data as Float32Array;
  const spatial = t.dims.slice(2).reduce((a, b) => a * b, 1);
  const tolerance = bounds ? SATURATION_TOLERANCE * (bounds[1] - bounds[0]) : 0;
  let sum = 0;
  let max = -Infinity;
  let zeros = 0;
  let dead = 0;
  let saturated = 0;
  for (let ch = 0; ch < c; ch++) {
    let channelMax = -Infinity;
    let atBound = true;
    for (let b = 0; b < n; b++) {
      const base = (b * c + ch) * spatial;
      for (let i = 0; i < spatial; i++) {
        const v = data[base + i];
        sum += v;
        if (v > channelMax) channelMax = v;
        if (v === 0) zeros++;
        if (bounds && atBound && v - bounds[0] > tolerance && bounds[1] - v > tolerance) atBound = false;
      }
    }
    if (channelMax > max) max = channelMax;
    if (!(channelMax > 0)) dead++;
    if (bounds && atBound) saturated++;
  }
  const count = data.length;
  const stats: NodeStats = { mean: sum / count, max, zeroFraction: zeros / count, channels: c, dead };
  if (bounds) stats.saturated = saturated;
  if (t.dims.length === 4) stats.thumbnail = meanMapThumbnail(data, c, t.dims[2], t.dims[3]);
  return stats;
}

/** Mean over channels of item 0 of [N, C, H, W], box-averaged to at most THUMBNAIL_SIDE a side. */
function meanMapThumbnail(data: Float32Array, c: number, h: number, w: number): Thumbnail {
  const step = Math.max(1, Math.ceil(Math.max(h, w) / THUMBNAIL_SIDE));
  const height = Math.ceil(h / step);
  const width = Math.ceil(w / step);
  const sums = new Float64Array(width * height);
  const counts = new Float64Array(width * height);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const cell = Math.floor(y / step) * width + Math.floor(x / step);
        sums[cell] += data[(ch * h + y) * w + x];
        counts[cell]++;
      }
    }
  }
  return { width, height, values: mapToFloat32(sums, (s, i) => s / counts[i]) };
}

export interface StatsTarget {
  tensor: string;
  bounds?: [number, number];
}

export interface GraphStatsOptions {
  signal?: AbortSignal;
  progress?: (fraction: number, message: string) => void;
}

/**
 * Statistics of each target's float output for `feeds`, by tensor name, with the targets left out
 * (a non-float output, or one alone over the activation limit, named in `skipped` with the reason).
 */
export async function graphStats(
  model: ConvModel,
  feeds: Record<string, Tensor>,
  targets: StatsTarget[],
  options: GraphStatsOptions = {},
): Promise<{ stats: Map<string, NodeStats>; skipped: Map<string, string> }> {
  const stats = new Map<string, NodeStats>();
  const skipped = new Map<string, string>();
  const groups = await groupsWithinLimit(model, feeds, targets, skipped);
  for (const [k, group] of groups.entries()) {
    throwIfCancelled(options.signal);
    options.progress?.(k / groups.length, `activations of ${group.targets.length} layers (group ${k + 1} of ${groups.length})`);
    const session = await createSession(
      encodeModelReusing(
        exposeOutputs(
          model.proto,
          group.targets.map((t) => t.tensor),
        ),
        model,
      ),
      model.provider,
      { threads: model.threads },
    );
    try {
      const outputs = await run(
        session,
        feeds,
        group.targets.map((t) => t.tensor),
      );
      for (const target of group.targets) {
        const t = outputs[target.tensor];
        if (t.dtype !== 'float32' || t.dims.length < 2) skipped.set(target.tensor, `a ${t.dtype} output of ${t.dims.length} dimensions has no channels`);
        else stats.set(target.tensor, tensorStats(t, target.bounds));
      }
    } finally {
      await session.session.release();
    }
  }
  return { stats, skipped };
}

/** Consecutive targets in groups whose estimated activation bytes stay within the model's limit. */
async function groupsWithinLimit(model: ConvModel, feeds: Record<string, Tensor>, targets: StatsTarget[], skipped: Map<string, string>): Promise<{ targets: StatsTarget[] }[]> {
  const limit = model.activationLimit.bytes;
  const groups: { targets: StatsTarget[] }[] = [];
  let current: { targets: StatsTarget[] } | undefined;
  let bytes = 0;
  for (const target of targets) {
    const size = await model.activationBytes([target.tensor], feeds);
    if (size > limit) {
      skipped.set(target.tensor, 'its activations alone are over the activation memory limit');
      continue;
    }
    if (!current || bytes + size > limit) {
      current = { targets: [] };
      groups.push(current);
      bytes = 0;
    }
    current.targets.push(target);
    bytes += size;
  }
  return groups;
}
