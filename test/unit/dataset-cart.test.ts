import * as assert from 'assert';
import { DecisionTree, giniImpurity, leafPaths, predictTree, trainTree, treeDepth } from '../../src/core/dataset/cart';
import { DatasetError } from '../../src/core/dataset/errors';
import { DatasetFeatures } from '../../src/core/dataset/features';
import { seededRandom } from '../../src/core/random';
import { distillRules, rulesToJson, rulesToText } from '../../src/core/dataset/rules';
import { holdoutSplit } from '../../src/core/dataset/split';

const column = (values: number[]) => values.map((v) => [v]);

function leaves(tree: DecisionTree) {
  return leafPaths(tree).map((p) => p.leaf);
}

describe('dataset: CART decision tree', () => {
  it('computes Gini impurity 1 − Σ p_k²', () => {
    assert.strictEqual(giniImpurity([10, 0]), 0);
    assert.strictEqual(giniImpurity([5, 5]), 0.5);
    assert.strictEqual(giniImpurity([1, 1, 1, 1]), 0.75);
    assert.ok(Math.abs(giniImpurity([1, 2]) - 4 / 9) < 1e-15);
    assert.strictEqual(giniImpurity([0, 0]), 0);
  });

  it('splits one separable feature halfway between the classes', () => {
    const tree = trainTree(column([1, 2, 3, 4, 5, 6]), [0, 0, 0, 1, 1, 1], 2, { maxDepth: 3, minLeaf: 1 });
    assert.strictEqual(tree.root.kind, 'split');
    if (tree.root.kind !== 'split') return;
    assert.strictEqual(tree.root.feature, 0);
    assert.strictEqual(tree.root.threshold, 3.5);
    assert.deepStrictEqual(
      leaves(tree).map((l) => [l.prediction, l.n, l.gini]),
      [
        [0, 3, 0],
        [1, 3, 0],
      ],
    );
  });

  it('chooses the informative feature over noise', () => {
    const random = seededRandom(7);
    const rows = Array.from({ length: 40 }, (_, i) => [random(), i < 20 ? random() * 0.4 : 0.6 + random() * 0.4, random()]);
    const labels = rows.map((_, i) => (i < 20 ? 0 : 1));
    const tree = trainTree(rows, labels, 2, { maxDepth: 2, minLeaf: 1 });
    assert.ok(tree.root.kind === 'split' && tree.root.feature === 1);
    assert.strictEqual(treeDepth(tree.root), 1, 'one split separates the classes: no further splits');
    rows.forEach((r, i) => assert.strictEqual(predictTree(tree, r), labels[i]));
  });

  it('respects the depth limit, taking the lowest threshold among equally good splits', () => {
    const x = column([1, 2, 3, 4, 5, 6]);
    const y = [0, 0, 1, 1, 0, 0];
    // Splits at 2.5 and 4.5 both leave weighted Gini 1/3; 2.5 comes first.
    const shallow = trainTree(x, y, 2, { maxDepth: 1, minLeaf: 1 });
    assert.strictEqual(treeDepth(shallow.root), 1);
    assert.ok(shallow.root.kind === 'split' && shallow.root.threshold === 2.5);
    assert.strictEqual(x.filter((r, i) => predictTree(shallow, r) === y[i]).length, 4);
    const deep = trainTree(x, y, 2, { maxDepth: 2, minLeaf: 1 });
    assert.strictEqual(treeDepth(deep.root), 2);
    x.forEach((r, i) => assert.strictEqual(predictTree(deep, r), y[i]));
    const stump = trainTree(x, y, 2, { maxDepth: 0, minLeaf: 1 });
    assert.deepStrictEqual([stump.root.kind, stump.root.prediction, stump.root.counts], ['leaf', 0, [4, 2]]);
  });

  it('respects the minimum leaf size', () => {
    const x = column([1, 2, 3, 4, 5, 6]);
    const y = [0, 1, 1, 1, 1, 1];
    const free = trainTree(x, y, 2, { maxDepth: 1, minLeaf: 1 });
    assert.ok(free.root.kind === 'split' && free.root.threshold === 1.5);
    const constrained = trainTree(x, y, 2, { maxDepth: 1, minLeaf: 2 });
    assert.ok(constrained.root.kind === 'split' && constrained.root.threshold === 2.5);

    const random = seededRandom(3);
    const rows = Array.from({ length: 100 }, () => [random(), random(), random()]);
    const labels = rows.map(() => Math.floor(random() * 3));
    const tree = trainTree(rows, labels, 3, { maxDepth: 12, minLeaf: 7 });
    const all = leaves(tree);
    assert.ok(all.length > 2, 'noise labels still give a deep tree');
    for (const leaf of all) assert.ok(leaf.n >= 7, `leaf with ${leaf.n} rows`);
    assert.strictEqual(
      all.reduce((s, l) => s + l.n, 0),
      100,
    );
    assert.ok(treeDepth(tree.root) <= 12);
  });

  it('does not split on a feature that is constant or gives no gain', () => {
    const tree = trainTree([[1], [1], [1], [1]], [0, 1, 0, 1], 2, { maxDepth: 3, minLeaf: 1 });
    assert.strictEqual(tree.root.kind, 'leaf');
  });

  it('refuses bad options and data with one sentence', () => {
    assert.throws(() => trainTree(column([1, 2]), [0, 1], 2, { maxDepth: -1, minLeaf: 1 }), DatasetError);
    assert.throws(() => trainTree(column([1, 2]), [0, 1], 2, { maxDepth: 2, minLeaf: 0 }), /minimum leaf size/);
    assert.throws(() => trainTree(column([1, 2]), [0, 2], 2, { maxDepth: 2, minLeaf: 1 }), /labels must be whole numbers in \[0, 2\)/);
    assert.throws(() => trainTree([], [], 2, { maxDepth: 2, minLeaf: 1 }), /at least one training row/);
  });
});

describe('dataset: held-out split', () => {
  it('holds out round(30%) of each group, deterministically, and keeps an image on its side when others are added', () => {
    const names = Array.from({ length: 50 }, (_, i) => `class${i % 2}/${i}.png`);
    const groups = names.map((_, i) => i % 2);
    const split = holdoutSplit(names, groups, 0.3);
    assert.deepStrictEqual(split, holdoutSplit(names, groups, 0.3));
    for (const g of [0, 1]) assert.strictEqual(split.filter((h, i) => h && groups[i] === g).length, Math.round(0.3 * 25));
    const more = [...names, 'class0/extra.png'];
    const splitMore = holdoutSplit(more, [...groups, 0], 0.3);
    const moved = names.filter((_, i) => split[i] !== splitMore[i]);
    assert.ok(moved.length <= 1, `at most the one image at the cut changes side, got ${moved.length}`);
    assert.throws(() => holdoutSplit(names, groups, 1), /held-out fraction/);
  });
});

/** Features of a synthetic dataset: channel 0 decides the network's class, channel 1 is noise. */
function syntheticFeatures(): DatasetFeatures {
  const n = 20;
  const random = seededRandom(11);
  const meanPooled = new Float32Array(n * 2);
  const predictions = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    meanPooled[i * 2] = i < 10 ? 0.1 + 0.02 * i : 0.7 + 0.02 * (i - 10);
    meanPooled[i * 2 + 1] = random();
    predictions[i] = i < 10 ? 0 : 1;
  }
  predictions[3] = 1; // the network disagrees with the channel on one image
  const images = Array.from({ length: n }, (_, i) => ({ file: `/d/${i}.png`, relPath: `${i}.png` }));
  return {
    root: '/d',
    modelHash: 'x',
    layer: 'L',
    penultimate: 'P',
    output: 'logits',
    classNames: ['a', 'b'],
    images,
    labelled: false,
    layerShape: [2, 1, 1],
    inputSize: [8, 8],
    meanPooled,
    maxPooled: meanPooled,
    maxPosition: new Int32Array(n * 2),
    penultimateFeatures: meanPooled,
    penultimateSize: 2,
    logits: new Float32Array(n * 2),
    predictions,
    stats: { computed: n, cached: 0, modelRuns: 1 },
    skipped: [],
  };
}

describe('dataset: distilled rules', () => {
  it('mimics the network, with coverage, purity and fidelity counted over the right images', () => {
    const features = syntheticFeatures();
    const set = distillRules(features, { depth: 1, minLeaf: 1, holdout: 0.3 });
    assert.deepStrictEqual(set.channels, [0]);
    assert.strictEqual(set.trainImages + set.testImages, 20);
    assert.strictEqual(set.testImages, 6);
    const [first, second] = [...set.rules].sort((p, q) => p.classIndex - q.classIndex);
    // Rule for 'a' covers images 0–9, of which the network calls 9 'a'; rule for 'b' covers 10–19, all 'b'.
    assert.deepStrictEqual([first.className, first.all, first.coverage, first.purity], ['a', { images: 10, agree: 9 }, 0.5, 0.9]);
    assert.deepStrictEqual([second.className, second.all, second.coverage, second.purity], ['b', { images: 10, agree: 10 }, 0.5, 1]);
    assert.deepStrictEqual(
      first.conditions.map((c) => [c.channel, c.op]),
      [[0, '<=']],
    );
    assert.ok(first.conditions[0].threshold > 0.28 && first.conditions[0].threshold < 0.7);
    const heldOutDisagreement = set.heldOut.includes('3.png') ? 1 : 0;
    assert.strictEqual(set.fidelity.test, (6 - heldOutDisagreement) / 6);
    assert.strictEqual(first.train.images + first.test.images, 10);
    assert.strictEqual(set.accuracy, undefined, 'no folder labels: no accuracy');
    assert.match(first.text, /^IF L channel 0 ≤ 0\.\d+ THEN a: 10 images, 90% agree$/);
    assert.match(rulesToText(set), /fidelity to the network: \d+\.\d% held out/);
    const json = JSON.parse(rulesToJson(set));
    assert.strictEqual(json.rules.length, 2);
    assert.strictEqual(json.tree.root.kind, 'split');
  });

  it('merges repeated tests of one channel into the tightest', () => {
    const features = syntheticFeatures();
    // Make channel 0 need two thresholds on the same side: classes a | b | a along channel 0.
    for (let i = 0; i < 20; i++) {
      features.meanPooled[i * 2] = i / 20;
      features.predictions[i] = i >= 7 && i < 14 ? 1 : 0;
    }
    const set = distillRules(features, { depth: 3, minLeaf: 1, holdout: 0.1 });
    const repeats = (keys: string[]) => new Set(keys).size < keys.length;
    assert.ok(
      leafPaths(set.tree).some((p) => repeats(p.conditions.map((c) => `${c.feature}${c.op}`))),
      'the tree tests channel 0 twice on one path',
    );
    for (const rule of set.rules) {
      const keys = rule.conditions.map((c) => `${c.channel}${c.op}`);
      assert.strictEqual(new Set(keys).size, keys.length, `repeated test in ${rule.text}`);
    }
  });
});
