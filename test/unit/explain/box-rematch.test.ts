// A box target under perturbation: perturbation methods re-match the explained box in each
// perturbed run by IoU and class (pytorch-grad-cam's FasterRCNNBoxScoreTarget), on the sample
// detector and a scene of its test folder with known boxes; gradient methods keep the fixed
// candidate's score.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ModelContext } from '../../../src/core/context';
import { DEFAULT_IOU, DEFAULT_MIN_SCORE, Detection, decodeDetections, detectionHead, intersectionOverUnion, matchedBoxScore, nonMaxSuppression } from '../../../src/core/detection';
import { explain } from '../../../src/core/explain';
import { perturbedScores, resolveTarget, targetScores } from '../../../src/core/explain/target';
import { ResolvedTarget } from '../../../src/core/explain/types';
import { Tensor } from '../../../src/core/tensor';

const SAMPLE = path.join(__dirname, '..', '..', '..', '..', 'sample');
const SCENES = path.join(SAMPLE, 'scenes-det', 'test');

interface SceneObject {
  class: string;
  bbox: [number, number, number, number];
}

/** The input with the pixels of `bbox` (x0, y0, x1, y1, ends exclusive, grown by `margin`) set to 0, the normalised grey. */
function occluded(input: Tensor, bbox: number[], margin = 2): Tensor {
  const [, channels, height, width] = input.dims;
  const data = Float32Array.from(input.data as Float32Array);
  for (let c = 0; c < channels; c++) {
    for (let y = Math.max(0, bbox[1] - margin); y < Math.min(height, bbox[3] + margin); y++) {
      for (let x = Math.max(0, bbox[0] - margin); x < Math.min(width, bbox[2] + margin); x++) data[(c * height + y) * width + x] = 0;
    }
  }
  return { dtype: 'float32', dims: input.dims, data };
}

describe('box target re-matched under perturbation (sample detector)', function () {
  this.timeout(120000);
  let ctx: ModelContext;
  let input: Tensor;
  let objects: SceneObject[];
  let classes: string[];

  before(() => {
    ctx = ModelContext.open(path.join(SAMPLE, 'shapes-det.onnx'));
    const doc = JSON.parse(fs.readFileSync(path.join(SCENES, 'boxes.json'), 'utf8'));
    classes = doc.classes;
    // Scene 1: a star, a triangle and a circle, apart.
    objects = doc.images['images/1.png'].objects;
    input = ctx.loadInput(path.join(SCENES, 'images', '1.png')).tensor;
  });
  after(async () => ctx.dispose());

  const run = async (x: Tensor) => ctx.model.run({ [ctx.model.input.name]: x });
  const box = async (index: number): Promise<Extract<ResolvedTarget, { kind: 'box' }>> => {
    const { target } = await resolveTarget(ctx.model, input, { kind: 'box', index });
    assert.ok(target.kind === 'box');
    return target;
  };
  /** The known object a detection lies on (IoU ≥ 0.5, same class). */
  const objectOf = (d: Detection) => objects.find((o) => classes[d.class] === o.class && intersectionOverUnion(d.box, o.bbox) >= 0.5);
  /** The boxes a run of the model detects, as the box target decodes them. */
  const keptIn = (outputs: Record<string, Tensor>) => {
    const head = detectionHead(outputs.detections.dims, undefined, false);
    if (typeof head === 'string') assert.fail(head);
    return nonMaxSuppression(decodeDetections(outputs.detections.data as Float32Array, head, DEFAULT_MIN_SCORE), DEFAULT_IOU);
  };

  it('scores the unperturbed input exactly as the box score (the matched box is the box itself)', async () => {
    const outputs = await run(input);
    const kept = keptIn(outputs);
    assert.ok(kept.length >= 3, `${kept.length} boxes`);
    for (let i = 0; i < kept.length; i++) {
      const target = await box(i);
      const [matched] = perturbedScores(outputs, target);
      assert.strictEqual(matched, targetScores(outputs.detections, target)[0]);
      assert.ok(Math.abs(matched - target.detected.score) < 1e-7);
    }
  });

  it('drops to 0 under an occlusion that removes the object, while the fixed candidate keeps a score', async () => {
    const target = await box(0);
    const object = objectOf(target.detected);
    assert.ok(object, `box 0 ${JSON.stringify(target.detected)} lies on no known object`);
    const outputs = await run(occluded(input, object.bbox));
    const [matched] = perturbedScores(outputs, target);
    assert.strictEqual(matched, 0);
    assert.ok(!keptIn(outputs).some((d) => d.class === target.detected.class && intersectionOverUnion(d.box, object.bbox) > 0.5), 'the object is still detected');
    // The fixed candidate's score (what gradient methods differentiate) is not 0: reading it would not see the object gone.
    assert.ok(targetScores(outputs.detections, target)[0] > 0);
  });

  it('matches the right box when an occlusion elsewhere shifts the order of the boxes', async () => {
    const first = await box(0);
    const last = await box(2);
    const gone = objectOf(first.detected);
    assert.ok(gone && objectOf(last.detected) && objectOf(last.detected) !== gone);
    const outputs = await run(occluded(input, gone.bbox));
    const kept = keptIn(outputs);
    // Where the explained box's object now stands in the perturbed run's list.
    const now = kept.findIndex((d) => d.class === last.detected.class && intersectionOverUnion(d.box, last.detected.box) > 0.5);
    assert.ok(now >= 0 && now !== 2, `the box moved from index 2 to ${now}`);
    const [matched] = perturbedScores(outputs, last);
    assert.strictEqual(matched, kept[now].score);
    assert.ok(kept.length <= 2 || kept[2].score !== matched, 'a fixed index 2 would read another box');
    // An occlusion far from it changes its score little (the object is still there).
    assert.ok(Math.abs(matched - last.detected.score) < 0.25 * last.detected.score, `${matched} vs ${last.detected.score}`);
  });

  it("follows FasterRCNNBoxScoreTarget's rule: the highest-IoU box, then its class, IoU strictly above the threshold", () => {
    // Candidates (cx, cy, w, h, obj, cls0, cls1): the reference [5, 5, 15, 15] class 1; candidate 0 of class 0 overlaps it most.
    const head = { layout: 'yolo' as const, boxes: 2, classes: 2, sigmoid: false };
    const reference: Detection = { anchor: 1, class: 1, score: 0.5, box: [5, 5, 15, 15] };
    const row = Float32Array.from([10, 10, 10, 10, 0.9, 0.9, 0.1, 11, 10, 10, 10, 0.8, 0.1, 0.9]);
    const options = { minScore: 0.25, iou: 0.45 };
    assert.strictEqual(matchedBoxScore(row, head, reference, options), 0, 'the best-overlapping box has another class');
    assert.ok(Math.abs(matchedBoxScore(row, head, { ...reference, class: 0 }, options) - 0.81) < 1e-6);
    // IoU of [5, 5, 15, 15] with [6, 5, 16, 15] is 90 / 110 ≈ 0.818: matched at 0.8, not at 0.9.
    const shifted = Float32Array.from([11, 10, 10, 10, 0.8, 0.1, 0.9, 50, 50, 4, 4, 0.9, 0.9, 0.1]);
    assert.ok(Math.abs(matchedBoxScore(shifted, head, reference, { ...options, matchIou: 0.8 }) - 0.72) < 1e-6);
    assert.strictEqual(matchedBoxScore(shifted, head, reference, { ...options, matchIou: 0.9 }), 0);
  });

  it('occlusion of a box target (re-matched in every occluded run) peaks on its object', async () => {
    const target = await box(1);
    const object = objectOf(target.detected)!;
    const map = await explain('occlusion', { model: ctx.model, input, target: { kind: 'box', index: 1 } }, { window: [8], strides: [4] });
    const [height, width] = map.map.dims.slice(-2);
    const data = map.map.data as Float32Array;
    let peak = 0;
    for (let p = 1; p < data.length; p++) if (data[p] > data[peak]) peak = p;
    const [x, y] = [peak % width, Math.floor(peak / width)];
    assert.ok(height === 96 && x >= object.bbox[0] - 4 && x < object.bbox[2] + 4 && y >= object.bbox[1] - 4 && y < object.bbox[3] + 4, `peak (${x}, ${y}), box ${object.bbox}`);
  });
});
