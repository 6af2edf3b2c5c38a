// UMAP on a large dataset: a seeded sample is fitted and every other point is placed by its
// nearest fitted points. The placement is checked against hand-computed weighted means.
import * as assert from 'assert';
import { placeByNearest, seededSample } from '../../src/core/dataset/embedding';

describe('dataset: UMAP at scale', () => {
  it('samples k distinct rows, the same for the same seed, all rows when there are few', () => {
    const a = seededSample(100000, 2000, 42);
    assert.strictEqual(new Set(a).size, 2000);
    assert.ok(a.every((v, i) => v >= 0 && v < 100000 && (i === 0 || v > a[i - 1])));
    assert.deepStrictEqual(seededSample(100000, 2000, 42), a);
    assert.notDeepStrictEqual(seededSample(100000, 2000, 7), a);
    assert.deepStrictEqual(seededSample(3, 2000, 42), [0, 1, 2]);
  });

  it('places a point at the inverse-distance-weighted mean of its 5 nearest fitted points, and a duplicate on its twin', async () => {
    // Fitted rows 0–5 on a line at x = 0, 1, 2, 3, 4, 100 (1-D features), mapped to (10·x, −x).
    const features = [0, 1, 2, 3, 4, 100, 1.5, 3];
    const fitted = [0, 1, 2, 3, 4, 5];
    const fittedCoordinates = fitted.map((j) => [10 * features[j], -features[j]]);
    const placed = await placeByNearest(Float32Array.from(features), 1, fitted, fittedCoordinates, {});
    // Row 6 at 1.5: nearest are 1, 2 (distance 0.5), 0, 3 (1.5), 4 (2.5); 100 is left out.
    const w = [1 / 1.5, 1 / 0.5, 1 / 0.5, 1 / 1.5, 1 / 2.5];
    const x = [0, 1, 2, 3, 4].reduce((s, v, i) => s + w[i] * v, 0) / w.reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(placed[6][0] - 10 * x) < 1e-12 && Math.abs(placed[6][1] + x) < 1e-12, `${placed[6]} vs ${10 * x}`);
    assert.deepStrictEqual(placed[7], [30, -3]);
    fitted.forEach((row, j) => assert.strictEqual(placed[row], fittedCoordinates[j]));
  });
});
