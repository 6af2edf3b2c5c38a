// The sample detector and segmentation network against the references of sample/make_references.py
// (test/models/tasks): PyTorch rebuilt from the ONNX file's folded weights, pytorch-grad-cam's
// GradCAM with the box-score and SemanticSegmentationTarget targets, Captum's Saliency.
//  - The ONNX file computes what the rebuilt PyTorch network does (max |Δ| ≤ 1e-4 × max |ref|).
//  - ConvLens's gradient of the target (a seed on the output: the product rule for obj × cls, the
//    mask on the class plane) matches Captum's input gradient (1e-3 × max |ref|, the reference
//    README's tolerance), and central differences of the ONNX model's own score on the pixels
//    where the gradient is largest (at a dithered input: see that test).
//  - Grad-CAM at the manifest's layer (Σ_k mean(∂s/∂A_k) A_k) matches the reference cam.
//  - The pointing game of the reference Grad-CAM map on the known object.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { computeGradients } from '../../src/core/autodiff/gradients';
import { boxMask, regionScores } from '../../src/core/explain/faithfulness';
import { ConvModel } from '../../src/core/model';
import { parseNpy } from '../../src/core/npy';
import { seededRandom } from '../../src/core/random';
import { FloatTensor, Tensor, float32 } from '../../src/core/tensor';
import { assertClose } from '../support/reference';

const ROOT = path.join(__dirname, '..', '..', '..');
const TASKS = path.join(ROOT, 'test', 'models', 'tasks');

interface TaskCase {
  case: string;
  model: string;
  image: string;
  target: { kind: 'box' | 'segmentation'; output: string; box?: number; class: number; value: number; truth: { bbox: number[] } };
  layer: string;
  files: Record<string, string>;
}

const manifest: { cases: TaskCase[] } = JSON.parse(fs.readFileSync(path.join(TASKS, 'tasks.json'), 'utf8'));

function load(c: TaskCase, what: string): FloatTensor {
  const t = parseNpy(new Uint8Array(fs.readFileSync(path.join(TASKS, c.files[what])))) as FloatTensor;
  assert.strictEqual(t.dtype, 'float32');
  return t;
}

/** ∂score/∂output for one batch row: obj × cls (product rule) or the sum of the class plane over the mask. */
function seedOf(c: TaskCase, output: Tensor): FloatTensor {
  const seed = float32(output.dims);
  const out = output.data as Float32Array;
  if (c.target.kind === 'box') {
    const width = output.dims[2];
    const row = c.target.box! * width;
    seed.data[row + 4] = out[row + 5 + c.target.class];
    seed.data[row + 5 + c.target.class] = out[row + 4];
  } else {
    const mask = load(c, 'target_mask').data;
    seed.data.set(mask, c.target.class * mask.length);
  }
  return seed;
}

function scoreOf(c: TaskCase, output: Tensor): number {
  const out = output.data as Float32Array;
  if (c.target.kind === 'box') {
    const row = c.target.box! * output.dims[2];
    return out[row + 4] * out[row + 5 + c.target.class];
  }
  const mask = load(c, 'target_mask').data;
  let sum = 0;
  for (let i = 0; i < mask.length; i++) sum += mask[i] * out[c.target.class * mask.length + i];
  return sum;
}

describe('sample tasks: detector and segmentation against pytorch-grad-cam and Captum', () => {
  const models = new Map<string, ConvModel>();
  const modelOf = (c: TaskCase): ConvModel => {
    if (!models.has(c.model)) models.set(c.model, ConvModel.load(path.join(ROOT, c.model), { provider: 'cpu' }));
    return models.get(c.model)!;
  };
  after(async () => {
    for (const m of models.values()) await m.dispose();
  });

  for (const c of manifest.cases) {
    describe(`${c.case} (${c.target.kind} target, ${c.image})`, () => {
      let gradients: Record<string, Tensor>;
      let outputs: Record<string, Tensor>;
      before(async () => {
        const model = modelOf(c);
        const forward = await model.run({ input: load(c, 'input') });
        ({ gradients, outputs } = await computeGradients(
          model,
          { input: load(c, 'input') },
          {
            wrt: ['input', c.layer],
            output: c.target.output,
            seed: seedOf(c, forward[c.target.output]),
          },
        ));
      });

      it('the ONNX file computes what the rebuilt PyTorch network does', () => {
        assertClose(outputs[c.target.output].data as Float32Array, load(c, 'output').data, 1e-4, 'output');
        assert.ok(Math.abs(scoreOf(c, outputs[c.target.output]) - c.target.value) <= 1e-4 * Math.abs(c.target.value) + 1e-6);
      });

      it("the gradient of the target matches Captum's", () => {
        assertClose(gradients.input.data as Float32Array, load(c, 'grad_input').data, 1e-3, 'input gradient');
      });

      it('the gradient of the target matches central differences of the ONNX model', async () => {
        // The shapes are flat-coloured, so neighbouring activations inside them tie exactly in max
        // pooling: the score has a kink there (both frameworks route the gradient to the first of
        // the tied values; central differences see the mean of the two one-sided slopes). A seeded
        // dither of ±0.1 (±13 grey levels) moves the input off those ties. A step of h = 3e-4 can
        // still cross a ReLU or pooling switch: a pixel whose one-sided slopes differ by over 5% of
        // the largest |gradient| is left out. Of the 16 pixels with the largest |gradient| at least 6
        // must be kept, and there the central difference must agree within 4%: a switch too small
        // to be seen moves it by at most half of 5%, and float32 rounding of the score (a few ulps,
        // ~1e-4 for the segmentation score of ~600) over 2h by under 1% here. A wrong gradient
        // (sign, factor, pixel) misses by far more. (h = 1e-3 crossed switches on both sides of
        // one pixel in 1 of 56 dither seeds tried; h = 3e-4 in none.)
        const model = modelOf(c);
        const random = seededRandom(7);
        const clean = load(c, 'input');
        const x = float32(
          clean.dims,
          clean.data.map((v) => v + (random() * 2 - 1) * 0.1),
        );
        const at = (await model.run({ input: x }))[c.target.output];
        const grad = (await computeGradients(model, { input: x }, { wrt: ['input'], output: c.target.output, seed: seedOf(c, at) })).gradients.input.data as Float32Array;
        const order = Array.from(grad.keys())
          .sort((a, b) => Math.abs(grad[b]) - Math.abs(grad[a]))
          .slice(0, 16);
        const h = 3e-4;
        const shifted = float32([order.length * 2, ...x.dims.slice(1)]);
        order.forEach((p, k) => {
          for (const [row, sign] of [
            [2 * k, 1],
            [2 * k + 1, -1],
          ]) {
            shifted.data.set(x.data, row * x.data.length);
            shifted.data[row * x.data.length + p] += sign * h;
          }
        });
        const out = (await model.run({ input: shifted }))[c.target.output];
        const rowSize = out.data.length / shifted.dims[0];
        const rowOf = (r: number): Tensor => ({ ...out, dims: [1, ...out.dims.slice(1)], data: (out.data as Float32Array).subarray(r * rowSize, (r + 1) * rowSize) });
        const scale = Math.abs(grad[order[0]]);
        const centre = scoreOf(c, at);
        let smooth = 0;
        order.forEach((p, k) => {
          const [up, down] = [scoreOf(c, rowOf(2 * k)), scoreOf(c, rowOf(2 * k + 1))];
          // One-sided slopes that differ: a ReLU or pooling switch lies within ±h of this pixel.
          if (Math.abs((up - centre) / h - (centre - down) / h) > 5e-2 * scale) return;
          smooth++;
          const fd = (up - down) / (2 * h);
          assert.ok(Math.abs(fd - grad[p]) <= 4e-2 * scale, `pixel ${p}: finite difference ${fd}, gradient ${grad[p]}`);
        });
        assert.ok(smooth >= 6, `only ${smooth} of 16 pixels are away from a switch`);
      });

      it("Grad-CAM at the layer matches pytorch-grad-cam's cam", () => {
        const a = outputs[c.layer];
        const g = gradients[c.layer];
        const [, channels, h, w] = a.dims;
        const plane = h * w;
        const cam = new Float32Array(plane);
        for (let k = 0; k < channels; k++) {
          let weight = 0;
          for (let i = 0; i < plane; i++) weight += (g.data as Float32Array)[k * plane + i];
          weight /= plane;
          for (let i = 0; i < plane; i++) cam[i] += weight * (a.data as Float32Array)[k * plane + i];
        }
        assertClose(cam, load(c, 'cam').data, 1e-3, 'cam');
      });

      it('the reference Grad-CAM map points at the known object', () => {
        const map = load(c, 'gradcam');
        const [height, width] = map.dims;
        const [x0, y0, x1, y1] = c.target.truth.bbox;
        const r = regionScores(map, boxMask({ x0, y0, x1: x1 - 1, y1: y1 - 1 }, width, height));
        assert.ok(r.pointingHit, `peak at (${r.peak.x}, ${r.peak.y}), box ${c.target.truth.bbox}`);
      });
    });
  }
});
