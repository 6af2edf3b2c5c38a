// Grad-CAM++ (Chattopadhyay et al., 2018, arXiv:1710.11063, eq. 19).
//   α_k(i,j) = g² / (2g² + Σ_ab A_k(a,b) · g³ + 1e-6)   (0 where g = 0),  g = ∂y/∂A_k(i,j)
//   w_k = Σ_ij α_k(i,j) · ReLU(g),   L = Σ_k w_k A_k
// Reference implementation: pytorch-grad-cam GradCAMPlusPlus.get_cam_weights (eps 1e-6; the sum of
// activations stands in for the paper's exp-based higher derivatives).
import { Tensor } from '../tensor';
import { camShape, checkSameShape, gradientCam, perChannelSum, weightedChannelSum } from './cam-common';
import { ExplanationMethod } from './types';

export function gradCamPlusPlusRaw(activations: Tensor, grads: Tensor): Tensor {
  checkSameShape(activations, grads);
  const { n, c, plane } = camShape(activations);
  const sumA = perChannelSum(activations, undefined, (a) => a);
  const g = grads.data as Float32Array;
  const weights = new Float64Array(n * c);
  for (let nk = 0; nk < n * c; nk++) {
    let w = 0;
    for (let i = nk * plane; i < (nk + 1) * plane; i++) {
      const g1 = g[i];
      if (g1 === 0) continue;
      const g2 = g1 * g1;
      const aij = g2 / (2 * g2 + sumA[nk] * g2 * g1 + 1e-6);
      w += aij * Math.max(g1, 0);
    }
    weights[nk] = w;
  }
  return weightedChannelSum(activations, weights);
}

export const gradCamPlusPlus: ExplanationMethod = {
  name: 'gradcam++',
  title: 'Grad-CAM++',
  kind: 'cam',
  needsGradients: true,
  usesLayer: true,
  formula: 'L = Σ_k w_k A_k,  w_k = Σ_ij α_ij ReLU(g_ij),  α_ij = g² / (2g² + Σ_ab A_k(a,b) g³)',
  reference: 'Chattopadhyay et al. 2018 (arXiv:1710.11063); pytorch-grad-cam GradCAMPlusPlus',
  options: [],
  explain: (ctx) => gradientCam('gradcam++', ctx, gradCamPlusPlusRaw),
};
