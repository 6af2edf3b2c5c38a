// Error analysis of a dataset's predictions, as LIT and the Responsible-AI dashboard show it: the
// most confused ordered pairs of the confusion matrix (summary.ts), clusters of misclassified images in the 2-D feature map, and
// slices of the dataset filtered by label, prediction, confidence range or a distilled rule.
//
// Error clusters are the connected components of the misclassified points under the relation
// "within `radius` of each other" (single linkage cut at `radius`, i.e. DBSCAN with minPoints = 1),
// found through a uniform grid of cell side `radius` so each point only looks at its 3×3 cells.
// The radius is a share of the map's larger extent, so it does not depend on the map's units.
import { DatasetError } from './errors';
import { Pooling, RuleCondition } from './rules';

/** Labels and predictions of a dataset: label −1 for an image without a folder label. */
export interface LabelledPredictions {
  classCount: number;
  labels: Int32Array;
  predictions: Int32Array;
  /** Softmax probability of each prediction. */
  confidence: Float32Array;
}

export interface ConfusedPair {
  label: number;
  prediction: number;
  count: number;
  /** count / images labelled `label`. */
  shareOfLabel: number;
}

export interface ErrorCluster {
  /** Indices of the misclassified images in the cluster, ascending. */
  members: number[];
  centroid: [number, number];
  /** The (label, prediction) pair most members share, with how many do. */
  label: number;
  prediction: number;
  pairCount: number;
}

/** Clusters are components of errors within this share of the map's larger extent of each other. */
export const ERROR_CLUSTER_RADIUS = 0.03;
/** Fewer errors than this together are not reported as a cluster. */
export const MIN_ERROR_CLUSTER = 3;

/** The off-diagonal cells of a confusion matrix with a count, most images first (ties: label, prediction). */
export function confusedPairs(confusion: number[][], top = 10): ConfusedPair[] {
  const pairs: ConfusedPair[] = [];
  confusion.forEach((row, label) => {
    const labelled = row.reduce((a, b) => a + b, 0);
    row.forEach((count, prediction) => {
      if (prediction !== label && count > 0) pairs.push({ label, prediction, count, shareOfLabel: count / labelled });
    });
  });
  return pairs.sort((a, b) => b.count - a.count || a.label - b.label || a.prediction - b.prediction).slice(0, top);
}

/** Whether image i is labelled and predicted as another class. */
export function isError(data: LabelledPredictions, i: number): boolean {
  return data.labels[i] >= 0 && data.labels[i] !== data.predictions[i];
}

/**
 * Connected components of the misclassified images in the map `xy` (interleaved x, y per image)
 * under distance ≤ radiusShare × the map's larger extent; components of at least `minSize`
 * errors, largest first.
 */
export function errorClusters(data: LabelledPredictions, xy: Float32Array, options: { radiusShare?: number; minSize?: number } = {}): ErrorCluster[] {
  const n = data.labels.length;
  if (xy.length !== 2 * n) throw new DatasetError(`the map has ${xy.length / 2} points for ${n} images`);
  const errors: number[] = [];
  for (let i = 0; i < n; i++) if (isError(data, i)) errors.push(i);
  if (errors.length === 0) return [];
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    x0 = Math.min(x0, xy[2 * i]);
    x1 = Math.max(x1, xy[2 * i]);
    y0 = Math.min(y0, xy[2 * i + 1]);
    y1 = Math.max(y1, xy[2 * i + 1]);
  }
  const radius = (options.radiusShare ?? ERROR_CLUSTER_RADIUS) * (Math.max(x1 - x0, y1 - y0) || 1);
  const cellOf = (i: number): [number, number] => [Math.floor((xy[2 * i] - x0) / radius), Math.floor((xy[2 * i + 1] - y0) / radius)];
  const grid = new Map<string, number[]>();
  for (const i of errors) {
    const key = cellOf(i).join(',');
    const cell = grid.get(key);
    if (cell) cell.push(i);
    else grid.set(key, [i]);
  }
  // Union-find over the errors, joining pairs within the radius in neighbouring cells.
  const parent = new Map<number, number>(errors.map((i) => [i, i]));
  const find = (i: number): number => {
    let root = i;
    while (parent.get(root) !== root) root = parent.get(root)!;
    while (parent.get(i) !== root) {
      const next = parent.get(i)!;
      parent.set(i, root);
      i = next;
    }
    return root;
  };
  const r2 = radius * radius;
  for (const i of errors) {
    const [cx, cy] = cellOf(i);
    for (let dx = -1; dx <= 1; dx++) {
      for (let dy = -1; dy <= 1; dy++) {
        for (const j of grid.get(`${cx + dx},${cy + dy}`) ?? []) {
          if (j <= i || (xy[2 * i] - xy[2 * j]) ** 2 + (xy[2 * i + 1] - xy[2 * j + 1]) ** 2 > r2) continue;
          const [a, b] = [find(i), find(j)];
          if (a !== b) parent.set(Math.max(a, b), Math.min(a, b));
        }
      }
    }
  }
  const components = new Map<number, number[]>();
  for (const i of errors) {
    const root = find(i);
    const members = components.get(root);
    if (members) members.push(i);
    else components.set(root, [i]);
  }
  const minSize = options.minSize ?? MIN_ERROR_CLUSTER;
  return [...components.values()]
    .filter((members) => members.length >= minSize)
    .map((members) => clusterOf(data, xy, members))
    .sort((a, b) => b.members.length - a.members.length || a.members[0] - b.members[0]);
}

function clusterOf(data: LabelledPredictions, xy: Float32Array, members: number[]): ErrorCluster {
  let [sx, sy] = [0, 0];
  const pairs = new Map<string, number>();
  for (const i of members) {
    sx += xy[2 * i];
    sy += xy[2 * i + 1];
    const key = `${data.labels[i]},${data.predictions[i]}`;
    pairs.set(key, (pairs.get(key) ?? 0) + 1);
  }
  // Most shared pair; ties go to the smaller label, then prediction (keys compared as numbers).
  const [pair, pairCount] = [...pairs].sort((a, b) => b[1] - a[1] || comparePairKeys(a[0], b[0]))[0];
  const [label, prediction] = pair.split(',').map(Number);
  return { members, centroid: [sx / members.length, sy / members.length], label, prediction, pairCount };
}

function comparePairKeys(a: string, b: string): number {
  const [la, pa] = a.split(',').map(Number);
  const [lb, pb] = b.split(',').map(Number);
  return la - lb || pa - pb;
}

/** What a slice keeps; every field given must hold. */
export interface SliceFilter {
  label?: number;
  prediction?: number;
  /** Confidence of the prediction within [min, max]. */
  confidence?: [number, number];
  correctness?: 'correct' | 'wrong';
  /** Images a distilled rule covers: its conditions tested on the pooled activations it was distilled on. */
  rule?: { conditions: RuleCondition[]; pooling: Pooling };
}

/** The pooled channel activations a rule is tested on, row-major N × C. */
export interface PooledActivations {
  channels: number;
  mean: Float32Array;
  max: Float32Array;
}

/** Indices of the images the filter keeps, ascending. */
export function sliceImages(data: LabelledPredictions, filter: SliceFilter, pooled?: PooledActivations): number[] {
  if (filter.rule && !pooled) throw new DatasetError('a rule slice needs the pooled activations the rule was distilled on');
  const kept: number[] = [];
  for (let i = 0; i < data.labels.length; i++) {
    if (filter.label !== undefined && data.labels[i] !== filter.label) continue;
    if (filter.prediction !== undefined && data.predictions[i] !== filter.prediction) continue;
    if (filter.confidence && (data.confidence[i] < filter.confidence[0] || data.confidence[i] > filter.confidence[1])) continue;
    if (filter.correctness === 'wrong' && !isError(data, i)) continue;
    if (filter.correctness === 'correct' && (data.labels[i] < 0 || isError(data, i))) continue;
    if (filter.rule && !ruleCovers(filter.rule, pooled!, i)) continue;
    kept.push(i);
  }
  return kept;
}

/** Whether image i meets every condition of the rule (as the tree routes it: ≤ goes left). */
export function ruleCovers(rule: { conditions: RuleCondition[]; pooling: Pooling }, pooled: PooledActivations, i: number): boolean {
  const matrix = rule.pooling === 'max' ? pooled.max : pooled.mean;
  return rule.conditions.every((c) => {
    const v = matrix[i * pooled.channels + c.channel];
    return c.op === '<=' ? v <= c.threshold : v > c.threshold;
  });
}
