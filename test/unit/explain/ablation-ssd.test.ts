// Ablation-CAM of a box of an SSD-style detector, whose boxes and scores are separate outputs that
// both come after the explained layer: each ablated run re-matches the box (IoU > 0.5, same class,
// as pytorch-grad-cam's FasterRCNNBoxScoreTarget) against that run's own boxes, not the unablated
// run's. The reference runs the head after the layer as its own model, one ablated channel at a time.
import * as assert from 'assert';
import { matchedBoxScore } from '../../../src/core/detection';
import { explain } from '../../../src/core/explain';
import { ablationValue } from '../../../src/core/explain/ablationcam';
import { resolveTarget } from '../../../src/core/explain/target';
import { ResolvedTarget, Target } from '../../../src/core/explain/types';
import { ConvModel } from '../../../src/core/model';
import { Tensor, float32 } from '../../../src/core/tensor';
import { buildModel, ints, node, randomTensor } from './tiny-models';

const shape = (c: bigint): Tensor => ({ dtype: 'int64', dims: [3], data: BigInt64Array.from([0n, c, 36n]) });

/** The head after 'features' [N, 4, 6, 6]: boxes [N, 36, 4] (x1, y1, x2, y2) and score logits [N, 36, 2]. */
function headNodes(input: string) {
  return [
    node('Conv', [input, 'wb', 'bb'], ['box_map'], [ints('kernel_shape', [1, 1])]),
    node('Reshape', ['box_map', 'shape4'], ['box_flat']),
    node('Transpose', ['box_flat'], ['boxes'], [ints('perm', [0, 2, 1])]),
    node('Conv', [input, 'ws', 'bs'], ['score_map'], [ints('kernel_shape', [1, 1])]),
    node('Reshape', ['score_map', 'shape2'], ['score_flat']),
    node('Transpose', ['score_flat'], ['scores'], [ints('perm', [0, 2, 1])]),
  ];
}

function square(offsets: Tensor): Tensor {
  const data = offsets.data as Float32Array;
  return float32([4, 4, 1, 1], [...data, ...data]);
}

function withoutChannel(w: Tensor, channel: number): Tensor {
  const data = Float32Array.from(w.data as Float32Array);
  for (let o = 0; o < w.dims[0]; o++) data[o * w.dims[1] + channel] = 0;
  return float32(w.dims, data);
}

const HEAD = {
  // Boxes of about 8 pixels whose corners move by several pixels with each feature channel.
  // Every box an 8×8 square at (dx, dy) = 10 × feature channel 2 (x1, y1 rows repeated for x2, y2),
  // and no score reads channel 2: ablating it moves the boxes and keeps every score.
  wb: square(float32([2, 4, 1, 1], [0, 0, 10, 0, 0, 0, 10, 0])),
  bb: float32([4], [0, 0, 8, 8]),
  ws: withoutChannel(randomTensor([2, 4, 1, 1], 16, 2), 2),
  bs: randomTensor([2], 17, 0.5),
  shape4: shape(4n),
  shape2: shape(2n),
};

/** An SSD-style detector: Conv 3×3, ReLU ('features', the layer explained), then the head. */
function ssdModel(): ConvModel {
  return buildModel({
    nodes: [
      node('Conv', ['input', 'w1', 'b1'], ['conv1'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]),
      node('Relu', ['conv1'], ['features']),
      ...headNodes('features'),
    ],
    initializers: { w1: randomTensor([4, 3, 3, 3], 13, 0.8), b1: randomTensor([4], 14, 0.1), ...HEAD },
    input: ['N', 3, 6, 6],
    outputs: { boxes: ['N', 36, 4], scores: ['N', 36, 2] },
  });
}

/** The head alone, fed with the features (the reference's run after the layer). */
function headModel(): ConvModel {
  return buildModel({ nodes: headNodes('input'), initializers: HEAD, input: ['N', 4, 6, 6], outputs: { boxes: ['N', 36, 4], scores: ['N', 36, 2] } });
}

describe('Ablation-CAM of a box with separate boxes and scores outputs (SSD style)', function () {
  this.timeout(120000);

  it("re-matches the box in each ablated run against that run's boxes: the map equals the reference's to 1e-5", async () => {
    const model = ssdModel();
    const head = headModel();
    try {
      const input = randomTensor([1, 3, 6, 6], 40);
      const features = (await model.run({ input }, ['features'])).features;
      const a = features.data as Float32Array;
      // The best box whose position has channel 2 active (> 0.3): ablating it moves that box by 3 pixels or more.
      let target: Target | undefined;
      let resolved: Extract<ResolvedTarget, { kind: 'box' }> | undefined;
      for (let index = 0; !target; index++) {
        const t: Target = { kind: 'box', index, output: 'scores', detection: { boxes: 'boxes', sigmoid: true, minScore: 0, iou: 0.45 } };
        const r = (await resolveTarget(model, input, t)).target;
        assert.ok(r.kind === 'box');
        if (a[2 * 36 + r.detected.anchor] > 0.3) [target, resolved] = [t, r];
      }
      assert.ok(resolved);
      const value = ablationValue(a);
      assert.strictEqual(value, 0, 'ReLU features: channels are ablated to 0');
      const options = { minScore: 0, iou: 0.45 };
      const y = resolved.detected.score;
      // The reference: each channel ablated, the head run, the box re-matched against that run's boxes
      // (own) or, as before the fix, against the unablated boxes (fixed).
      const plane = 36;
      const unablated = await head.run({ input: features });
      const own: number[] = [];
      const fixed: number[] = [];
      for (let k = 0; k < 4; k++) {
        const ablated = Float32Array.from(a);
        ablated.fill(value, k * plane, (k + 1) * plane);
        const out = await head.run({ input: float32([1, 4, 6, 6], ablated) });
        own.push(matchedBoxScore(out.scores.data as Float32Array, resolved.head, resolved.detected, options, out.boxes.data as Float32Array));
        fixed.push(matchedBoxScore(out.scores.data as Float32Array, resolved.head, resolved.detected, options, unablated.boxes.data as Float32Array));
      }
      // The case tells the two apart: some ablation moves the box away from the explained one.
      assert.ok(
        own.some((s, k) => Math.abs(s - fixed[k]) > 1e-3),
        `own ${own}, fixed ${fixed}`,
      );
      const cam = new Float64Array(plane);
      for (let k = 0; k < 4; k++) for (let p = 0; p < plane; p++) cam[p] += ((y - own[k]) / y) * a[k * plane + p];
      const relu = cam.map((v) => Math.max(0, v));
      const [lo, hi] = [Math.min(...relu), Math.max(...relu)];
      assert.ok(hi > lo, 'the reference map is not flat');
      const expected = relu.map((v) => (v - lo) / (hi - lo));
      const e = await explain('ablationcam', { model, input, target, layer: 'features' }, { batch: 3 });
      assert.deepStrictEqual(e.map.dims.slice(-2), [6, 6]);
      const got = e.map.data as Float32Array;
      // float32 sums of four products against float64 ones: 1e-5 of the [0, 1] range.
      for (let p = 0; p < plane; p++) assert.ok(Math.abs(got[p] - expected[p]) <= 1e-5, `position ${p}: ${got[p]} against ${expected[p]}`);
      assert.ok(
        e.notes.some((n) => /box re-matched against each ablated run's own 'boxes' boxes/.test(n)),
        e.notes.join('\n'),
      );
    } finally {
      await model.dispose();
      await head.dispose();
    }
  });
});
