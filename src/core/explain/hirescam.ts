// HiResCAM (Draelos & Carin, 2020, arXiv:2011.08891).
//   L(i,j) = Σ_k ∂y/∂A_k(i,j) · A_k(i,j)   (elementwise, no averaging of gradients)
// Reference implementation: pytorch-grad-cam HiResCAM.get_cam_image.
import { Tensor } from '../tensor';
import { elementwiseChannelSum, gradientCam } from './cam-common';
import { ExplanationMethod } from './types';

export function hiResCamRaw(activations: Tensor, grads: Tensor): Tensor {
  return elementwiseChannelSum(activations, grads, (a, g) => a * g);
}

export const hiResCam: ExplanationMethod = {
  name: 'hirescam',
  title: 'HiResCAM',
  kind: 'cam',
  needsGradients: true,
  usesLayer: true,
  formula: 'L(i,j) = Σ_k ∂y/∂A_k(i,j) · A_k(i,j)',
  reference: 'Draelos & Carin 2020 (arXiv:2011.08891); pytorch-grad-cam HiResCAM',
  options: [],
  explain: (ctx) => gradientCam('hirescam', ctx, hiResCamRaw),
};
