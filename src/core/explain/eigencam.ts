// Eigen-CAM (Muhammad & Yeasin, 2020, arXiv:2008.00299): the projection of the activations on
// their first principal component, no gradients and no class.
//   M = A reshaped to positions × channels, centred per channel (M − mean over positions)
//   L = M v₁, v₁ the first right singular vector of M
// Reference implementation: pytorch-grad-cam EigenCAM → utils/svd_on_activations.get_2d_projection
// (NaNs set to 0, centring, numpy SVD). The SVD's sign is arbitrary; here it is chosen so that L
// correlates positively with the summed activation at each position (strong activations map high).
import { Tensor, float32 } from '../tensor';
import { camExplanation, camShape, runAtLayer } from './cam-common';
import { topEigenpair } from './linalg';
import { ExplanationMethod } from './types';

/**
 * First principal component projection of one image's activations [C, h·w] → [h·w]. M (positions
 * × channels, centred per channel) is kept as Mᵀ, channel-major like the activations; the top
 * eigenvector of the smaller Gram matrix, M Mᵀ or Mᵀ M, is found from products with M and Mᵀ.
 */
function projection(a: Float32Array, c: number, plane: number): Float64Array {
  const mt = new Float64Array(c * plane);
  for (let k = 0; k < c; k++) {
    let mean = 0;
    for (let i = 0; i < plane; i++) mean += Number.isNaN(a[k * plane + i]) ? 0 : a[k * plane + i];
    mean /= plane;
    for (let i = 0; i < plane; i++) mt[k * plane + i] = (Number.isNaN(a[k * plane + i]) ? 0 : a[k * plane + i]) - mean;
  }
  // M z (positions) for z over channels, and Mᵀ u (channels) for u over positions.
  const times = (z: Float64Array) => {
    const out = new Float64Array(plane);
    for (let k = 0; k < c; k++) {
      const zk = z[k];
      if (zk === 0) continue;
      for (let i = 0, base = k * plane; i < plane; i++) out[i] += mt[base + i] * zk;
    }
    return out;
  };
  const timesTransposed = (u: Float64Array) => {
    const out = new Float64Array(c);
    for (let k = 0; k < c; k++) {
      let s = 0;
      for (let i = 0, base = k * plane; i < plane; i++) s += mt[base + i] * u[i];
      out[k] = s;
    }
    return out;
  };
  if (plane <= c) {
    // M v₁ = σ₁ u₁ with u₁ the top eigenvector of M Mᵀ (positions × positions) and σ₁² its eigenvalue.
    const { value, vector } = topEigenpair((u) => times(timesTransposed(u)), plane);
    const sigma = Math.sqrt(Math.max(value, 0));
    return vector.map((v) => sigma * v);
  }
  return times(topEigenpair((z) => timesTransposed(times(z)), c).vector);
}

export function eigenCamRaw(activations: Tensor): Tensor {
  const { n, c, spatial, plane } = camShape(activations);
  const a = activations.data as Float32Array;
  const cam = new Float32Array(n * plane);
  for (let img = 0; img < n; img++) {
    const own = a.subarray(img * c * plane, (img + 1) * c * plane);
    const proj = projection(own, c, plane);
    const total = new Float64Array(plane);
    for (let k = 0; k < c; k++) for (let i = 0; i < plane; i++) total[i] += own[k * plane + i] || 0;
    let agreement = 0;
    for (let i = 0; i < plane; i++) agreement += proj[i] * total[i];
    const sign = agreement < 0 ? -1 : 1;
    for (let i = 0; i < plane; i++) cam[img * plane + i] = sign * proj[i];
  }
  return float32([n, ...spatial], cam);
}

export const eigenCam: ExplanationMethod = {
  name: 'eigencam',
  title: 'Eigen-CAM',
  kind: 'cam',
  needsGradients: false,
  usesLayer: true,
  targetIndependent: true,
  formula: 'L = (A − mean) v₁, v₁ the first principal direction of the activations (positions × channels)',
  reference: 'Muhammad & Yeasin 2020 (arXiv:2008.00299); pytorch-grad-cam EigenCAM / get_2d_projection',
  options: [],
  async explain(ctx) {
    const { setup, activations } = await runAtLayer(ctx);
    ctx.progress?.(1, 'eigencam: done');
    return camExplanation(
      'eigencam',
      ctx,
      setup,
      eigenCamRaw(activations),
      ["the principal component's sign is arbitrary; it is chosen so the map correlates positively with the summed activation", 'Eigen-CAM does not depend on the target class'],
      false, // targetIndependent: no contrast to sign
    );
  },
};
