// Gradient-free methods end to end on the reference models: Score-CAM, Ablation-CAM and Occlusion
// (chelsea cases) against pytorch-grad-cam and Captum, Eigen-CAM (every case) up to sign, CAM
// against Grad-CAM from PyTorch's gradients.
import * as assert from 'assert';
import { ablationCam } from '../../../src/core/explain/ablationcam';
import { cam } from '../../../src/core/explain/cam';
import { eigenCam } from '../../../src/core/explain/eigencam';
import { occlusion } from '../../../src/core/explain/occlusion';
import { gradCamRaw } from '../../../src/core/explain/gradcam';
import { scoreCam } from '../../../src/core/explain/scorecam';
import { ReferenceCase, assertAbsClose, assertClose, describeReference, loadTensor, referenceContext, referenceModels } from '../../support/reference';

// One forward pass per channel (Score-CAM: up to 1280) or window (Occlusion: 169) on two cores.
const SLOW = 600_000;

describeReference('gradient-free methods on the reference models', (manifest) => {
  const modelFor = referenceModels();
  const contextFor = (c: ReferenceCase) => referenceContext(modelFor(c), c);

  for (const c of manifest.cases) {
    it(`${c.model}/${c.image}: eigencam matches pytorch-grad-cam up to sign`, async () => {
      const e = await eigenCam.explain(contextFor(c), {});
      const ref = loadTensor(c, 'camraw_EigenCAM');
      const raw = e.raw.data as Float32Array;
      const flipped = raw.map((v) => -v);
      const err = (x: Float32Array) => x.reduce((m, v, i) => Math.max(m, Math.abs(v - ref.data[i])), 0);
      assertClose(err(raw) <= err(flipped) ? raw : flipped, ref.data, 1e-3, 'camraw_EigenCAM');
    });

    if (c.tensors.cam_ScoreCAM) {
      it(`${c.model}/${c.image}: scorecam's map matches pytorch-grad-cam within 0.02`, async function () {
        this.timeout(SLOW);
        const e = await scoreCam.explain(contextFor(c), { batch: 32 });
        assertAbsClose(e.map.data as Float32Array, loadTensor(c, 'cam_ScoreCAM').data, 0.02, 'cam_ScoreCAM');
      });
    }
    if (c.tensors.cam_AblationCAM) {
      it(`${c.model}/${c.image}: ablationcam's map matches pytorch-grad-cam within 0.02`, async function () {
        this.timeout(SLOW);
        const e = await ablationCam.explain(contextFor(c), { batch: 64 });
        assertAbsClose(e.map.data as Float32Array, loadTensor(c, 'cam_AblationCAM').data, 0.02, 'cam_AblationCAM');
      });
    }
    if (c.tensors.captum_Occlusion) {
      it(`${c.model}/${c.image}: occlusion (3×32×32 window, strides 3×16×16, baseline 0) equals Captum Occlusion`, async function () {
        this.timeout(SLOW);
        const options = { window: [3, 32, 32], strides: [3, 16, 16], baseline: 0, batch: 32, score: 'logit' as const, display: 'positive' as const, crop: 'auto' as const };
        const e = await occlusion.explain(contextFor(c), options);
        assertClose(e.raw.data as Float32Array, loadTensor(c, 'captum_Occlusion').data, 1e-3, 'captum_Occlusion');
      });
    }
  }

  for (const c of manifest.cases.filter((x) => x.model !== 'squeezenet1_1')) {
    it(`${c.model}/${c.image}: cam equals Grad-CAM × h·w (global average pooling + linear head)`, async () => {
      const e = await cam.explain(contextFor(c), {});
      const grad = gradCamRaw(loadTensor(c, 'target_activation'), loadTensor(c, 'grad_target_activation'));
      const [, h, w] = grad.dims;
      assertClose(
        e.raw.data as Float32Array,
        (grad.data as Float32Array).map((v) => v * h * w),
        1e-3,
        'CAM vs Grad-CAM',
      );
    });
  }

  it('cam refuses a head that is not pooling + linear, saying why (squeezenet1_1)', async () => {
    const c = manifest.cases.find((x) => x.model === 'squeezenet1_1')!;
    await assert.rejects(cam.explain(contextFor(c), {}), /global average pooling and one linear layer/);
  });

  it("layer 'auto' picks pytorch-grad-cam's target layer on every reference model", async () => {
    for (const c of manifest.cases.filter((x) => x.image === 'chelsea')) {
      const e = await eigenCam.explain({ ...contextFor(c), layer: 'auto' }, {});
      assert.strictEqual(e.layer, c.target_layer_tensor);
      assert.match(e.notes[0], /layer 'auto'/);
    }
  });

  it('takes a node name for the layer, using its output', async () => {
    const c = manifest.cases[0];
    const node = c.target_layer_tensor.replace(/_output_0$/, '');
    const e = await eigenCam.explain({ ...contextFor(c), layer: node }, {});
    assert.strictEqual(e.layer, c.target_layer_tensor);
    assert.ok(e.notes[0].includes(`(output of node '${node}')`));
  });
});
