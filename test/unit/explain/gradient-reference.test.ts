// Gradient-based methods end to end (through the gradient engine) on the reference models:
// Grad-CAM family raw CAMs and maps against pytorch-grad-cam, input attributions against Captum
// (GuidedGradCam built from Captum's GuidedBackprop and LayerGradCam).
import * as assert from 'assert';
import { explain } from '../../../src/core/explain';
import { gradCamRaw } from '../../../src/core/explain/gradcam';
import { resizeNearest } from '../../../src/core/image/resize';
import { OptionValue } from '../../../src/core/explain/types';
import { float32, maxAbs } from '../../../src/core/tensor';
import {
  GRADIENT_CAMS,
  ReferenceCase,
  assertAbsClose,
  assertClose,
  describeReference,
  loadTensor,
  medianAbsDifference,
  referenceContext,
  referenceModels,
} from '../../support/reference';

/** Captum GuidedGradCam from the reference tensors: GuidedBackprop × nearest-upsampled ReLU(LayerGradCam). */
function captumGuidedGradCam(c: ReferenceCase): Float32Array {
  const cam = loadTensor(c, 'captum_LayerGradCam');
  const [, , h, w] = cam.dims;
  const up = resizeNearest(
    (cam.data as Float32Array).map((v) => Math.max(v, 0)),
    h,
    w,
    224,
    224,
  );
  return (loadTensor(c, 'captum_GuidedBackprop').data as Float32Array).map((g, i) => g * up[i % (224 * 224)]);
}

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

describeReference('gradient-based methods on the reference models', (manifest) => {
  const modelFor = referenceModels();

  for (const c of manifest.cases) {
    describe(`${c.model}/${c.image}`, () => {
      const ctx = () => referenceContext(modelFor(c), c);

      for (const [name, ref] of GRADIENT_CAMS) {
        it(`${name}: raw CAM within 1e-3 × max|ref| and map within 0.02 of pytorch-grad-cam`, async () => {
          const e = await explain(name, ctx());
          assertClose(e.raw.data as Float32Array, loadTensor(c, `camraw_${ref}`).data, 1e-3, `camraw_${ref}`);
          assertAbsClose(e.map.data as Float32Array, loadTensor(c, `cam_${ref}`).data, 0.02, `cam_${ref}`);
        });
      }

      // Input gradients of ReLU networks are piecewise constant in the input: a unit near its kink or
      // a near-tie in max-pooling flips under float32 rounding and moves the gradient (mobilenet_v2:
      // 405 ReLU6 inputs lie within 1e-5 of zero; scaling its input by 1 + 1e-7·sin i moves the input
      // gradient by 7e-3 × max). onnxruntime and PyTorch agree to about 1e-5 relative (README), so
      // the tolerance is max(1e-3, floor) × max|ref|, floor = how far our own result moves when the
      // input is scaled by (1 + 1e-5·sin i). Measured: differences from Captum of 3e-7 to 4e-2 of
      // max, floors of 1e-2 to 1.4e-1; resnet18's single gradients agree to 1e-6. Flips move some
      // elements while a wrong rule would move most, so the median difference must also stay within
      // 1e-3 × max|ref| (measured: 2e-9 to 8e-4). The formulas are held exactly on tiny models
      // (gradient-properties) and in numerics (Captum's IG steps).
      const INPUT_METHODS: [string, string, Record<string, OptionValue>][] = [
        ['saliency', 'captum_Saliency', {}],
        ['input-x-gradient', 'captum_InputXGradient', {}],
        ['guided-backprop', 'captum_GuidedBackprop', {}],
        ['integrated-gradients', 'captum_IntegratedGradients', { steps: 32, method: 'riemann_trapezoid', baseline: 0, batch: 32 }],
        ['guided-gradcam', 'GuidedGradCam', {}],
      ];
      for (const [name, ref, options] of INPUT_METHODS) {
        it(`${name} equals Captum ${ref.replace('captum_', '')}: median within 1e-3, max within max(1e-3, rounding floor) × max|ref|`, async () => {
          const expected = ref === 'GuidedGradCam' ? captumGuidedGradCam(c) : (loadTensor(c, ref).data as Float32Array);
          const ours = (await explain(name, ctx(), options)).raw.data as Float32Array;
          const x = loadTensor(c, 'input').data as Float32Array;
          const nudged = {
            ...ctx(),
            input: float32(
              [1, 3, 224, 224],
              x.map((v, i) => v * (1 + 1e-5 * Math.sin(i))),
            ),
          };
          const moved = (await explain(name, nudged, options)).raw.data as Float32Array;
          const floor = maxAbsDifference(ours, moved) / maxAbs(expected);
          assertClose(ours, expected, Math.max(1e-3, floor), `${ref} (rounding floor ${floor.toExponential(2)})`);
          const median = medianAbsDifference(ours, expected) / maxAbs(expected);
          assert.ok(median <= 1e-3, `${ref}: median difference ${median.toExponential(2)} × max|ref| exceeds 1e-3`);
        });
      }

      it('the layer Grad-CAM the engine sees equals Captum LayerGradCam', async () => {
        const e = await explain('gradcam', ctx());
        const grad = gradCamRaw(loadTensor(c, 'target_activation'), loadTensor(c, 'grad_target_activation'));
        assertClose(e.raw.data as Float32Array, grad.data as Float32Array, 1e-3, 'Grad-CAM from reference tensors');
        assertClose(e.raw.data as Float32Array, loadTensor(c, 'captum_LayerGradCam').data, 1e-3, 'captum_LayerGradCam');
      });
    });
  }
});
