// Deletion/insertion curves and the pointing game on a linear model whose important pixels are
// known.
import * as assert from 'assert';
import { boxMask, deletionInsertion, maskOnInput, pointingGame, RegionMask, regionScores, trapezoidArea } from '../../../src/core/explain/faithfulness';
import { ExplainError } from '../../../src/core/explain/types';
import { PreprocessSpec } from '../../../src/core/preprocess';
import { CancelledError } from '../../../src/core/cancel';
import { float32 } from '../../../src/core/tensor';
import { linearModel, randomTensor } from './tiny-models';

function maskOf(width: number, height: number, pixels: [number, number][]): RegionMask {
  const inside = new Uint8Array(width * height);
  for (const [x, y] of pixels) inside[y * width + x] = 1;
  return { width, height, inside };
}

const C = 3;
const S = 10;
const PLANE = S * S;

describe('explain: faithfulness', () => {
  // Class 0 sums the input over the left half: deleting left pixels first destroys the score.
  const weights = randomTensor([2, C * PLANE], 61);
  for (let c = 0; c < C; c++) for (let p = 0; p < PLANE; p++) weights.data[c * PLANE + p] = p % S < S / 2 ? 1 : 0;
  const model = linearModel(weights, [C, S, S]);
  const input = float32([1, C, S, S], new Float32Array(C * PLANE).fill(1));
  const target = { kind: 'class' as const, index: 0 };
  const leftFirst = float32(
    [S, S],
    Float32Array.from({ length: PLANE }, (_, p) => (p % S < S / 2 ? 1 : 0)),
  );
  const rightFirst = float32([S, S], leftFirst.data.map((v) => 1 - v) as Float32Array);
  after(() => model.dispose());

  it('deletion starts at the full score and ends at the baseline; insertion the reverse', async () => {
    const f = await deletionInsertion({ model, input, target }, leftFirst, { steps: 10, baseline: 'zero', score: 'logit' });
    const full = (C * PLANE) / 2;
    assert.deepStrictEqual(f.deletion.fractions, [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    assert.ok(Math.abs(f.deletion.scores[0] - full) < 1e-4 && Math.abs(f.deletion.scores[10]) < 1e-4);
    assert.ok(Math.abs(f.insertion.scores[0]) < 1e-4 && Math.abs(f.insertion.scores[10] - full) < 1e-4);
    // The left half goes first: the score is gone after half of the pixels (linear in between).
    assert.ok(Math.abs(f.deletion.scores[5]) < 1e-4 && Math.abs(f.deletion.scores[2] - 0.6 * full) < 1e-3);
    assert.ok(Math.abs(f.deletion.auc - trapezoidArea(f.deletion.fractions, f.deletion.scores)) < 1e-9);
    assert.ok(Math.abs(f.deletion.normalizedAuc - 0.25) < 1e-6, `normalised deletion area ${f.deletion.normalizedAuc}`);
    assert.ok(Math.abs(f.insertion.normalizedAuc - 0.75) < 1e-6, `normalised insertion area ${f.insertion.normalizedAuc}`);
  });

  it('a faithful map has a lower deletion area and a higher insertion area than an unfaithful one', async () => {
    const positive = float32(
      [1, C, S, S],
      (randomTensor([1, C, S, S], 62).data as Float32Array).map((v) => 1.5 + v),
    );
    const options = { steps: 20, baseline: 'zero' as const, score: 'logit' as const };
    const good = await deletionInsertion({ model, input: positive, target }, leftFirst, options);
    const bad = await deletionInsertion({ model, input: positive, target }, rightFirst, options);
    assert.ok(good.deletion.auc < bad.deletion.auc && good.insertion.auc > bad.insertion.auc);
    const defaults = await deletionInsertion({ model, input: positive, target }, leftFirst);
    assert.ok(defaults.notes[1].includes('Gaussian blur of the input, σ = 5 px'));
    assert.ok(defaults.notes[0].includes('score: probability'));
  });

  it('can be cancelled between batches', async () => {
    const controller = new AbortController();
    await assert.rejects(
      deletionInsertion({ model, input, target, signal: controller.signal, progress: () => controller.abort() }, leftFirst, { steps: 20, batch: 4 }),
      CancelledError,
    );
  });

  it('pointing game: a hit when the maximum is inside the box (with tolerance)', () => {
    const map = float32([4, 6], new Float32Array(24));
    map.data[2 * 6 + 4] = 1;
    assert.deepStrictEqual(pointingGame(map, { x0: 3, y0: 1, x1: 5, y1: 3 }), { hit: true, peak: { x: 4, y: 2 } });
    assert.strictEqual(pointingGame(map, { x0: 0, y0: 0, x1: 2, y1: 1 }).hit, false);
    assert.strictEqual(pointingGame(map, { x0: 0, y0: 0, x1: 2, y1: 1 }, 2).hit, true);
  });

  it("mask IoU thresholds the map at k = the mask's area and counts the overlap", () => {
    // 5×4 map; the mask is the 2×2 block at x 1-2, y 1-2 (area 4). The four highest values: three on
    // the block and one at (4, 0), so the overlap is 3 and IoU = 3 / (4 + 4 - 3) = 0.6.
    const map = float32([4, 5], new Float32Array(20).fill(0.1));
    const set = (x: number, y: number, v: number): void => void (map.data[y * 5 + x] = v);
    set(1, 1, 0.9);
    set(2, 1, 0.8);
    set(1, 2, 0.7);
    set(4, 0, 0.95);
    set(2, 2, 0.3);
    set(0, 3, -2);
    const region = maskOf(5, 4, [
      [1, 1],
      [2, 1],
      [1, 2],
      [2, 2],
    ]);
    const r = regionScores(map, region);
    assert.strictEqual(r.area, 4);
    assert.ok(Math.abs(r.iou - 0.6) < 1e-12, `IoU ${r.iou}`);
    assert.ok(Math.abs(r.threshold - 0.7) < 1e-6, `threshold ${r.threshold}`);
    assert.deepStrictEqual(r.peak, { x: 4, y: 0 });
    assert.strictEqual(r.pointingHit, false);
    // Positive mass: 0.9 + 0.8 + 0.7 + 0.95 + 0.3 + 14 × 0.1 = 5.05, of which 2.7 is on the block.
    assert.ok(Math.abs(r.energyInside - 2.7 / 5.05) < 1e-6, `energy ${r.energyInside}`);
  });

  it('mask IoU is 1 for a map that ranks the mask first, and ties go in row-major order', () => {
    const region = maskOf(4, 3, [
      [0, 0],
      [3, 2],
    ]);
    const exact = float32(
      [3, 4],
      Float32Array.from(region.inside, (v) => v * 2 - 1),
    );
    assert.strictEqual(regionScores(exact, region).iou, 1);
    // A flat map: the top-2 are pixels 0 and 1, overlapping the mask at pixel 0 only: 1 / 3.
    const flat = float32([3, 4], new Float32Array(12).fill(1));
    assert.strictEqual(regionScores(flat, region).iou, 1 / 3);
    assert.strictEqual(regionScores(flat, region).pointingHit, true);
  });

  it('pointing game on a mask: a hit on the mask, or within the tolerance (Chebyshev distance)', () => {
    const map = float32([6, 6], new Float32Array(36));
    map.data[1 * 6 + 1] = 1;
    const region = maskOf(6, 6, [
      [4, 4],
      [4, 3],
    ]);
    assert.strictEqual(regionScores(map, region).pointingHit, false);
    assert.strictEqual(regionScores(map, region, 2).pointingHit, false);
    assert.strictEqual(regionScores(map, region, 3).pointingHit, true); // (1, 1) to (4, 3): 3 in x, 2 in y
    map.data[3 * 6 + 4] = 2;
    assert.strictEqual(regionScores(map, region).pointingHit, true);
  });

  it("a box's mask gives the same pointing game as the box itself", () => {
    for (let seed = 0; seed < 20; seed++) {
      const map = randomTensor([7, 9], 500 + seed);
      const box = { x0: seed % 5, y0: seed % 3, x1: (seed % 5) + 3, y1: (seed % 3) + 2 };
      const region = boxMask(box, 9, 7);
      assert.strictEqual(
        region.inside.reduce((a, b) => a + b, 0),
        4 * 3,
      ); // inclusive bounds
      assert.strictEqual(regionScores(map, region).pointingHit, pointingGame(map, box).hit, `seed ${seed}`);
    }
    // Clipped to the grid.
    assert.strictEqual(
      boxMask({ x0: -3, y0: 5, x1: 20, y1: 9 }, 9, 7).inside.reduce((a, b) => a + b, 0),
      9 * 2,
    );
  });

  it('carries a mask from the image to the input grid by the preprocessing geometry', () => {
    const spec = (resize: 'stretch' | 'shorter-side-crop', size: [number, number], resizeTo?: number): PreprocessSpec => ({
      size,
      resize,
      resizeTo,
      antialias: 'pil',
      scale: 1 / 255,
      mean: [0, 0, 0],
      std: [1, 1, 1],
      layout: 'NCHW',
      colorOrder: 'RGB',
      grayscale: false,
    });
    // Stretch 4×2 → 8×4: each image pixel covers a 2×2 block of input pixels.
    const small = maskOf(4, 2, [
      [1, 0],
      [3, 1],
    ]);
    const up = maskOnInput(small, spec('stretch', [4, 8]));
    const expected = maskOf(8, 4, [
      [2, 0],
      [3, 0],
      [2, 1],
      [3, 1],
      [6, 2],
      [7, 2],
      [6, 3],
      [7, 3],
    ]);
    assert.deepStrictEqual(up, expected);
    // An 8×4 image, shorter side to 4 (no scaling) and a centre crop of 4×4: columns 2-5 are kept.
    const wide = maskOf(8, 4, [
      [2, 0],
      [5, 3],
      [7, 1],
    ]);
    assert.deepStrictEqual(
      maskOnInput(wide, spec('shorter-side-crop', [4, 4], 4)),
      maskOf(4, 4, [
        [0, 0],
        [3, 3],
      ]),
    );
  });

  it('refuses a mask of another size or with no pixels, in one sentence', () => {
    const map = float32([4, 4], new Float32Array(16));
    assert.throws(
      () => regionScores(map, maskOf(5, 4, [[0, 0]])),
      (e: Error) => e instanceof ExplainError && e.message === 'the map is 4×4 but the mask is 5×4',
    );
    assert.throws(
      () => regionScores(map, maskOf(4, 4, [])),
      (e: Error) => e instanceof ExplainError && /no pixels inside/.test(e.message),
    );
  });
});

describe('explain: faithfulness of a signal [1, C, L] and a video [1, C, T, H, W]', () => {
  // A linear score Σ w·x: deleting positions in the map's order removes their terms exactly.
  async function curves(dims: number[], sigma: number) {
    const [, channels, ...positions] = dims;
    const plane = positions.reduce((a, b) => a * b, 1);
    const weights = randomTensor([2, channels * plane], 71);
    const model = linearModel(weights, dims.slice(1));
    const input = randomTensor(dims, 72);
    // The map: each position's contribution to class 0 summed over channels (the ideal ranking).
    const contribution = Float64Array.from({ length: plane }, (_, p) => {
      let s = 0;
      for (let c = 0; c < channels; c++) s += weights.data[c * plane + p] * input.data[c * plane + p];
      return s;
    });
    const map = float32(positions, Float32Array.from(contribution));
    const target = { kind: 'class' as const, index: 0 };
    const zero = await deletionInsertion({ model, input, target }, map, { steps: 4, baseline: 'zero', score: 'logit' });
    const blur = await deletionInsertion({ model, input, target }, map, { steps: 4, blurSigma: sigma, score: 'logit' });
    await model.dispose();
    return { plane, weights, input, contribution, zero, blur };
  }

  /** Σ of the contributions left after deleting the top fraction (ties cannot occur: random values). */
  function remaining(contribution: Float64Array, fraction: number): number {
    const order = [...contribution.keys()].sort((a, b) => contribution[b] - contribution[a]);
    const kept = order.slice(Math.round(fraction * contribution.length));
    return kept.reduce((s, p) => s + contribution[p], 0);
  }

  it('a signal: samples deleted in the map’s order (all channels of a sample at once), the exact linear score at each step', async () => {
    const { contribution, zero, blur, weights, input, plane } = await curves([1, 2, 40], 2);
    assert.deepStrictEqual(zero.deletion.fractions, [0, 0.25, 0.5, 0.75, 1]);
    zero.deletion.fractions.forEach((f, i) => {
      const expected = remaining(contribution, f);
      // float32 dot products of 80 terms of order 1: 1e-4.
      assert.ok(Math.abs(zero.deletion.scores[i] - expected) < 1e-4, `deletion at ${f}: ${zero.deletion.scores[i]} against ${expected}`);
      const total = remaining(contribution, 0);
      assert.ok(Math.abs(zero.insertion.scores[i] - (total - remaining(contribution, f))) < 1e-4, `insertion at ${f}`);
    });
    assert.match(zero.notes[0], /4 steps of 10 samples \(all channels\)/);
    // The blurred baseline blurs each channel along its samples: deleting everything scores the
    // blurred signal, a 1-D Gaussian (σ = 2 samples, radius 6, edges clamped) computed here.
    const radius = 6;
    const kernel = Array.from({ length: 2 * radius + 1 }, (_, k) => Math.exp(-((k - radius) ** 2) / (2 * 2 ** 2)));
    const sum = kernel.reduce((a, b) => a + b, 0);
    let blurred = 0;
    for (let c = 0; c < 2; c++) {
      for (let i = 0; i < plane; i++) {
        let v = 0;
        for (let k = -radius; k <= radius; k++) v += (kernel[k + radius] / sum) * input.data[c * plane + Math.min(plane - 1, Math.max(0, i + k))];
        blurred += weights.data[c * plane + i] * v;
      }
    }
    assert.ok(Math.abs(blur.deletion.scores[4] - blurred) < 1e-4, `${blur.deletion.scores[4]} against ${blurred}`);
    assert.match(blur.notes[1], /σ = 2 samples, along each channel/);
  });

  it('a video: frames × pixels deleted in the map’s order, the exact linear score at each step; a map of another size is refused', async () => {
    const { contribution, zero } = await curves([1, 2, 3, 4, 5], 1);
    zero.deletion.fractions.forEach((f, i) => assert.ok(Math.abs(zero.deletion.scores[i] - remaining(contribution, f)) < 1e-4, `deletion at ${f}`));
    assert.match(zero.notes[0], /4 steps of 15 positions \(frames × pixels\)/);
    const model = linearModel(randomTensor([2, 2 * 60], 73), [2, 3, 4, 5]);
    try {
      await assert.rejects(
        deletionInsertion({ model, input: randomTensor([1, 2, 3, 4, 5], 74), target: { kind: 'class', index: 0 } }, float32([4, 5])),
        /the map has 20 values but the input has 3×4×5 positions/,
      );
    } finally {
      await model.dispose();
    }
  });
});
