// The worker's taskOutputs job (src/compute/jobs/tasks.ts) on the segmentation and detection
// samples: the predicted mask with per-class pixel counts, the boxes after NMS with the user's
// thresholds, and the box and region targets the panel then sends explaining what was listed.
import * as assert from 'assert';
import * as path from 'path';
import { ComputeClient } from '../../src/compute/client';
import { JobRunner } from '../../src/compute/job-runner';
import { modelForTarget, targetModelCount } from '../../src/compute/jobs/tasks';
import { JobContext } from '../../src/compute/jobs';
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

  it('predictions of a segmentation model: the classes of its mask by pixel share, not a flattened mask’s "top classes"', async () => {
    const view = await client.call('taskOutputs', { modelPath: SEG, imageId: images[SEG] });
    assert.ok(view.kind === 'segmentation');
    const top = await client.call('predict', { modelPath: SEG, imageId: images[SEG], topK: 5 });
    const present = view.classes.filter((c) => c.pixels > 0).sort((a, b) => b.pixels - a.pixels);
    assert.deepStrictEqual(
      top.map((p) => [p.index, p.label, p.probability]),
      present.map((c) => [c.index, c.label, c.share]),
    );
    // seg-0 is mostly background with one star: background first, then the star.
    assert.deepStrictEqual(
      top.map((p) => p.label),
      ['background', 'star'],
    );
  });

  it('predictions of a detector: the classes detected, by their best box’s score (with or without the model’s own NMS)', async () => {
    for (const model of [DET, NMS]) {
      const view = await client.call('taskOutputs', { modelPath: model, imageId: images[model] });
      assert.ok(view.kind === 'detection');
      const top = await client.call('predict', { modelPath: model, imageId: images[model], topK: 5 });
      const firstOfClass = view.detections.filter((d, i) => view.detections.findIndex((x) => x.class === d.class) === i);
      assert.deepStrictEqual(
        top.map((p) => [p.index, p.label, p.probability]),
        firstOfClass.map((d) => [d.class, d.label, d.score]),
      );
      assert.deepStrictEqual(
        top.map((p) => p.label),
        ['star', 'triangle', 'circle'],
      );
    }
    // A classifier's predictions are its top classes, as before.
    const classifier = await client.call('predict', { modelPath: CLASSIFIER, imageId: images[CLASSIFIER], topK: 2 });
    assert.strictEqual(classifier[0].label, 'star');
    assert.ok(classifier[0].probability > classifier[1].probability);
  });

  it('"top" and "a class" on a segmentation model explain a predicted region: the largest class other than background, or the class', async () => {
    const view = await client.call('taskOutputs', { modelPath: SEG, imageId: images[SEG] });
    assert.ok(view.kind === 'segmentation');
    const star = view.classes.find((c) => c.label === 'star')!;
    const top = await client.call('explain', { modelPath: SEG, imageId: images[SEG], method: 'gradcam', layer: 'auto', target: { kind: 'top' } });
    assert.deepStrictEqual(top.target, { kind: 'region', class: star.index, mask: 'predicted', output: view.output });
    assert.strictEqual(top.targetLabel, `class ${star.index} summed over its predicted mask (weight ${star.pixels})`);
    // The same map as the region chosen on the task card.
    const region = await client.call('explain', {
      modelPath: SEG,
      imageId: images[SEG],
      method: 'gradcam',
      layer: 'auto',
      target: { kind: 'region', class: star.index, mask: 'predicted', output: view.output },
    });
    assert.deepStrictEqual(top.map.values, region.map.values);
    const background = await client.call('explain', { modelPath: SEG, imageId: images[SEG], method: 'gradcam', layer: 'auto', target: { kind: 'class', index: 0 } });
    assert.deepStrictEqual(background.target, { kind: 'region', class: 0, mask: 'predicted', output: view.output });
    // A class the image does not show, or none at all, is refused with why.
    const absent = view.classes.find((c) => c.pixels === 0)!;
    await assert.rejects(
      client.call('explain', { modelPath: SEG, imageId: images[SEG], method: 'gradcam', layer: 'auto', target: { kind: 'class', index: absent.index } }),
      new RegExp(`no pixel is predicted as ${absent.label} \\(class ${absent.index}\\)`),
    );
    await assert.rejects(
      client.call('explain', { modelPath: SEG, imageId: images[SEG], method: 'gradcam', layer: 'auto', target: { kind: 'class', index: 1512 } }),
      /class 1512 is out of range: output 'logits' has 5 classes/,
    );
  });

  it('"top" and "a class" on a detector explain a box: the best box, or the class’s best box (also through the model’s own NMS)', async () => {
    for (const model of [DET, NMS]) {
      const view = await client.call('taskOutputs', { modelPath: model, imageId: images[model] });
      assert.ok(view.kind === 'detection');
      const top = await client.call('explain', { modelPath: model, imageId: images[model], method: 'gradcam', layer: 'auto', target: { kind: 'top' } });
      const box = (i: number): TargetSpec => ({ kind: 'box', index: i, output: view.output, iou: view.iou, minScore: view.minScore, sigmoid: view.sigmoid });
      assert.deepStrictEqual(top.target, box(0));
      const chosen = await client.call('explain', { modelPath: model, imageId: images[model], method: 'gradcam', layer: 'auto', target: box(0) });
      assert.deepStrictEqual(top.map.values, chosen.map.values);
      const circle = view.detections.find((d) => d.label === 'circle')!;
      const byClass = await client.call('explain', { modelPath: model, imageId: images[model], method: 'gradcam', layer: 'auto', target: { kind: 'class', index: circle.class } });
      assert.deepStrictEqual(byClass.target, box(circle.index));
    }
    await assert.rejects(
      client.call('explain', { modelPath: DET, imageId: images[DET], method: 'gradcam', layer: 'auto', target: { kind: 'class', index: 1 } }),
      /no box of class 1 scores 0.25 or more in this image/,
    );
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

describe('compute jobs: the raw-head copy of a model with its own NMS is released with the model', function () {
  this.timeout(120000);
  const job: JobContext = { signal: new AbortController().signal, progress: () => undefined };

  it('closing, and reopening, the model disposes the copy its box targets ran on', async () => {
    const runner = new JobRunner();
    for (const close of ['closeModel', 'reopen'] as const) {
      await runner.run('openModel', { modelPath: NMS, provider: 'cpu' }, job);
      const imageId = (await runner.run('loadImage', { modelPath: NMS, imagePath: path.join(ROOT, 'sample/scenes-demo/det-1.png') }, job)).id;
      const view = await runner.run('taskOutputs', { modelPath: NMS, imageId }, job);
      assert.ok(view.kind === 'detection' && view.ownNms);
      const target: TargetSpec = { kind: 'box', index: 0, output: view.output, iou: view.iou, minScore: view.minScore, sigmoid: view.sigmoid };
      await runner.run('explain', { modelPath: NMS, imageId, method: 'gradcam', layer: 'auto', target }, job);
      const model = runner.contextFor(NMS).model;
      assert.strictEqual(targetModelCount(model), 1);
      // The copy the explanation ran on (kept: the same object again), watched for its release.
      const head = modelForTarget(model, target);
      assert.notStrictEqual(head, model);
      let released = 0;
      const dispose = head.dispose.bind(head);
      head.dispose = () => {
        released++;
        return dispose();
      };
      if (close === 'closeModel') await runner.run('closeModel', { modelPath: NMS }, job);
      else await runner.run('openModel', { modelPath: NMS, provider: 'cpu' }, job);
      assert.strictEqual(released, 1, close);
      assert.strictEqual(targetModelCount(model), 0, close);
    }
    await runner.run('closeModel', { modelPath: NMS }, job);
  });
});
