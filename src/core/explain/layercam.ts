// LayerCAM (Jiang et al., 2021, IEEE TIP 30:5875).
//   L(i,j) = Σ_k ReLU(∂y/∂A_k(i,j)) · A_k(i,j)
// Reference implementation: pytorch-grad-cam LayerCAM.get_cam_image.
import { Tensor } from '../tensor';
import { elementwiseChannelSum, gradientCam } from './cam-common';
import { ExplanationMethod } from './types';

export function layerCamRaw(activations: Tensor, grads: Tensor): Tensor {
  return elementwiseChannelSum(activations, grads, (a, g) => (g > 0 ? g * a : 0));
}

export const layerCam: ExplanationMethod = {
  name: 'layercam',
  title: 'LayerCAM',
  kind: 'cam',
  needsGradients: true,
  usesLayer: true,
  formula: 'L(i,j) = Σ_k ReLU(∂y/∂A_k(i,j)) · A_k(i,j)',
  reference: 'Jiang et al. 2021 (IEEE TIP 30:5875); pytorch-grad-cam LayerCAM',
  options: [],
  explain: (ctx) => gradientCam('layercam', ctx, layerCamRaw),
};
