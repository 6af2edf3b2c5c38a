// CAM weightings on PyTorch's activations and gradients (no gradient engine involved): the raw
// CAMs and final maps must match pytorch-grad-cam's.
import * as assert from 'assert';
import { Tensor } from '../../../src/core/tensor';
import { gradCamRaw } from '../../../src/core/explain/gradcam';
import { gradCamPlusPlusRaw } from '../../../src/core/explain/gradcam-plusplus';
import { xGradCamRaw } from '../../../src/core/explain/xgradcam';
import { hiResCamRaw } from '../../../src/core/explain/hirescam';
import { layerCamRaw } from '../../../src/core/explain/layercam';
import { eigenCamRaw } from '../../../src/core/explain/eigencam';
import { camToMap } from '../../../src/core/explain/postprocess';
import { assertAbsClose, assertClose, describeReference, loadTensor } from '../../support/reference';

const WEIGHTINGS: [string, (a: Tensor, g: Tensor) => Tensor][] = [
  ['GradCAM', gradCamRaw],
  ['GradCAMPlusPlus', gradCamPlusPlusRaw],
  ['XGradCAM', xGradCamRaw],
  ['HiResCAM', hiResCamRaw],
  ['LayerCAM', layerCamRaw],
  ['EigenCAM', (a) => eigenCamRaw(a)],
];

function negate(t: Tensor): Tensor {
  return { ...t, data: (t.data as Float32Array).map((v) => -v) };
}

/** EigenCAM's sign is arbitrary: compare with whichever sign is closer. */
function alignSign(name: string, raw: Tensor, ref: Tensor): Tensor {
  if (name !== 'EigenCAM') return raw;
  const r = ref.data as Float32Array;
  const d = (x: Float32Array) => x.reduce((s, v, i) => s + Math.abs(v - r[i]), 0);
  return d(raw.data as Float32Array) <= d(negate(raw).data as Float32Array) ? raw : negate(raw);
}

describeReference('CAM weightings on reference activations and gradients', (manifest) => {
  for (const c of manifest.cases) {
    describe(`${c.model}/${c.image}`, () => {
      const activations = () => loadTensor(c, 'target_activation');
      const grads = () => loadTensor(c, 'grad_target_activation');
      for (const [name, weighting] of WEIGHTINGS) {
        it(`${name}: raw CAM within 1e-3 × max|ref|, final map within 0.02`, () => {
          const ref = loadTensor(c, `camraw_${name}`);
          const raw = alignSign(name, weighting(activations(), grads()), ref);
          assert.deepStrictEqual(raw.dims, ref.dims);
          assertClose(raw.data as Float32Array, ref.data, 1e-3, `camraw_${name}`);
          const { map } = camToMap(raw, [224, 224]);
          assertAbsClose(map.data as Float32Array, loadTensor(c, `cam_${name}`).data, 0.02, `cam_${name}`);
        });
      }
      it('Captum LayerGradCam equals the raw Grad-CAM', () => {
        const raw = gradCamRaw(activations(), grads());
        assertClose(raw.data as Float32Array, loadTensor(c, 'captum_LayerGradCam').data, 1e-3, 'captum_LayerGradCam');
      });
    });
  }
});
