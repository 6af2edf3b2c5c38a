// The worker's taskOutputs job (src/compute/jobs/tasks.ts) on the segmentation and detection
// samples: the predicted mask with per-class pixel counts, the boxes after NMS with the user's
// thresholds, and the box and region targets the panel then sends explaining what was listed.
import * as assert from 'assert';
import * as path from 'path';
import { ComputeClient } from '../../src/compute/client';
import { ExplanationView, TargetSpec, parseWebviewMessage } from '../../src/protocol';

const ROOT = path.resolve(__dirname, '../../..');
const WORKER = path.join(ROOT, 'out/src/compute/worker.js');
const SEG = path.join(ROOT, 'sample/shapes-seg.onnx');
const DET = path.join(ROOT, 'sample/shapes-det.onnx');
const NMS = path.join(ROOT, 'sample/shapes-det-nms.onnx');
const CLASSIFIER = path.join(ROOT, 'sample/shapes.onnx');

describe('compute worker: structured outputs of segmentation and detection models', function () {
  this.timeout(120000);
  let client: ComputeClient;
  const images: Record<string, string> = {};
  before(async () => {
    client = new ComputeClient(WORKER);
    for (const [model, image] of [
      [SEG, 'sample/scenes-demo/seg-0.png'],
      [DET, 'sample/scenes-demo/det-1.png'],
      [NMS, 'sample/scenes-demo/det-1.png'],
      [CLASSIFIER, 'sample/images/star.png'],
    ]) {
      await client.call('openModel', { modelPath: model, provider: 'cpu' });
      images[model] = (await client.call('loadImage', { modelPath: model, imagePath: path.join(ROOT, image) })).id;
    }
  });
  after(() => client.dispose());

  it('segmentation: the argmax mask at the output size, pixel counts that add up, class names from the .classes.txt', async () => {
    const view = await client.call('taskOutputs', { modelPath: SEG, imageId: images[SEG] });
    assert.ok(view.kind === 'segmentation');
    assert.strictEqual(view.classIds.length, view.width * view.height);
    assert.deepStrictEqual(
      view.classes.map((c) => c.label),
      ['background', 'circle', 'square', 'star', 'triangle'],
    );
    for (const c of view.classes) assert.strictEqual(c.pixels, view.classIds.filter((k) => k === c.index).length);
    assert.ok(Math.abs(view.classes.reduce((s, c) => s + c.share, 0) - 1) < 1e-12);
    // The scene has an object: some pixels are not background.
    assert.ok(
      view.classes.slice(1).some((c) => c.pixels > 20),
      JSON.stringify(view.classes),
    );
    // The region target of a listed class explains (a predicted mask of that class).
    const present = view.classes.slice(1).find((c) => c.pixels > 0)!;
    const target = { kind: 'region' as const, class: present.index, mask: 'predicted' as const, output: view.output };
    assert.ok(parseWebviewMessage({ type: 'request', requestId: 'r1', kind: 'explain', params: { imageId: images[SEG], method: 'gradcam', layer: 'auto', target } }));
    const explained = await client.call('explain', { modelPath: SEG, imageId: images[SEG], method: 'gradcam', layer: 'auto', target });
    assert.match(explained.targetLabel, new RegExp(`class ${present.index} summed over its predicted mask \\(weight ${present.pixels}\\)`));
  });

  it('detection: boxes after NMS, highest score first, fewer with a higher score threshold; box:I explains box I', async () => {
    const view = await client.call('taskOutputs', { modelPath: DET, imageId: images[DET] });
    assert.ok(view.kind === 'detection');
    assert.strictEqual(view.ownNms, false);
    assert.deepStrictEqual(view.space, [96, 96]);
    assert.ok(view.detections.length >= 1);
    view.detections.forEach((d, i) => {
      assert.strictEqual(d.index, i);
      assert.ok(d.score >= view.minScore && (i === 0 || d.score <= view.detections[i - 1].score));
    });
    // det-1 holds a star at [57, 21, 83, 47] (ends exclusive): the top box is on it.
    assert.strictEqual(view.detections[0].label, 'star');
    const strict = await client.call('taskOutputs', { modelPath: DET, imageId: images[DET], minScore: 0.99, iou: 0.3 });
    assert.ok(strict.kind === 'detection' && strict.minScore === 0.99 && strict.iou === 0.3);
    assert.ok(strict.detections.every((d) => d.score >= 0.99) && strict.detections.length <= view.detections.length);
    const last = view.detections.length - 1;
    const explained = await client.call('explain', {
      modelPath: DET,
      imageId: images[DET],
      method: 'gradcam',
      layer: 'auto',
      target: { kind: 'box', index: last, output: view.output, iou: view.iou, minScore: view.minScore, sigmoid: view.sigmoid },
    });
    const d = view.detections[last];
    assert.strictEqual(explained.targetLabel, `box ${last} (class ${d.class}, score ${d.score.toPrecision(3)}, [${d.box.map((v) => v.toFixed(1)).join(', ')}])`);
  });

  it('a model with its own NMS: the boxes of its raw head, with the note that explanations read that head', async () => {
    const view = await client.call('taskOutputs', { modelPath: NMS, imageId: images[NMS] });
    const raw = await client.call('taskOutputs', { modelPath: DET, imageId: images[DET] });
    assert.ok(view.kind === 'detection' && raw.kind === 'detection', JSON.stringify(view));
    assert.strictEqual(view.ownNms, true);
    assert.strictEqual(view.output, 'detections');
    assert.deepStrictEqual(view.detections, raw.detections);
    assert.ok(view.notes.some((n) => /runs its own NMS; ConvLens decodes and explains its raw head 'detections' before it/.test(n)));
    // Box 0 of the NMS model explains as box 0 of the raw head: the same map, gradient and perturbation methods alike.
    for (const method of ['gradcam', 'occlusion']) {
      const target: TargetSpec = { kind: 'box', index: 0, output: view.output, iou: view.iou, minScore: view.minScore, sigmoid: view.sigmoid };
      const own: ExplanationView = await client.call('explain', { modelPath: NMS, imageId: images[NMS], method, layer: 'auto', target });
      const plain: ExplanationView = await client.call('explain', { modelPath: DET, imageId: images[DET], method, layer: 'auto', target });
      assert.strictEqual(own.targetLabel, plain.targetLabel);
      assert.deepStrictEqual(own.map.values, plain.map.values, method);
    }
  });

  it('a classifier has no structured output: a sentence says why', async () => {
    const view = await client.call('taskOutputs', { modelPath: CLASSIFIER, imageId: images[CLASSIFIER] });
    assert.ok(view.kind === 'none');
    assert.match(view.note, /no segmentation output \[1, C, H, W\] or detection head/);
  });

  it('the request is validated: thresholds within [0, 1]', () => {
    assert.ok(parseWebviewMessage({ type: 'request', requestId: 'r', kind: 'taskOutputs', params: { imageId: 'i1', iou: 0.5, minScore: 0.2 } }));
    assert.strictEqual(parseWebviewMessage({ type: 'request', requestId: 'r', kind: 'taskOutputs', params: { imageId: 'i1', iou: 1.5 } }), undefined);
    assert.strictEqual(parseWebviewMessage({ type: 'request', requestId: 'r', kind: 'taskOutputs', params: { imageId: 'i1', minScore: '0.2' } }), undefined);
  });
});
