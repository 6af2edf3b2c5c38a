// The committed segmentation and detection samples, run as ConvLens runs them (PNG, sidecar
// preprocessing, onnxruntime), against the known masks and boxes of their test folders; and the
// NMS copy of the detector against its raw head.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ModelContext } from '../../src/core/context';
import { Tensor } from '../../src/core/tensor';
import { readImageFile } from '../../src/core/image/decode';

const ROOT = path.join(__dirname, '..', '..', '..');
const SAMPLE = path.join(ROOT, 'sample');

interface SceneObject {
  class: string;
  bbox: [number, number, number, number];
  instance: number;
}

interface SceneFolder {
  classes: string[];
  images: Record<string, { mask: string; objects: SceneObject[] }>;
}

function readFolder(kind: 'seg' | 'det'): { root: string; doc: SceneFolder } {
  const root = path.join(SAMPLE, `scenes-${kind}`, 'test');
  return { root, doc: JSON.parse(fs.readFileSync(path.join(root, kind === 'seg' ? 'masks.json' : 'boxes.json'), 'utf8')) };
}

/** IoU of two [x0, y0, x1, y1] boxes. */
function boxIou(a: number[], b: number[]): number {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

/** [cx, cy, w, h, ...] row → [x0, y0, x1, y1]. */
function corners(row: ArrayLike<number>): number[] {
  return [row[0] - row[2] / 2, row[1] - row[3] / 2, row[0] + row[2] / 2, row[1] + row[3] / 2];
}

describe('sample models on their known masks, boxes and classes', () => {
  it('the segmentation sample labels the pixels of the test scenes (mean IoU over its 5 labels ≥ 0.85)', async () => {
    const ctx = ModelContext.open(path.join(SAMPLE, 'shapes-seg.onnx'));
    try {
      const { root, doc } = readFolder('seg');
      const labels = 1 + doc.classes.length;
      const inter = new Array(labels).fill(0);
      const union = new Array(labels).fill(0);
      for (const [rel, entry] of Object.entries(doc.images)) {
        const logits = (await ctx.model.run(ctx.feeds(ctx.loadInput(path.join(root, rel)).tensor)))['logits'];
        const [, , h, w] = logits.dims;
        const plane = h * w;
        const instances = readImageFile(path.join(root, entry.mask));
        const classOf = new Map(entry.objects.map((o) => [o.instance, 1 + doc.classes.indexOf(o.class)]));
        for (let p = 0; p < plane; p++) {
          let best = 0;
          for (let c = 1; c < labels; c++) if ((logits.data as Float32Array)[c * plane + p] > (logits.data as Float32Array)[best * plane + p]) best = c;
          const truth = classOf.get(instances.data[p * 3]) ?? 0;
          for (let c = 0; c < labels; c++) {
            if (best === c && truth === c) inter[c]++;
            if (best === c || truth === c) union[c]++;
          }
        }
      }
      const ious = inter.map((v, c) => v / union[c]);
      const mean = ious.reduce((a, b) => a + b, 0) / labels;
      assert.ok(mean >= 0.85, `mean IoU ${mean.toFixed(3)} (${ious.map((v) => v.toFixed(3)).join(', ')})`);
    } finally {
      await ctx.dispose();
    }
  });

  it("the detector's best box in each test scene is a known object of the right class (IoU ≥ 0.5) in ≥ 90% of scenes", async () => {
    const ctx = ModelContext.open(path.join(SAMPLE, 'shapes-det.onnx'));
    try {
      const { root, doc } = readFolder('det');
      let found = 0;
      const entries = Object.entries(doc.images);
      for (const [rel, entry] of entries) {
        const out = (await ctx.model.run(ctx.feeds(ctx.loadInput(path.join(root, rel)).tensor)))['detections'];
        const [, boxes, width] = out.dims;
        const data = out.data as Float32Array;
        let best = { score: -1, box: 0, cls: 0 };
        for (let b = 0; b < boxes; b++) {
          for (let c = 0; c < width - 5; c++) {
            const score = data[b * width + 4] * data[b * width + 5 + c];
            if (score > best.score) best = { score, box: b, cls: c };
          }
        }
        const box = corners(data.subarray(best.box * width, best.box * width + 4));
        if (entry.objects.some((o) => o.class === doc.classes[best.cls] && boxIou(box, o.bbox) >= 0.5)) found++;
      }
      assert.ok(found >= 0.9 * entries.length, `${found} of ${entries.length} scenes`);
    } finally {
      await ctx.dispose();
    }
  });

  it('the NMS copy keeps rows of the raw head: above the score threshold, no two of a class overlapping by IoU > 0.5', async () => {
    const raw = ModelContext.open(path.join(SAMPLE, 'shapes-det.onnx'));
    const nms = ModelContext.open(path.join(SAMPLE, 'shapes-det-nms.onnx'));
    try {
      const { root } = readFolder('det');
      for (const n of [0, 1, 2, 3]) {
        const input = raw.loadInput(path.join(root, 'images', `${n}.png`)).tensor;
        const head: Tensor = (await raw.model.run(raw.feeds(input)))['detections'];
        const { selected, kept } = await nms.model.run(nms.feeds(input));
        const width = head.dims[2];
        const rows = selected.dims[0];
        assert.ok(rows > 0, `scene ${n}: nothing selected`);
        const picks = Array.from({ length: rows }, (_, k) => ({
          cls: Number((selected.data as BigInt64Array)[k * 3 + 1]),
          box: Number((selected.data as BigInt64Array)[k * 3 + 2]),
        }));
        picks.forEach(({ cls, box }, k) => {
          const row = (head.data as Float32Array).subarray(box * width, (box + 1) * width);
          assert.deepStrictEqual(Array.from((kept.data as Float32Array).subarray(k * width, (k + 1) * width)), Array.from(row));
          assert.ok(row[4] * row[5 + cls] > 0.25);
          for (const other of picks.slice(k + 1).filter((o) => o.cls === cls)) {
            const otherRow = (head.data as Float32Array).subarray(other.box * width, (other.box + 1) * width);
            assert.ok(boxIou(corners(row), corners(otherRow)) <= 0.5);
          }
        });
      }
    } finally {
      await raw.dispose();
      await nms.dispose();
    }
  });

  it("the ViT classifies the shapes test set, and each block's attention is a row-stochastic [1, 4, 65, 65] tensor", async () => {
    const ctx = ModelContext.open(path.join(SAMPLE, 'shapes-vit.onnx'));
    try {
      const softmaxes = (await ctx.model.layers()).filter((l) => l.opType === 'Softmax').map((l) => l.outputs[0].name);
      assert.strictEqual(softmaxes.length, 4);
      const root = path.join(SAMPLE, 'dataset', 'test');
      let correct = 0;
      let total = 0;
      for (const [label, cls] of ctx.labels!.entries()) {
        for (const name of fs.readdirSync(path.join(root, cls))) {
          const outputs = await ctx.model.run(ctx.feeds(ctx.loadInput(path.join(root, cls, name)).tensor), total === 0 ? softmaxes : []);
          const logits = outputs['logits'].data as Float32Array;
          if (logits.indexOf(Math.max(...logits)) === label) correct++;
          if (total === 0) {
            for (const tensor of softmaxes) {
              assert.deepStrictEqual(outputs[tensor].dims, [1, 4, 65, 65]);
              const a = outputs[tensor].data as Float32Array;
              for (let row = 0; row < 4 * 65; row++) assert.ok(Math.abs(a.subarray(row * 65, row * 65 + 65).reduce((x, y) => x + y, 0) - 1) < 1e-5);
            }
          }
          total++;
        }
      }
      assert.strictEqual(total, 160);
      assert.ok(correct / total >= 0.9, `${correct} of ${total}`);
    } finally {
      await ctx.dispose();
    }
  });
});
