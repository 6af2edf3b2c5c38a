// Grad-CAM (Selvaraju et al., 2017, arXiv:1610.02391).
//   L = Σ_k α_k A_k,  α_k = mean over positions of ∂y/∂A_k
// Reference implementation: pytorch-grad-cam GradCAM.get_cam_weights (np.mean(grads, axis=(2, 3))).
import { Tensor } from '../tensor';
import { camShape, checkSameShape, gradientCam, perChannelSum, weightedChannelSum } from './cam-common';
import { ExplanationMethod } from './types';

export function gradCamRaw(activations: Tensor, grads: Tensor): Tensor {
  checkSameShape(activations, grads);
  const { plane } = camShape(activations);
  const weights = perChannelSum(activations, grads, (_a, g) => g).map((s) => s / plane);
  return weightedChannelSum(activations, weights);
}

export const gradCam: ExplanationMethod = {
  name: 'gradcam',
  title: 'Grad-CAM',
  kind: 'cam',
  needsGradients: true,
  usesLayer: true,
  formula: 'L = Σ_k α_k A_k,  α_k = (1/Z) Σ_ij ∂y/∂A_k(i,j)',
  reference: 'Selvaraju et al. 2017 (arXiv:1610.02391); pytorch-grad-cam GradCAM',
  options: [],
  explain: (ctx) => gradientCam('gradcam', ctx, gradCamRaw),
};
