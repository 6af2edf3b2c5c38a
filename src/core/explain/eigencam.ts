// Eigen-CAM (Muhammad & Yeasin, 2020, arXiv:2008.00299): the projection of the activations on
// their first principal component, no gradients and no class.
//   M = A reshaped to positions × channels, centred per channel (M − mean over positions)
//   L = M v₁, v₁ the first right singular vector of M
// Reference implementation: pytorch-grad-cam EigenCAM → utils/svd_on_activations.get_2d_projection
// (NaNs set to 0, centring, numpy SVD). The SVD's sign is arbitrary; here it is chosen so that L
// correlates positively with the summed activation at each position (strong activations map high).
import { Tensor, float32 } from '../tensor';
import { camExplanation, camShape, setUpCam } from './cam-common';
import { symmetricEigen } from './linalg';
import { ExplanationMethod } from './types';

/** First principal component projection of one image's activations [C, h·w] → [h·w]. */
function projection(a: Float32Array, c: number, plane: number): Float64Array {
  const m = new Float64Array(plane * c);
  for (let k = 0; k < c; k++) {
    let mean = 0;
    for (let i = 0; i < plane; i++) mean += Number.isNaN(a[k * plane + i]) ? 0 : a[k * plane + i];
    mean /= plane;
    for (let i = 0; i < plane; i++) m[i * c + k] = (Number.isNaN(a[k * plane + i]) ? 0 : a[k * plane + i]) - mean;
  }
  const proj = new Float64Array(plane);
  if (plane <= c) {
    // M v₁ = σ₁ u₁ with u₁ the top eigenvector of M Mᵀ (positions × positions) and σ₁² its eigenvalue.
    const gram = new Float64Array(plane * plane);
    for (let i = 0; i < plane; i++) {
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let k = 0; k < c; k++) s += m[i * c + k] * m[j * c + k];
        gram[i * plane + j] = gram[j * plane + i] = s;
      }
    }
    const { values, vectors } = symmetricEigen(gram, plane);
    const sigma = Math.sqrt(Math.max(values[0], 0));
    for (let i = 0; i < plane; i++) proj[i] = sigma * vectors[i];
  } else {
    const cov = new Float64Array(c * c);
    for (let i = 0; i < plane; i++) {
      for (let p = 0; p < c; p++) {
        const mp = m[i * c + p];
        for (let q = 0; q <= p; q++) cov[p * c + q] += mp * m[i * c + q];
      }
    }
    for (let p = 0; p < c; p++) for (let q = 0; q < p; q++) cov[q * c + p] = cov[p * c + q];
    const { vectors } = symmetricEigen(cov, c);
    for (let i = 0; i < plane; i++) {
      let s = 0;
      for (let k = 0; k < c; k++) s += m[i * c + k] * vectors[k];
      proj[i] = s;
    }
  }
  return proj;
}

export function eigenCamRaw(activations: Tensor): Tensor {
  const { n, c, h, w, plane } = camShape(activations);
  const a = activations.data as Float32Array;
  const cam = new Float32Array(n * plane);
  for (let img = 0; img < n; img++) {
    const own = a.subarray(img * c * plane, (img + 1) * c * plane);
    const proj = projection(own, c, plane);
    let agreement = 0;
    for (let i = 0; i < plane; i++) {
      let total = 0;
      for (let k = 0; k < c; k++) total += own[k * plane + i] || 0;
      agreement += proj[i] * total;
    }
    const sign = agreement < 0 ? -1 : 1;
    for (let i = 0; i < plane; i++) cam[img * plane + i] = sign * proj[i];
  }
  return float32([n, h, w], cam);
}

export const eigenCam: ExplanationMethod = {
  name: 'eigencam',
  title: 'Eigen-CAM',
  kind: 'cam',
  needsGradients: false,
  usesLayer: true,
  formula: 'L = (A − mean) v₁, v₁ the first principal direction of the activations (positions × channels)',
  reference: 'Muhammad & Yeasin 2020 (arXiv:2008.00299); pytorch-grad-cam EigenCAM / get_2d_projection',
  options: [],
  async explain(ctx) {
    const setup = await setUpCam(ctx);
    const activations = (await ctx.model.run({ [ctx.model.input.name]: ctx.input }, [setup.layer.tensor]))[setup.layer.tensor];
    ctx.progress?.(1, 'eigencam: done');
    return camExplanation('eigencam', ctx, setup, eigenCamRaw(activations), [
      'the principal component\'s sign is arbitrary; it is chosen so the map correlates positively with the summed activation',
      'Eigen-CAM does not depend on the target class',
    ]);
  },
};
