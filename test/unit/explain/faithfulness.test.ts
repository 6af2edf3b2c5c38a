// Deletion/insertion curves and the pointing game on a linear model whose important pixels are
// known.
import * as assert from 'assert';
import { deletionInsertion, pointingGame, trapezoidArea } from '../../../src/core/explain/faithfulness';
import { CancelledError } from '../../../src/core/runtime/jobs';
import { float32 } from '../../../src/core/tensor';
import { linearModel, randomTensor } from './tiny-models';

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
  const leftFirst = float32([S, S], Float32Array.from({ length: PLANE }, (_, p) => (p % S < S / 2 ? 1 : 0)));
  const rightFirst = float32([S, S], leftFirst.data.map((v) => 1 - v) as Float32Array);
  after(() => model.dispose());

  it('deletion starts at the full score and ends at the baseline; insertion the reverse', async () => {
    const f = await deletionInsertion({ model, input, target }, leftFirst, { steps: 10, baseline: 'zero', score: 'logit' });
    const full = C * PLANE / 2;
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
    const positive = float32([1, C, S, S], (randomTensor([1, C, S, S], 62).data as Float32Array).map((v) => 1.5 + v));
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
});
