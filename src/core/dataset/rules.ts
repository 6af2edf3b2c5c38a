// Decision rules distilled from a network: a CART tree (cart.ts) trained on the pooled channel
// activations of one layer to predict what the NETWORK predicts (not the folder labels), after
// Craven & Shavlik, "Extracting Tree-Structured Representations of Trained Networks" (NIPS 1995)
// and Frosst & Hinton, "Distilling a Neural Network Into a Soft Decision Tree" (2017), with
// scikit-learn's DecisionTreeClassifier as the reference tree learner.
//
// Trained on the images not held out (split.ts), evaluated on the held-out ones:
//   fidelity = share of held-out images where tree and network predict the same class
//   accuracy = share of held-out images where the tree predicts the folder label (labelled sets)
// Each root-to-leaf path is a rule: its conditions (repeated tests on one channel merged into the
// tightest one), its class, and over the images it covers: coverage = images covered / all images,
// agreement (purity) = share of covered images the network assigns to the rule's class.
import { DecisionTree, leafOf, leafPaths, trainTree } from './cart';
import { DatasetError } from './errors';
import { DatasetFeatures, rowOf } from './features';
import { holdoutSplit } from './split';

export type Pooling = 'mean' | 'max';

export interface RuleOptions {
  /** Tree depth limit; default 3. */
  depth?: number;
  /** Fewest training images per leaf; default 5. */
  minLeaf?: number;
  /** Share of images held out for evaluation; default 0.3. */
  holdout?: number;
  /** Which pooled activation a channel feature is; default 'mean'. */
  pooling?: Pooling;
}

export interface RuleCondition {
  channel: number;
  op: '<=' | '>';
  threshold: number;
}

export interface RuleCounts {
  /** Images the rule covers. */
  images: number;
  /** Of those, images the network assigns to the rule's class. */
  agree: number;
}

export interface Rule {
  conditions: RuleCondition[];
  classIndex: number;
  className: string;
  train: RuleCounts;
  test: RuleCounts;
  /** Train and test together. */
  all: RuleCounts;
  /** all.images / dataset size. */
  coverage: number;
  /** all.agree / all.images (0 when it covers nothing). */
  purity: number;
  text: string;
}

export interface RuleSet {
  layer: string;
  pooling: Pooling;
  depth: number;
  minLeaf: number;
  holdout: number;
  trainImages: number;
  testImages: number;
  /** Agreement of tree and network. */
  fidelity: { train: number; test: number };
  /** Against folder labels on the held-out images, when the dataset is labelled. */
  accuracy?: { tree: number; network: number };
  /** Rules, most images first. */
  rules: Rule[];
  /** Channels the rules test, in order of first use from the root. */
  channels: number[];
  /** relPaths of the held-out images. */
  heldOut: string[];
  tree: DecisionTree;
}

/** Pooled activations per image: the tree's feature rows. */
export function channelRows(features: DatasetFeatures, pooling: Pooling): Float32Array[] {
  const matrix = pooling === 'max' ? features.maxPooled : features.meanPooled;
  const c = features.layerShape[0];
  return features.images.map((_, i) => rowOf(matrix, i, c));
}

export function distillRules(features: DatasetFeatures, options: RuleOptions = {}): RuleSet {
  const depth = options.depth ?? 3;
  const minLeaf = options.minLeaf ?? 5;
  const holdout = options.holdout ?? 0.3;
  const pooling = options.pooling ?? 'mean';
  const rows = channelRows(features, pooling);
  const predictions = Array.from(features.predictions);
  const names = features.images.map((im) => im.relPath);
  const groups = features.images.map((im, i) => im.label ?? predictions[i]);
  const heldOut = holdoutSplit(names, groups, holdout);
  const trainIdx = rows.flatMap((_, i) => (heldOut[i] ? [] : [i]));
  const testIdx = rows.flatMap((_, i) => (heldOut[i] ? [i] : []));
  if (trainIdx.length === 0) throw new DatasetError('no images left to train the rules on');
  const tree = trainTree(
    trainIdx.map((i) => rows[i]),
    trainIdx.map((i) => predictions[i]),
    features.classNames.length,
    { maxDepth: depth, minLeaf },
  );

  const agreement = (indices: number[]) => (indices.length ? indices.filter((i) => leafOf(tree, rows[i]).prediction === predictions[i]).length / indices.length : 0);
  const labelledTest = testIdx.filter((i) => features.images[i].label !== undefined);
  const accuracy =
    features.labelled && labelledTest.length > 0
      ? {
          tree: labelledTest.filter((i) => leafOf(tree, rows[i]).prediction === features.images[i].label).length / labelledTest.length,
          network: labelledTest.filter((i) => predictions[i] === features.images[i].label).length / labelledTest.length,
        }
      : undefined;

  const leaves = leafPaths(tree);
  const rules = leaves
    .map(({ conditions, leaf }) => {
      const covered = (indices: number[]) => indices.filter((i) => leafOf(tree, rows[i]) === leaf);
      const counts = (indices: number[]): RuleCounts => {
        const inLeaf = covered(indices);
        return { images: inLeaf.length, agree: inLeaf.filter((i) => predictions[i] === leaf.prediction).length };
      };
      const train = counts(trainIdx);
      const test = counts(testIdx);
      const all = { images: train.images + test.images, agree: train.agree + test.agree };
      const merged = mergeConditions(conditions.map((c) => ({ channel: c.feature, op: c.op, threshold: c.threshold })));
      const rule: Rule = {
        conditions: merged,
        classIndex: leaf.prediction,
        className: features.classNames[leaf.prediction] ?? `class ${leaf.prediction}`,
        train,
        test,
        all,
        coverage: all.images / rows.length,
        purity: all.images ? all.agree / all.images : 0,
        text: '',
      };
      rule.text = ruleText(rule, features.layer);
      return rule;
    })
    .sort((a, b) => b.all.images - a.all.images);

  return {
    layer: features.layer,
    pooling,
    depth,
    minLeaf,
    holdout,
    trainImages: trainIdx.length,
    testImages: testIdx.length,
    fidelity: { train: agreement(trainIdx), test: agreement(testIdx) },
    accuracy,
    rules,
    channels: channelsInOrder(tree),
    heldOut: testIdx.map((i) => names[i]),
    tree,
  };
}

/** Several tests of one channel in one direction keep only the tightest. */
function mergeConditions(conditions: RuleCondition[]): RuleCondition[] {
  const merged: RuleCondition[] = [];
  for (const c of conditions) {
    const same = merged.find((m) => m.channel === c.channel && m.op === c.op);
    if (!same) merged.push({ ...c });
    else same.threshold = c.op === '<=' ? Math.min(same.threshold, c.threshold) : Math.max(same.threshold, c.threshold);
  }
  return merged;
}

function channelsInOrder(tree: DecisionTree): number[] {
  const seen: number[] = [];
  const queue = [tree.root];
  while (queue.length > 0) {
    const node = queue.shift()!;
    if (node.kind !== 'split') continue;
    if (!seen.includes(node.feature)) seen.push(node.feature);
    queue.push(node.left, node.right);
  }
  return seen;
}

export function formatNumber(value: number): string {
  return Number(value.toPrecision(3)).toString();
}

function ruleText(rule: Rule, layer: string): string {
  const tests = rule.conditions.map((c, i) => `${i === 0 ? `${layer} ` : ''}channel ${c.channel} ${c.op === '<=' ? '≤' : '>'} ${formatNumber(c.threshold)}`);
  const condition = tests.length ? `IF ${tests.join(' AND ')} THEN` : 'ALWAYS';
  const agree = rule.all.images ? Math.round((100 * rule.all.agree) / rule.all.images) : 0;
  return `${condition} ${rule.className}: ${rule.all.images} images, ${agree}% agree`;
}

/** The rule set as text: a header with the numbers, then one rule a line. */
export function rulesToText(set: RuleSet): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = [
    `Rules mimicking the network from ${set.layer} (channel = ${set.pooling} of its activation over the image)`,
    `depth ≤ ${set.depth}, ≥ ${set.minLeaf} images a leaf; trained on ${set.trainImages} images, evaluated on ${set.testImages} held out`,
    `fidelity to the network: ${pct(set.fidelity.test)} held out (${pct(set.fidelity.train)} training)` +
      (set.accuracy ? `; accuracy on folder labels: rules ${pct(set.accuracy.tree)}, network ${pct(set.accuracy.network)}` : ''),
    '',
    ...set.rules.map((r) => r.text),
  ];
  return lines.join('\n');
}

/** The rule set as JSON text (the tree included, as nested nodes). */
export function rulesToJson(set: RuleSet): string {
  return JSON.stringify(set, null, 1);
}
