// Guided Grad-CAM (Selvaraju et al., 2017, arXiv:1610.02391): Guided Backpropagation masked by the
// layer's Grad-CAM.
//   attr = GuidedBackprop(x) ⊙ up(ReLU(Σ_k α_k A_k))
// Reference implementation: Captum GuidedGradCam — ReLU of LayerGradCam, upsampled with
// interpolate_mode 'nearest' (its default; src = floor(dst · in/out)) and multiplied with the
// guided gradients in every channel.
import { resizeNearestNd } from '../image/resize';
import { float32, sizeOf } from '../tensor';
import { DisplayMode } from './postprocess';
import { attributionExplanation, displayOption } from './attribution-common';
import { camSetup, planCam } from './cam-common';
import { toCanonical } from './layout';
import { gradCamRaw } from './gradcam';
import { GUIDED_RELU, gradientsFor } from './gradients';
import { ExplanationMethod } from './types';

export type GuidedGradCamOptions = { display: DisplayMode };

export const guidedGradCam: ExplanationMethod<GuidedGradCamOptions> = {
  name: 'guided-gradcam',
  title: 'Guided Grad-CAM',
  kind: 'gradient',
  needsGradients: true,
  usesLayer: true,
  formula: 'attr = GuidedBackprop(x) ⊙ nearest_up(ReLU(Grad-CAM))',
  reference: 'Selvaraju et al. 2017 (arXiv:1610.02391); Captum GuidedGradCam',
  options: [displayOption('absolute')],
  async explain(ctx, options) {
    const planned = await planCam(ctx);
    const layer = planned.layer.tensor;
    const { gradients, outputs, target } = await gradientsFor(ctx, planned.plan, ctx.input, [layer], { once: true });
    ctx.inputOutputs?.(outputs);
    const setup = camSetup(planned, target);
    ctx.progress?.(0.5, 'guided-gradcam: Grad-CAM done');
    const view = planned.layer.view;
    const cam = gradCamRaw(toCanonical(view, outputs[layer]), toCanonical(view, gradients[layer]));
    const spatial = cam.dims.slice(1);
    const inputSpatial = ctx.input.dims.slice(2);
    const plane = sizeOf(inputSpatial);
    const up = resizeNearestNd(
      (cam.data as Float32Array).map((v) => Math.max(v, 0)),
      spatial,
      inputSpatial,
    );
    const name = ctx.model.input.name;
    const guided = (await gradientsFor(ctx, { ...planned.plan, target }, ctx.input, [name], { overrides: GUIDED_RELU, once: true })).gradients[name].data as Float32Array;
    const raw = float32(
      ctx.input.dims,
      guided.map((g, i) => g * up[i % plane]),
    );
    ctx.progress?.(1, 'guided-gradcam: done');
    const explanation = attributionExplanation('guided-gradcam', setup, raw, options.display, [
      `Grad-CAM ${spatial.join('×')} ReLU'd and upsampled by nearest neighbour to ${inputSpatial.join('×')} (Captum's default)`,
    ]);
    return { ...explanation, layer };
  },
};
