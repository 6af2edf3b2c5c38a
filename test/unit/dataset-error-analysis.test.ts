// Error analysis on hand-made predictions and maps whose answers can be counted by eye.
import * as assert from 'assert';
import { LabelledPredictions, confusedPairs, errorClusters, isError, ruleCovers, sliceImages } from '../../src/core/dataset/error-analysis';

function data(labels: number[], predictions: number[], confidence: number[] = labels.map(() => 0.9), classCount = 3): LabelledPredictions {
  return { classCount, labels: Int32Array.from(labels), predictions: Int32Array.from(predictions), confidence: Float32Array.from(confidence) };
}

describe('dataset error analysis', () => {
  it('ranks the off-diagonal cells of the confusion matrix by count, with the share of the label', () => {
    const confusion = [
      [5, 3, 1],
      [0, 4, 0],
      [3, 2, 6],
    ];
    assert.deepStrictEqual(confusedPairs(confusion), [
      { label: 0, prediction: 1, count: 3, shareOfLabel: 3 / 9 },
      { label: 2, prediction: 0, count: 3, shareOfLabel: 3 / 11 },
      { label: 2, prediction: 1, count: 2, shareOfLabel: 2 / 11 },
      { label: 0, prediction: 2, count: 1, shareOfLabel: 1 / 9 },
    ]);
    assert.strictEqual(confusedPairs(confusion, 1).length, 1);
  });

  it('clusters misclassified points that lie within the radius of each other, chains included, and leaves lone errors out', () => {
    // Map extent 100 → radius 3 at the default 3%. Errors: a chain 0-1-2 (steps of 2.5), a pair
    // 3-4 (too small a cluster), a lone error 5; correct points 6, 7 lie between the groups.
    const xy = Float32Array.from([0, 0, 2.5, 0, 5, 0, 50, 50, 51, 50, 100, 100, 25, 0, 0, 100]);
    const d = data([0, 0, 0, 1, 1, 2, 0, 1], [1, 1, 2, 0, 0, 0, 0, 1]);
    const clusters = errorClusters(d, xy);
    assert.strictEqual(clusters.length, 1);
    assert.deepStrictEqual(clusters[0].members, [0, 1, 2]);
    assert.deepStrictEqual(clusters[0].centroid, [2.5, 0]);
    assert.deepStrictEqual([clusters[0].label, clusters[0].prediction, clusters[0].pairCount], [0, 1, 2]);
    assert.deepStrictEqual(
      errorClusters(d, xy, { minSize: 2 }).map((c) => c.members),
      [
        [0, 1, 2],
        [3, 4],
      ],
    );
  });

  it('finds the same clusters as the quadratic single-linkage definition on random maps', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const n = 400;
    const xy = Float32Array.from({ length: 2 * n }, () => random() * 10);
    const d = data(
      Array.from({ length: n }, () => Math.floor(random() * 3)),
      Array.from({ length: n }, () => Math.floor(random() * 3)),
    );
    const radius = 0.03 * 10;
    // Reference: flood fill over all pairs of errors.
    const errors = Array.from({ length: n }, (_, i) => i).filter((i) => isError(d, i));
    const component = new Map<number, number>();
    for (const start of errors) {
      if (component.has(start)) continue;
      const stack = [start];
      component.set(start, start);
      while (stack.length) {
        const i = stack.pop()!;
        for (const j of errors) {
          if (!component.has(j) && (xy[2 * i] - xy[2 * j]) ** 2 + (xy[2 * i + 1] - xy[2 * j + 1]) ** 2 <= radius ** 2) {
            component.set(j, start);
            stack.push(j);
          }
        }
      }
    }
    const groups = new Map<number, number[]>();
    for (const [i, root] of component) groups.set(root, [...(groups.get(root) ?? []), i]);
    // The extent of these points is just under 10; give the reference the same radius.
    let [lo, hi] = [Infinity, -Infinity];
    xy.forEach((v, k) => k % 2 === 0 && ((lo = Math.min(lo, v)), (hi = Math.max(hi, v))));
    let [ylo, yhi] = [Infinity, -Infinity];
    xy.forEach((v, k) => k % 2 === 1 && ((ylo = Math.min(ylo, v)), (yhi = Math.max(yhi, v))));
    const share = radius / Math.max(hi - lo, yhi - ylo);
    const expected = [...groups.values()]
      .filter((g) => g.length >= 2)
      .map((g) => g.sort((a, b) => a - b))
      .sort((a, b) => b.length - a.length || a[0] - b[0]);
    assert.ok(expected.length > 3, 'the random map should hold several clusters');
    assert.deepStrictEqual(
      errorClusters(d, xy, { minSize: 2, radiusShare: share }).map((c) => c.members),
      expected,
    );
  });

  it('slices by label, prediction, confidence range, correctness and rule', () => {
    const d = data([0, 0, 1, 1, -1], [0, 1, 1, 0, 2], [0.95, 0.4, 0.7, 0.55, 0.99]);
    assert.deepStrictEqual(sliceImages(d, { label: 0 }), [0, 1]);
    assert.deepStrictEqual(sliceImages(d, { prediction: 0 }), [0, 3]);
    assert.deepStrictEqual(sliceImages(d, { confidence: [0.5, 0.8] }), [2, 3]);
    assert.deepStrictEqual(sliceImages(d, { correctness: 'wrong' }), [1, 3]);
    assert.deepStrictEqual(sliceImages(d, { correctness: 'correct' }), [0, 2]);
    assert.deepStrictEqual(sliceImages(d, { label: 1, correctness: 'wrong' }), [3]);
    // Two channels; the rule "channel 1 > 0.5 and channel 0 ≤ 2" on max pooling.
    const pooled = { channels: 2, mean: new Float32Array(10), max: Float32Array.from([1, 0.6, 3, 0.9, 2, 0.5, 0, 1, 2, 2]) };
    const rule = {
      pooling: 'max' as const,
      conditions: [
        { channel: 1, op: '>' as const, threshold: 0.5 },
        { channel: 0, op: '<=' as const, threshold: 2 },
      ],
    };
    assert.deepStrictEqual(sliceImages(d, { rule }, pooled), [0, 3, 4]);
    assert.strictEqual(ruleCovers({ ...rule, pooling: 'mean' }, pooled, 0), false);
    assert.throws(() => sliceImages(d, { rule }), /pooled activations/);
  });
});
