// `convlens predict` on segmentation and detection models says what they predict (the classes of
// the mask by pixel share, the boxes after NMS by score) instead of "top classes" of a flattened
// mask or head; a classifier's predictions are unchanged.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';

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
