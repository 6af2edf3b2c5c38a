// Perturbation methods on tiny models whose answers are known: Occlusion's exact definition and
// blindness to an ignored region, LIME and Kernel SHAP on a linear model, RISE on a model that
// looks at one square; batching, fixed-batch models, progress and cancellation.
import * as assert from 'assert';
import { explain } from '../../../src/core/explain';
import { ExplainContext, Explanation } from '../../../src/core/explain/types';
import { CancelledError } from '../../../src/core/cancel';
import { float32, FloatTensor } from '../../../src/core/tensor';
import { linearModel, randomTensor } from './tiny-models';

const C = 3;
const H = 12;
const W = 12;
const PLANE = H * W;

/** Weights of class 0 (class 1 gets other weights so the output has two scores). */
function weightsFor(class0: (c: number, y: number, x: number) => number): FloatTensor {
  const w = randomTensor([2, C * PLANE], 7);
  for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) w.data[(c * H + y) * W + x] = class0(c, y, x);
  return w;
}

const input = randomTensor([1, C, H, W], 3, 2);
const target = { kind: 'class' as const, index: 0 };

function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]));
  return m;
}

describe('explain: occlusion (Captum Occlusion)', () => {
  const w = weightsFor(() => 0);
  w.data.set(randomTensor([C * PLANE], 11).data as Float32Array);
  const model = linearModel(w, [C, H, W]);
  after(() => model.dispose());

  it('equals the mean over covering windows of the score drop, with the last window cut at the border', async () => {
    const e = await explain('occlusion', { model, input, target }, { window: [3, 5, 5], strides: [3, 3, 3], baseline: 0.5, batch: 4 });
    // Windows start at 0, 3, 6, 9 (ceil((12 − 5)/3) + 1 = 4); the last covers 9..11 only.
    const starts = [0, 3, 6, 9];
    const x = input.data as Float32Array;
    const expected = new Float64Array(C * PLANE);
    const count = new Float64Array(C * PLANE);
    for (const y0 of starts) {
      for (const x0 of starts) {
        let drop = 0;
        const cells: number[] = [];
        for (let c = 0; c < C; c++) for (let y = y0; y < Math.min(y0 + 5, H); y++) for (let xx = x0; xx < Math.min(x0 + 5, W); xx++) cells.push((c * H + y) * W + xx);
        for (const e2 of cells) drop += w.data[e2] * (x[e2] - 0.5);
        for (const e2 of cells) {
          expected[e2] += drop;
          count[e2]++;
        }
      }
    }
    const raw = e.raw.data as Float32Array;
    const scale = maxAbs(expected.map((v, i) => v / count[i]));
    for (let i = 0; i < raw.length; i++) assert.ok(Math.abs(raw[i] - expected[i] / count[i]) <= 1e-4 * scale, `element ${i}`);
    assert.deepStrictEqual(e.raw.dims, [1, C, H, W]);
  });

  it('does not run windows already at the baseline, with the result of running them', async () => {
    // The top-left 6×6 of every channel is at the baseline: the four 3×3 windows inside it leave the input as it is.
    const x = Float32Array.from(input.data as Float32Array);
    for (let c = 0; c < C; c++) for (let y = 0; y < 6; y++) for (let xx = 0; xx < 6; xx++) x[(c * H + y) * W + xx] = 0.5;
    const flat = float32([1, C, H, W], x);
    const e = await explain('occlusion', { model, input: flat, target }, { window: [3, 3, 3], strides: [3, 3, 3], baseline: 0.5, batch: 5 });
    assert.ok(e.notes.includes('4 windows already at the baseline: their score is y(x), without a pass'), e.notes.join('; '));
    // Windows tile the input (stride = window): each element's attribution is its window's drop Σ w (x − 0.5).
    const raw = e.raw.data as Float32Array;
    const expected = new Float64Array(C * PLANE);
    for (let y0 = 0; y0 < H; y0 += 3) {
      for (let x0 = 0; x0 < W; x0 += 3) {
        const cells: number[] = [];
        for (let c = 0; c < C; c++) for (let y = y0; y < y0 + 3; y++) for (let xx = x0; xx < x0 + 3; xx++) cells.push((c * H + y) * W + xx);
        const drop = cells.reduce((sum, e2) => sum + w.data[e2] * (x[e2] - 0.5), 0);
        for (const e2 of cells) expected[e2] = drop;
      }
    }
    const scale = maxAbs(expected);
    for (let i = 0; i < raw.length; i++) assert.ok(Math.abs(raw[i] - expected[i]) <= 1e-4 * scale, `element ${i}: ${raw[i]} vs ${expected[i]}`);
    for (let y = 0; y < 6; y++) assert.strictEqual(raw[y * W], 0, `row ${y} of the region at the baseline`);
  });

  it('gives exactly zero to a region the model ignores', async () => {
    const blind = linearModel(
      weightsFor((c, y, x) => (x >= W / 2 ? 0 : Math.sin(c + y + x) + 1.5)),
      [C, H, W],
    );
    try {
      const e = await explain('occlusion', { model: blind, input, target }, { window: [3, 3, 3], strides: [3, 3, 3] });
      const raw = e.raw.data as Float32Array;
      let left = 0;
      for (let i = 0; i < raw.length; i++) {
        if (i % W >= W / 2) assert.strictEqual(raw[i], 0, `ignored element ${i}`);
        else left = Math.max(left, Math.abs(raw[i]));
      }
      assert.ok(left > 0.1, 'the region the model uses gets attributions');
    } finally {
      await blind.dispose();
    }
  });

  it('runs on a model whose batch is fixed at 1, one input at a time', async () => {
    const fixed = linearModel(w, [C, H, W], { batch: 'fixed' });
    try {
      const batched = await explain('occlusion', { model, input, target }, { window: 4, batch: 8 });
      const single = await explain('occlusion', { model: fixed, input, target }, { window: 4, batch: 8 });
      const a = batched.raw.data as Float32Array;
      const b = single.raw.data as Float32Array;
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-5 * maxAbs(a));
    } finally {
      await fixed.dispose();
    }
  });
});

describe('explain: surrogate methods on a linear model', () => {
  const w = weightsFor(() => 0);
  w.data.set(randomTensor([C * PLANE], 12).data as Float32Array);
  const model = linearModel(w, [C, H, W]);
  after(() => model.dispose());

  /** Σ over each superpixel of w·(x − replacement). */
  function expectedPerSegment(e: Explanation, replacement: (i: number, segment: number) => number): Float64Array {
    const labels = e.segments!.data as Int32Array;
    const count = Math.max(...labels) + 1;
    const out = new Float64Array(count);
    const x = input.data as Float32Array;
    for (let c = 0; c < C; c++) for (let p = 0; p < PLANE; p++) out[labels[p]] += w.data[c * PLANE + p] * (x[c * PLANE + p] - replacement(c * PLANE + p, labels[p]));
    return out;
  }

  function perSegment(e: Explanation): Float64Array {
    const labels = e.segments!.data as Int32Array;
    const out = new Float64Array(Math.max(...labels) + 1);
    labels.forEach((l, p) => (out[l] = (e.raw.data as Float32Array)[p]));
    return out;
  }

  it('kernel-shap gives w·(x − b) summed over each superpixel', async () => {
    const e = await explain('kernel-shap', { model, input, target }, { segments: 9, samples: 80, baseline: 0.25 });
    const expected = expectedPerSegment(e, () => 0.25);
    const got = perSegment(e);
    const scale = maxAbs(expected);
    expected.forEach((v, s) => assert.ok(Math.abs(got[s] - v) <= 1e-3 * scale, `superpixel ${s}: ${got[s]} vs ${v}`));
    assert.ok(Math.abs(e.metrics!.shapleySum - e.metrics!.scoreGain) <= 1e-3 * Math.abs(e.metrics!.scoreGain));
  });

  it('lime recovers the linear model over superpixels (hidden ones at their mean colour), R² ≈ 1', async () => {
    const e = await explain('lime', { model, input, target }, { segments: 9, samples: 400, score: 'logit' });
    const labels = e.segments!.data as Int32Array;
    const x = input.data as Float32Array;
    const means = new Map<string, number>();
    const meanOf = (i: number, s: number) => {
      const c = Math.floor(i / PLANE);
      const key = `${c}:${s}`;
      if (!means.has(key)) {
        let sum = 0;
        let n = 0;
        for (let p = 0; p < PLANE; p++) if (labels[p] === s) ((sum += x[c * PLANE + p]), n++);
        means.set(key, sum / n);
      }
      return means.get(key)!;
    };
    const expected = expectedPerSegment(e, meanOf);
    const got = perSegment(e);
    // Ridge (alpha 1) shrinks coefficients slightly: within 3% of the largest.
    const scale = maxAbs(expected);
    expected.forEach((v, s) => assert.ok(Math.abs(got[s] - v) <= 0.03 * scale, `superpixel ${s}: ${got[s]} vs ${v}`));
    assert.ok(e.metrics!.r2 > 0.99, `R² ${e.metrics!.r2}`);
    assert.ok(e.notes.some((n) => /R² = 0\.99|R² = 1\.000/.test(n)));
  });
});

describe('explain: RISE', () => {
  it('ranks the square the model looks at above the rest of the image', async () => {
    const inSquare = (y: number, x: number) => y >= 2 && y < 6 && x >= 6 && x < 10;
    const model = linearModel(
      weightsFor((_c, y, x) => (inSquare(y, x) ? 1 : 0)),
      [C, H, W],
    );
    try {
      const positive = float32([1, C, H, W], new Float32Array(C * PLANE).fill(1));
      const e = await explain('rise', { model, input: positive, target }, { masks: 400, cells: 4, score: 'logit', seed: 5 });
      const map = e.map.data as Float32Array;
      let inside = 0;
      let outside = 0;
      for (let p = 0; p < PLANE; p++) inSquare(Math.floor(p / W), p % W) ? (inside += map[p] / 16) : (outside += map[p] / (PLANE - 16));
      assert.ok(inside > outside + 0.25, `mean inside ${inside.toFixed(3)}, outside ${outside.toFixed(3)}`);
      const again = await explain('rise', { model, input: positive, target }, { masks: 400, cells: 4, score: 'logit', seed: 5 });
      assert.deepStrictEqual(again.raw.data, e.raw.data, 'the same seed gives the same map');
    } finally {
      await model.dispose();
    }
  });
});

describe('explain: progress and cancellation', () => {
  const model = linearModel(randomTensor([2, C * PLANE], 13), [C, H, W]);
  after(() => model.dispose());

  for (const [method, options] of [
    ['occlusion', { window: 2, strides: 2, batch: 4 }],
    ['rise', { masks: 40, batch: 8 }],
    ['lime', { samples: 40, segments: 6, batch: 8 }],
    ['kernel-shap', { samples: 40, segments: 6, batch: 8 }],
  ] as const) {
    it(`${method}: progress rises to exactly 1; an aborted signal stops the run with CancelledError`, async () => {
      const fractions: number[] = [];
      await explain(method, { model, input, target, progress: (f) => fractions.push(f) }, options);
      assert.ok(fractions.length > 2);
      fractions.slice(1).forEach((f, i) => assert.ok(f >= fractions[i], 'non-decreasing'));
      assert.strictEqual(fractions[fractions.length - 1], 1);

      const controller = new AbortController();
      let batchesAfterAbort = 0;
      const ctx: ExplainContext = {
        model,
        input,
        target,
        signal: controller.signal,
        progress: () => (controller.signal.aborted ? batchesAfterAbort++ : controller.abort()),
      };
      await assert.rejects(explain(method, ctx, options), (err: Error) => err instanceof CancelledError);
      assert.strictEqual(batchesAfterAbort, 0, 'no batch ran after the abort');
    });
  }
});
