import * as assert from 'assert';
import { umap2d } from '../../src/core/dataset/embedding';
import { receptiveBox } from '../../src/core/dataset/exemplars';
import { DatasetFeatures } from '../../src/core/dataset/features';
import { nearestNeighbors } from '../../src/core/dataset/neighbors';
import { pca } from '../../src/core/dataset/pca';
import { seededRandom, standardNormal } from '../../src/core/random';
import { removeMark } from '../../src/core/dataset/shortcut';

describe('dataset: PCA', () => {
  it('finds the axes and variances of a 2-D set with known covariance', () => {
    // Points ±(1,1) and ±0.3·(1,−1): covariance eigenvalues 4/3 along (1,1)/√2 and 0.12 along (1,−1)/√2.
    const data = [1, 1, -1, -1, 0.3, -0.3, -0.3, 0.3];
    const result = pca(data, 4, 2);
    const r = Math.SQRT1_2;
    assert.ok(Math.abs(result.explainedVariance[0] - 4 / 3) < 1e-9, `λ1 = ${result.explainedVariance[0]}`);
    assert.ok(Math.abs(result.explainedVariance[1] - 0.12) < 1e-9, `λ2 = ${result.explainedVariance[1]}`);
    assert.ok(Math.abs(result.components[0][0] - r) < 1e-9 && Math.abs(result.components[0][1] - r) < 1e-9);
    assert.ok(Math.abs(result.components[1][0] - r) < 1e-9 && Math.abs(result.components[1][1] + r) < 1e-9);
    assert.ok(Math.abs(result.projection[0][0] - Math.SQRT2) < 1e-9);
    assert.ok(Math.abs(result.explainedVarianceRatio[0] + result.explainedVarianceRatio[1] - 1) < 1e-9);
  });

  it('recovers a known principal axis in 10-D and is deterministic', () => {
    const random = seededRandom(5);
    const axis = Array.from({ length: 10 }, (_, j) => (j % 3) - 1 + 0.5);
    const norm = Math.hypot(...axis);
    const unit = axis.map((v) => v / norm);
    const n = 200;
    const data = new Float32Array(n * 10);
    for (let i = 0; i < n; i++) {
      const t = 5 * standardNormal(random);
      for (let j = 0; j < 10; j++) data[i * 10 + j] = 3 + t * unit[j] + 0.3 * standardNormal(random);
    }
    const result = pca(data, n, 10);
    const alignment = Math.abs(result.components[0].reduce((s, v, j) => s + v * unit[j], 0));
    assert.ok(alignment > 0.999, `alignment ${alignment}`);
    assert.ok(result.explainedVarianceRatio[0] > 0.9);
    const orthogonality = result.components[0].reduce((s, v, j) => s + v * result.components[1][j], 0);
    assert.ok(Math.abs(orthogonality) < 1e-9);
    assert.deepStrictEqual(pca(data, n, 10).projection, result.projection);
  });

  it('refuses too few points or too many components', () => {
    assert.throws(() => pca([1, 2], 1, 2), /at least two points/);
    assert.throws(() => pca([1, 2, 3, 4], 2, 2, { components: 3 }), /cannot find 3 components/);
  });
});

describe('dataset: UMAP', () => {
  const random = seededRandom(9);
  const centres = [0, 1, 2].map((k) => Array.from({ length: 8 }, (_, j) => (j === k ? 10 : 0)));
  const rows = Array.from({ length: 45 }, (_, i) => centres[i % 3].map((c) => c + standardNormal(random) * 0.5));

  it('is deterministic for a seed and keeps separated clusters apart', async () => {
    const a = await umap2d(rows, { seed: 1 });
    const b = await umap2d(rows, { seed: 1 });
    assert.deepStrictEqual(a, b);
    assert.notDeepStrictEqual(await umap2d(rows, { seed: 2 }), a);
    // Every point's nearest embedded neighbour is from its own cluster.
    for (let i = 0; i < rows.length; i++) {
      let best = -1;
      let bestDistance = Infinity;
      for (let j = 0; j < rows.length; j++) {
        if (j === i) continue;
        const d = Math.hypot(a[i][0] - a[j][0], a[i][1] - a[j][1]);
        if (d < bestDistance) [best, bestDistance] = [j, d];
      }
      assert.strictEqual(best % 3, i % 3, `point ${i}`);
    }
  });

  it('stops when cancelled', async () => {
    const controller = new AbortController();
    const run = umap2d(rows, { seed: 1, signal: controller.signal, progress: (fraction) => fraction > 0.2 && controller.abort() });
    await assert.rejects(run, { name: 'CancelledError' });
  });
});

describe('dataset: nearest neighbours', () => {
  const vectors = [
    [1, 0],
    [10, 0.5],
    [0, 1],
    [0.9, 0.1],
  ];
  const features = {
    penultimateSize: 2,
    penultimateFeatures: Float32Array.from(vectors.flat()),
    images: vectors.map((_, i) => ({ file: `/d/${i}.png`, relPath: `${i}.png`, labelName: i === 2 ? 'b' : 'a' })),
    predictions: Int32Array.from([0, 0, 1, 0]),
    classNames: ['a', 'b'],
  } as unknown as DatasetFeatures;

  it('ranks by cosine or Euclidean distance as asked', () => {
    const cosine = nearestNeighbors(features, [2, 0], { k: 3 });
    assert.deepStrictEqual(
      cosine.map((n) => n.image),
      [0, 1, 3],
    );
    assert.ok(Math.abs(cosine[0].distance) < 1e-12 && cosine[0].similarity === 1);
    const euclidean = nearestNeighbors(features, [2, 0], { k: 3, metric: 'euclidean' });
    assert.deepStrictEqual(
      euclidean.map((n) => n.image),
      [0, 3, 2],
    );
    assert.ok(Math.abs(euclidean[0].distance - 1) < 1e-12);
    assert.deepStrictEqual(
      nearestNeighbors(features, [1, 0], { k: 2, exclude: [0] }).map((n) => n.image),
      [1, 3],
    );
    assert.throws(() => nearestNeighbors(features, [1, 0, 0]), /3 features but the dataset's have 2/);
  });
});

describe('dataset: patches and marks', () => {
  it('maps a layer position to its receptive field box in input pixels', () => {
    // ShapesNet's block4: jump 8, field 38, position 0 centred at 3.5.
    const field = { size: [38, 38] as [number, number], jump: [8, 8] as [number, number], start: [3.5, 3.5] as [number, number] };
    assert.deepStrictEqual(receptiveBox(field, 7, 7, [64, 64]), [41, 41, 64, 64]);
    assert.deepStrictEqual(receptiveBox(field, 0, 0, [64, 64]), [0, 0, 23, 23]);
    assert.deepStrictEqual(receptiveBox(field, 3, 4, [64, 64]), [17, 9, 55, 47]);
  });

  it('removes a mark by filling it with the mean of the ring around it', () => {
    const width = 6;
    const data = new Uint8Array(width * width * 3).fill(10);
    for (let y = 2; y < 4; y++) for (let x = 2; x < 4; x++) data.fill(255, (y * width + x) * 3, (y * width + x) * 3 + 3);
    data[(1 * width + 1) * 3] = 130; // one ring pixel brighter in red: ring mean red = (11·10 + 130)/12 = 20
    const out = removeMark({ width, height: width, data }, [2, 2, 4, 4]);
    assert.deepStrictEqual(Array.from(out.data.subarray((2 * width + 2) * 3, (2 * width + 2) * 3 + 3)), [20, 10, 10]);
    assert.strictEqual(data[(2 * width + 2) * 3], 255, 'the original is left as it was');
    assert.throws(() => removeMark({ width, height: width, data }, [4, 4, 8, 8]), /does not fit a 6×6 image/);
  });
});
