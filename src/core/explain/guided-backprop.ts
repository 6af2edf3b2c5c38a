// Guided Backpropagation (Springenberg et al., 2015, arXiv:1412.6806): the input gradient with
// every ReLU passing back only positive gradients, and only where its input was positive.
//   ReLU backward: g_in = 1[x > 0] · max(g_out, 0)
// Reference implementation: Captum GuidedBackprop — it overrides nn.ReLU modules only, so ReLU6
// (ONNX Clip) and other activations keep their ordinary gradients; here the ONNX Relu op is
// overridden and the rest differentiates normally.
import { DisplayMode } from './postprocess';
import { attributionExplanation, displayOption, inputGradient } from './attribution-common';
import { GUIDED_RELU } from './gradients';
import { ExplanationMethod } from './types';

export type GuidedBackpropOptions = { display: DisplayMode };

export const guidedBackprop: ExplanationMethod<GuidedBackpropOptions> = {
  name: 'guided-backprop',
  title: 'Guided Backpropagation',
  kind: 'gradient',
  needsGradients: true,
  usesLayer: false,
  formula: 'attr = ∂y/∂x with ReLU backward g_in = 1[x>0] · ReLU(g_out)',
  reference: 'Springenberg et al. 2015 (arXiv:1412.6806); Captum GuidedBackprop',
  options: [displayOption('absolute')],
  async explain(ctx, options) {
    const { setup, gradient: raw } = await inputGradient(ctx, GUIDED_RELU);
    ctx.progress?.(1, 'guided-backprop: done');
    return attributionExplanation('guided-backprop', setup, raw, options.display, [
      'ONNX Relu nodes use the guided rule; other activations (e.g. Clip for ReLU6) keep ordinary gradients',
    ]);
  },
};
