// `convlens predict` on segmentation and detection models says what they predict (the classes of
// the mask by pixel share, the boxes after NMS by score) instead of "top classes" of a flattened
// mask or head; a classifier's predictions are unchanged. `explain`, `faithfulness` and the loop
// over a list of images take 'top' or a class on such a model as its predicted region or its box.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { ModelContext } from '../../src/core/context';
import { explainImages } from '../../src/core/dataset';
import { readTaskOutputs, taskPredictions, taskTarget } from '../../src/core/task-outputs';

const ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(ROOT, 'out/src/cli/main.js');
const sample = (f: string) => path.join(ROOT, 'sample', f);

function cli(...args: string[]): string {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  assert.strictEqual(run.status, 0, run.stderr);
  return run.stdout;
}

interface Top {
  index: number;
  label: string;
  probability: number;
}

describe('CLI predict on segmentation and detection models', function () {
  this.timeout(120000);

  it('segmentation: the mask’s classes by pixel share, each with its region target', () => {
    const json = JSON.parse(cli('predict', sample('shapes-seg.onnx'), sample('scenes-demo/seg-0.png'), '--json')) as {
      top: Top[];
      task: { kind: string; width: number; height: number; classes: { index: number; pixels: number; share: number }[] };
    };
    assert.strictEqual(json.task.kind, 'segmentation');
    const { width, height, classes } = json.task;
    assert.strictEqual(
      classes.reduce((s, c) => s + c.pixels, 0),
      width * height,
    );
    assert.deepStrictEqual(
      json.top.map((p) => p.label),
      ['background', 'star'],
    );
    for (const p of json.top) assert.strictEqual(p.probability, classes[p.index].share);
    const text = cli('predict', sample('shapes-seg.onnx'), sample('scenes-demo/seg-0.png'));
    assert.match(text, /segmentation: 64×64 mask of 'logits'/);
    assert.match(text, /star +\d+\.\d% of pixels .*--target region:predicted,3/);
    assert.doesNotMatch(text, /class \d{3,}/);
  });

  it('detection: the boxes after NMS by score, with or without the model’s own NMS', () => {
    for (const model of ['shapes-det.onnx', 'shapes-det-nms.onnx']) {
      const json = JSON.parse(cli('predict', sample(model), sample('scenes-demo/det-1.png'), '--json')) as {
        top: Top[];
        task: { kind: string; ownNms: boolean; detections: { label: string; score: number }[] };
      };
      assert.strictEqual(json.task.kind, 'detection');
      assert.strictEqual(json.task.ownNms, model.includes('nms'));
      assert.deepStrictEqual(
        json.task.detections.map((d) => d.label),
        ['star', 'triangle', 'circle'],
      );
      json.task.detections.forEach((d, i) => assert.ok(d.score >= 0.25 && (i === 0 || d.score <= json.task.detections[i - 1].score)));
      const text = cli('predict', sample(model), sample('scenes-demo/det-1.png'));
      assert.match(text, /box 0 +star +score 0\.\d{3} +\[/);
    }
  });

  it('a classifier: its top classes, as before', () => {
    const json = JSON.parse(cli('predict', sample('shapes.onnx'), sample('images/star.png'), '--json', '--top', '2')) as { top: Top[]; task?: unknown };
    assert.strictEqual(json.task, undefined);
    assert.strictEqual(json.top[0].label, 'star');
    assert.strictEqual(json.top.length, 2);
  });
});

describe('CLI explain and faithfulness on segmentation and detection models: the default target is what they predict', function () {
  this.timeout(180000);
  const explainJson = (...args: string[]) =>
    JSON.parse(cli('explain', ...args, '--method', 'gradcam', '--json')) as { target: { kind: string; class?: number; index?: number; output?: string; predicted?: boolean } };

  it('segmentation: the predicted region of the largest class other than background (the star), or of the class asked for', () => {
    const top = explainJson(sample('shapes-seg.onnx'), sample('scenes-demo/seg-0.png'));
    assert.deepStrictEqual([top.target.kind, top.target.class, top.target.predicted, top.target.output], ['region', 3, true, 'logits']);
    const background = explainJson(sample('shapes-seg.onnx'), sample('scenes-demo/seg-0.png'), '--target', '0');
    assert.deepStrictEqual([background.target.kind, background.target.class], ['region', 0]);
    const run = spawnSync(process.execPath, [CLI, 'explain', sample('shapes-seg.onnx'), sample('scenes-demo/seg-0.png'), '--method', 'gradcam', '--target', '2'], {
      encoding: 'utf8',
    });
    assert.notStrictEqual(run.status, 0);
    assert.match(run.stderr, /no pixel is predicted as square \(class 2\) in this image/);
  });

  it('detection, also through the model’s own NMS: the best box, or the class’s best box', () => {
    for (const model of ['shapes-det.onnx', 'shapes-det-nms.onnx']) {
      const top = explainJson(sample(model), sample('scenes-demo/det-1.png'));
      assert.deepStrictEqual([top.target.kind, top.target.index, top.target.output], ['box', 0, 'detections'], model);
      // Class 0 (circle) is box 2 of det-1.
      const circle = explainJson(sample(model), sample('scenes-demo/det-1.png'), '--target', '0');
      assert.deepStrictEqual([circle.target.kind, circle.target.index], ['box', 2], model);
    }
    const rows = JSON.parse(cli('faithfulness', sample('shapes-det-nms.onnx'), sample('scenes-demo/det-1.png'), '--method', 'gradcam', '--steps', '8', '--json')) as {
      target: string;
    }[];
    assert.match(rows[0].target, /^box 0 \(class 2, score 0\.918/);
  });
});

describe('explaining a list of images (convlens explain FOLDER, Explain all) on segmentation and detection models', function () {
  this.timeout(180000);

  it('each image’s top target is its own predicted region or best box, and its prediction the class of it', async () => {
    for (const [model, files, kind] of [
      ['shapes-seg.onnx', ['seg-0.png', 'seg-1.png'], 'region'],
      ['shapes-det-nms.onnx', ['det-0.png', 'det-1.png'], 'box'],
    ] as const) {
      const ctx = ModelContext.open(sample(model), { provider: 'cpu' });
      try {
        const images = files.map((f) => ({ file: sample(`scenes-demo/${f}`), relPath: f }));
        for await (const item of explainImages(ctx, images, { method: 'gradcam', target: { kind: 'class', index: 'top' }, predict: true })) {
          assert.strictEqual(item.error, undefined, item.error);
          const { task } = await readTaskOutputs(ctx, item.input!.tensor);
          const expected = taskTarget(task, 'top');
          assert.ok(expected && typeof expected !== 'string');
          const t = item.explanation!.target;
          assert.strictEqual(t.kind, kind);
          if (t.kind === 'region' && expected.kind === 'region') assert.strictEqual(t.class, expected.class, item.image.relPath);
          if (t.kind === 'box' && expected.kind === 'box') assert.deepStrictEqual([t.index, t.output], [expected.index, 'detections'], item.image.relPath);
          assert.deepStrictEqual(item.prediction, taskPredictions(task, 1)![0], item.image.relPath);
        }
      } finally {
        await ctx.dispose();
      }
    }
  });
});
