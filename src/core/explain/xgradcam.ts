// XGrad-CAM (Fu et al., 2020, arXiv:2008.02312).
//   w_k = Σ_ij (A_k(i,j) / (Σ_ab A_k(a,b) + 1e-7)) · ∂y/∂A_k(i,j),   L = Σ_k w_k A_k
// Reference implementation: pytorch-grad-cam XGradCAM.get_cam_weights.
import { Tensor } from '../tensor';
import { checkSameShape, gradientCam, perChannelSum, weightedChannelSum } from './cam-common';
import { ExplanationMethod } from './types';

export function xGradCamRaw(activations: Tensor, grads: Tensor): Tensor {
  checkSameShape(activations, grads);
  const sumA = perChannelSum(activations, undefined, (a) => a);
  const sumAG = perChannelSum(activations, grads, (a, g) => a * g);
  return weightedChannelSum(
    activations,
    sumAG.map((s, nk) => s / (sumA[nk] + 1e-7)),
  );
}

export const xGradCam: ExplanationMethod = {
  name: 'xgradcam',
  title: 'XGrad-CAM',
  kind: 'cam',
  needsGradients: true,
  usesLayer: true,
  formula: 'L = Σ_k w_k A_k,  w_k = Σ_ij (A_k(i,j) / Σ_ab A_k(a,b)) ∂y/∂A_k(i,j)',
  reference: 'Fu et al. 2020 (arXiv:2008.02312); pytorch-grad-cam XGradCAM',
  options: [],
  explain: (ctx) => gradientCam('xgradcam', ctx, xGradCamRaw),
};
