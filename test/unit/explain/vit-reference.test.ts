// The vision-transformer cases of ../shared/reference/manifest-tasks.json (task 'vit'): CAMs at a
// token layer [1, 1 + h·w, D] with no reshape written by the user (the layout is read from the
// graph and the input, ./layout.ts), against pytorch-grad-cam with its vit_cls_token
// reshape_transform; the layer and input gradients against PyTorch; Captum's Saliency and
// Integrated Gradients. Tolerances are the reference README's: 1e-3 × max|ref| for gradients, raw
// CAMs and Captum maps, 0.02 for final maps, EigenCAM up to sign; grad_input also by the float32
// floor rule (distance from grad_input_f64 at most twice PyTorch float32's own, by max and by L2).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { computeGradients, seedForClass } from '../../../src/core/autodiff/gradients';
import { explain } from '../../../src/core/explain';
import { gradCamRaw } from '../../../src/core/explain/gradcam';
import { resolveLayer } from '../../../src/core/explain/layer';
import { toCanonical } from '../../../src/core/explain/layout';
import { ConvModel } from '../../../src/core/model';
import { Tensor } from '../../../src/core/tensor';
import { REFERENCE_DIR, ReferenceCase, assertAbsClose, assertClose, loadTensor, modelPath, referenceContext } from '../../support/reference';

interface TaskCase extends ReferenceCase {
  task: string;
  reshape?: string;
  grad_input_f32_noise: { max_rel: number; l2_rel: number };
}

const TASKS_MANIFEST = path.join(REFERENCE_DIR, 'manifest-tasks.json');
const RTOL = 1e-3;

/** Every camraw_<Method> of a case but EigenCAM (compared up to sign), with our method's name: GradCAMPlusPlus → gradcam++. */
function gradientCams(c: ReferenceCase): [string, string][] {
  return Object.keys(c.tensors)
    .filter((t) => t.startsWith('camraw_') && t !== 'camraw_EigenCAM')
    .map((t) => t.slice('camraw_'.length))
    .map((ref) => [ref.toLowerCase().replace('plusplus', '++'), ref]);
}

function vitCases(): TaskCase[] {
  if (!fs.existsSync(TASKS_MANIFEST)) return [];
  return (JSON.parse(fs.readFileSync(TASKS_MANIFEST, 'utf8')).cases as TaskCase[]).filter((c) => c.task === 'vit');
}

function distances(ours: ArrayLike<number>, exact: ArrayLike<number>): { maxRel: number; l2Rel: number } {
  let maxDiff = 0;
  let maxRef = 0;
  let diff2 = 0;
  let ref2 = 0;
  for (let i = 0; i < exact.length; i++) {
    const d = ours[i] - exact[i];
    maxDiff = Math.max(maxDiff, Math.abs(d));
    maxRef = Math.max(maxRef, Math.abs(exact[i]));
    diff2 += d * d;
    ref2 += exact[i] * exact[i];
  }
  return { maxRel: maxDiff / maxRef, l2Rel: Math.sqrt(diff2 / ref2) };
}

describe('vision transformer reference cases (manifest-tasks.json)', function () {
  const cases = vitCases();
  if (cases.length === 0) {
    it(`SKIPPED: no vision-transformer cases at ${TASKS_MANIFEST} (set CONVLENS_REFERENCE)`, function () {
      console.warn(`  ! vision transformer reference: ${TASKS_MANIFEST} absent or without 'vit' cases; these checks did not run`);
      this.skip();
    });
    return;
  }
  const models = new Map<string, ConvModel>();
  const modelFor = (c: ReferenceCase) => {
    if (!models.has(c.onnx)) models.set(c.onnx, ConvModel.load(modelPath(c), { provider: 'cpu' }));
    return models.get(c.onnx)!;
  };
  after(async () => {
    for (const m of models.values()) await m.dispose();
  });

  for (const c of cases) {
    describe(`${c.model}/${c.image} (reshape ${c.reshape})`, () => {
      const ctx = () => referenceContext(modelFor(c), c);

      it('reads the token layer as a class token and a patch grid, and says so', async () => {
        assert.strictEqual(c.reshape, 'vit_cls_token', 'this suite checks the class-token layout');
        const layer = await resolveLayer(modelFor(c), c.target_layer_tensor, 'logits', c.tensors.input);
        const [, tokens, features] = c.tensors.target_activation;
        const side = Math.sqrt(tokens - 1);
        assert.strictEqual(layer.view.kind, 'class-token');
        assert.deepStrictEqual(layer.view.dims, [1, features, side, side]);
        assert.match(layer.note, /class token is dropped/);
      });

      let gradients: Record<string, Tensor> = {};
      let outputs: Record<string, Tensor> = {};
      before(async function () {
        this.timeout(300000);
        const seed = seedForClass(c.tensors.logits, c.target_class);
        ({ gradients, outputs } = await computeGradients(modelFor(c), { input: loadTensor(c, 'input') }, { wrt: ['input', c.target_layer_tensor], seed }));
      });

      it('logits, the layer activation and grad_target_activation within 1e-3 × max|ref|', () => {
        assertClose(outputs.logits.data as Float32Array, loadTensor(c, 'logits').data, RTOL, 'logits');
        assertClose(outputs[c.target_layer_tensor].data as Float32Array, loadTensor(c, 'target_activation').data, RTOL, 'target_activation');
        assert.deepStrictEqual(gradients[c.target_layer_tensor].dims, c.tensors.grad_target_activation);
        assertClose(gradients[c.target_layer_tensor].data as Float32Array, loadTensor(c, 'grad_target_activation').data, RTOL, 'grad_target_activation');
      });

      it("grad_input within 1e-3 × max|ref| and as exact as float32 allows (at most twice PyTorch float32's distance from float64)", () => {
        const ours = gradients.input.data as Float32Array;
        assertClose(ours, loadTensor(c, 'grad_input').data, RTOL, 'grad_input');
        const { maxRel, l2Rel } = distances(ours, loadTensor(c, 'grad_input_f64').data);
        const noise = c.grad_input_f32_noise;
        assert.ok(
          maxRel <= 2 * noise.max_rel && l2Rel <= 2 * noise.l2_rel,
          `grad_input is ${maxRel.toExponential(2)} (max) and ${l2Rel.toExponential(2)} (L2) from float64; PyTorch float32 is ${noise.max_rel.toExponential(2)} and ${noise.l2_rel.toExponential(2)}`,
        );
      });

      for (const [name, ref] of gradientCams(c)) {
        it(`${name}: raw CAM within 1e-3 × max|ref| and map within 0.02 of pytorch-grad-cam`, async () => {
          const e = await explain(name, ctx());
          assert.deepStrictEqual(e.raw.dims, c.tensors[`camraw_${ref}`]);
          assertClose(e.raw.data as Float32Array, loadTensor(c, `camraw_${ref}`).data, RTOL, `camraw_${ref}`);
          assertAbsClose(e.map.data as Float32Array, loadTensor(c, `cam_${ref}`).data, 0.02, `cam_${ref}`);
        });
      }

      it('eigencam: raw CAM within 1e-3 × max|ref| up to sign, map within 0.02', async () => {
        const e = await explain('eigencam', ctx());
        const ref = loadTensor(c, 'camraw_EigenCAM').data;
        const raw = e.raw.data as Float32Array;
        const err = (x: Float32Array) => x.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i])), 0);
        const flipped = raw.map((v) => -v);
        const sameSign = err(raw) <= err(flipped);
        assertClose(sameSign ? raw : flipped, ref, RTOL, 'camraw_EigenCAM');
        // The map of the opposite sign is not comparable (ReLU keeps the other half).
        if (sameSign) assertAbsClose(e.map.data as Float32Array, loadTensor(c, 'cam_EigenCAM').data, 0.02, 'cam_EigenCAM');
      });

      it('Grad-CAM equals Grad-CAM of the reference tensors after vit_cls_token', async () => {
        const layer = await resolveLayer(modelFor(c), c.target_layer_tensor, 'logits', c.tensors.input);
        const expected = gradCamRaw(toCanonical(layer.view, loadTensor(c, 'target_activation')), toCanonical(layer.view, loadTensor(c, 'grad_target_activation')));
        const e = await explain('gradcam', ctx());
        assertClose(e.raw.data as Float32Array, expected.data as Float32Array, RTOL, 'Grad-CAM from reference tensors');
      });

      it('Captum Saliency and IntegratedGradients (32 steps, riemann_trapezoid, baseline 0) within 1e-3 × max|ref|', async function () {
        this.timeout(300000);
        const saliency = await explain('saliency', ctx());
        assertClose(saliency.raw.data as Float32Array, loadTensor(c, 'captum_Saliency').data, RTOL, 'captum_Saliency');
        const ig = await explain('integrated-gradients', ctx(), { steps: 32, method: 'riemann_trapezoid', baseline: 0, batch: 8 });
        assertClose(ig.raw.data as Float32Array, loadTensor(c, 'captum_IntegratedGradients').data, RTOL, 'captum_IntegratedGradients');
      });

      it("layer 'auto' is the last block's ln_1, the tokens its attention projects queries and keys from", async () => {
        const layer = await resolveLayer(modelFor(c), 'auto', 'logits', c.tensors.input);
        assert.strictEqual(layer.tensor, c.target_layer_tensor);
        assert.match(layer.note, /pytorch-grad-cam's choice for vision transformers/);
      });

      it("a 'top' target is the case's top-1 class", async () => {
        const e = await explain('gradcam', { ...ctx(), target: { kind: 'class', index: 'top' } });
        assert.deepStrictEqual(e.target, { kind: 'class', index: c.target_class, output: 'logits' });
      });

      it('cam refuses the transformer head with one sentence (no global average pooling)', async () => {
        await assert.rejects(explain('cam', ctx()), (err: Error) => err.name === 'ExplainError' && /global average pooling/.test(err.message) && !err.message.includes('\n'));
      });
    });
  }
});
