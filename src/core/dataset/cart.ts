// A CART classification tree (Breiman, Friedman, Olshen & Stone, "Classification and Regression
// Trees", 1984), as in scikit-learn's DecisionTreeClassifier with criterion='gini', best splitter.
//
// Gini impurity of a node with class counts n_k out of n:  G = 1 - Σ_k (n_k / n)².
// A split "x_f ≤ t" sends the node's rows to a left and a right child; it is scored by the
// weighted child impurity (n_L·G_L + n_R·G_R) / n, and the best split is the one with the lowest
// score. Candidate thresholds lie halfway between consecutive sorted unique values of a feature.
// A node stays a leaf when it is pure, at the depth limit, or when no split leaves at least
// `minLeaf` rows on each side and lowers the impurity. Ties go to the lowest feature index, then
// the lowest threshold, so training is deterministic.
import { DatasetError } from './errors';

export interface TreeOptions {
  /** Depth limit: 0 is a single leaf, 1 one split, ... */
  maxDepth: number;
  /** Fewest training rows a leaf may hold. */
  minLeaf: number;
}

interface NodeBase {
  /** Training rows per class that reached this node. */
  counts: number[];
  /** Rows that reached this node. */
  n: number;
  /** Majority class of the node (the lowest index among ties). */
  prediction: number;
  gini: number;
}

export interface LeafNode extends NodeBase {
  kind: 'leaf';
}

export interface SplitNode extends NodeBase {
  kind: 'split';
  feature: number;
  threshold: number;
  /** Rows with feature ≤ threshold. */
  left: TreeNode;
  /** Rows with feature > threshold. */
  right: TreeNode;
}

export type TreeNode = LeafNode | SplitNode;

export interface DecisionTree {
  root: TreeNode;
  featureCount: number;
  classCount: number;
  options: TreeOptions;
}

/** One test on the way from the root to a leaf. */
export interface Condition {
  feature: number;
  op: '<=' | '>';
  threshold: number;
}

export interface LeafPath {
  conditions: Condition[];
  leaf: LeafNode;
}

// Improvements smaller than this are rounding noise, not a better split.
const MIN_GAIN = 1e-12;

export function giniImpurity(counts: readonly number[]): number {
  let n = 0;
  for (const c of counts) n += c;
  if (n === 0) return 0;
  let sumSquares = 0;
  for (const c of counts) sumSquares += (c / n) * (c / n);
  return 1 - sumSquares;
}

function majority(counts: readonly number[]): number {
  let best = 0;
  for (let k = 1; k < counts.length; k++) if (counts[k] > counts[best]) best = k;
  return best;
}

function checkOptions(options: TreeOptions): void {
  if (!Number.isInteger(options.maxDepth) || options.maxDepth < 0) {
    throw new DatasetError(`the tree depth must be a whole number ≥ 0, got ${options.maxDepth}`);
  }
  if (!Number.isInteger(options.minLeaf) || options.minLeaf < 1) {
    throw new DatasetError(`the minimum leaf size must be a whole number ≥ 1, got ${options.minLeaf}`);
  }
}

/**
 * Trains a tree on `rows` (one feature vector each, all the same length) with class `labels` in
 * [0, classCount).
 */
export function trainTree(rows: readonly ArrayLike<number>[], labels: readonly number[], classCount: number, options: TreeOptions): DecisionTree {
  checkOptions(options);
  if (rows.length === 0) throw new DatasetError('a decision tree needs at least one training row');
  if (rows.length !== labels.length) {
    throw new DatasetError(`${rows.length} feature rows but ${labels.length} labels`);
  }
  const featureCount = rows[0].length;
  if (rows.some((r) => r.length !== featureCount)) throw new DatasetError('feature rows differ in length');
  if (labels.some((y) => !Number.isInteger(y) || y < 0 || y >= classCount)) {
    throw new DatasetError(`labels must be whole numbers in [0, ${classCount})`);
  }
  // Feature-major copy: the split search reads one feature of many rows at a time.
  const columns = Array.from({ length: featureCount }, (_, f) => Float64Array.from(rows, (r) => r[f]));
  const all = Array.from(rows, (_, i) => i);
  const root = grow(all, 0, { columns, labels, classCount, options });
  return { root, featureCount, classCount, options: { ...options } };
}

interface GrowContext {
  columns: Float64Array[];
  labels: readonly number[];
  classCount: number;
  options: TreeOptions;
}

function countClasses(indices: readonly number[], ctx: GrowContext): number[] {
  const counts = new Array<number>(ctx.classCount).fill(0);
  for (const i of indices) counts[ctx.labels[i]]++;
  return counts;
}

function grow(indices: number[], depth: number, ctx: GrowContext): TreeNode {
  const counts = countClasses(indices, ctx);
  const gini = giniImpurity(counts);
  const base = { counts, n: indices.length, prediction: majority(counts), gini };
  const { maxDepth, minLeaf } = ctx.options;
  if (gini === 0 || depth >= maxDepth || indices.length < 2 * minLeaf) return { kind: 'leaf', ...base };
  const split = bestSplit(indices, counts, gini, ctx);
  if (!split) return { kind: 'leaf', ...base };
  const column = ctx.columns[split.feature];
  const leftRows = indices.filter((i) => column[i] <= split.threshold);
  const rightRows = indices.filter((i) => column[i] > split.threshold);
  return {
    kind: 'split',
    ...base,
    feature: split.feature,
    threshold: split.threshold,
    left: grow(leftRows, depth + 1, ctx),
    right: grow(rightRows, depth + 1, ctx),
  };
}

function bestSplit(indices: number[], counts: number[], parentGini: number, ctx: GrowContext): { feature: number; threshold: number } | undefined {
  const n = indices.length;
  const { minLeaf } = ctx.options;
  let best: { feature: number; threshold: number } | undefined;
  let bestScore = parentGini - MIN_GAIN;
  const left = new Array<number>(ctx.classCount);
  const right = new Array<number>(ctx.classCount);
  for (let f = 0; f < ctx.columns.length; f++) {
    const column = ctx.columns[f];
    const order = [...indices].sort((a, b) => column[a] - column[b] || a - b);
    left.fill(0);
    for (let k = 0; k < ctx.classCount; k++) right[k] = counts[k];
    // Sums of squared counts let each step update the impurities in O(1).
    let leftSquares = 0;
    let rightSquares = counts.reduce((s, c) => s + c * c, 0);
    for (let pos = 0; pos < n - 1; pos++) {
      const y = ctx.labels[order[pos]];
      leftSquares += 2 * left[y] + 1;
      rightSquares -= 2 * right[y] - 1;
      left[y]++;
      right[y]--;
      const nLeft = pos + 1;
      const nRight = n - nLeft;
      const value = column[order[pos]];
      const next = column[order[pos + 1]];
      if (value === next || nLeft < minLeaf || nRight < minLeaf) continue;
      // n_L·G_L + n_R·G_R = n_L - Σ left² / n_L + n_R - Σ right² / n_R
      const score = (n - leftSquares / nLeft - rightSquares / nRight) / n;
      if (score < bestScore) {
        bestScore = score;
        best = { feature: f, threshold: midpoint(value, next) };
      }
    }
  }
  return best;
}

/** Halfway between two values, kept strictly below the upper one when they are adjacent floats. */
function midpoint(low: number, high: number): number {
  const mid = low + (high - low) / 2;
  return mid < high ? mid : low;
}

export function leafOf(tree: DecisionTree, row: ArrayLike<number>): LeafNode {
  let node = tree.root;
  while (node.kind === 'split') node = row[node.feature] <= node.threshold ? node.left : node.right;
  return node;
}

export function predictTree(tree: DecisionTree, row: ArrayLike<number>): number {
  return leafOf(tree, row).prediction;
}

/** Every root-to-leaf path, left branches first. */
export function leafPaths(tree: DecisionTree): LeafPath[] {
  const paths: LeafPath[] = [];
  const walk = (node: TreeNode, conditions: Condition[]) => {
    if (node.kind === 'leaf') {
      paths.push({ conditions, leaf: node });
      return;
    }
    walk(node.left, [...conditions, { feature: node.feature, op: '<=', threshold: node.threshold }]);
    walk(node.right, [...conditions, { feature: node.feature, op: '>', threshold: node.threshold }]);
  };
  walk(tree.root, []);
  return paths;
}

export function treeDepth(node: TreeNode): number {
  return node.kind === 'leaf' ? 0 : 1 + Math.max(treeDepth(node.left), treeDepth(node.right));
}
