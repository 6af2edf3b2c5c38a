// What the CAM methods share: the resolved target and layer, the weighted sum of activation
// channels (pytorch-grad-cam's get_cam_image), the run of gradient-based CAMs and the final map.
// Activations and gradients are in the layer's canonical view [N, C, ...spatial] (./layout.ts: 1, 2
// or 3 spatial axes, tokens and channels-last layers rearranged); raw CAMs are [N, ...spatial].
import { Tensor, float32, sizeOf } from '../tensor';
import { gradientsFor } from './gradients';
import { LayerChoice, resolveLayer } from './layer';
import { toCanonical } from './layout';
import { camToMap, camToSignedMap } from './postprocess';
import { TargetPlan, checkInput, describeTarget, planTarget, resolveTop } from './target';
import { ExplainContext, ExplainError, Explanation, ResolvedTarget } from './types';

export interface CamSetup {
  target: ResolvedTarget;
  layer: LayerChoice;
  notes: string[];
}

/** The target planned (resolved once an output is computed, for 'top') and the layer chosen. */
export interface CamPlan {
  plan: TargetPlan;
  layer: LayerChoice;
}

/** Checks the input, plans the target (no forward pass where probed shapes suffice) and chooses the layer. */
export async function planCam(ctx: ExplainContext): Promise<CamPlan> {
  checkInput(ctx.input);
  const plan = await planTarget(ctx.model, ctx.input, ctx.target);
  const layer = await resolveLayer(ctx.model, ctx.layer, plan.target.output, ctx.input.dims);
  return { plan, layer };
}

export function camSetup(cam: CamPlan, target: ResolvedTarget): CamSetup {
  return { target, layer: cam.layer, notes: [cam.layer.note, `target: ${describeTarget(target)} of output '${target.output}'`] };
}

/**
 * One forward pass with the layer (and `extra` tensors) exposed, run once per explanation: the
 * outputs, the layer's activations in its canonical view, and the setup with a 'top' target
 * resolved from them.
 */
export async function runAtLayer(ctx: ExplainContext, extra: string[] = []): Promise<{ setup: CamSetup; outputs: Record<string, Tensor>; activations: Tensor }> {
  const cam = await planCam(ctx);
  const outputs = await ctx.model.run({ [ctx.model.input.name]: ctx.input }, [cam.layer.tensor, ...extra], { once: true });
  ctx.inputOutputs?.(outputs);
  const activations = toCanonical(cam.layer.view, outputs[cam.layer.tensor]);
  return { setup: camSetup(cam, resolveTop(cam.plan.target, outputs[cam.plan.target.output])), outputs, activations };
}

/** Sizes of canonical activations [N, C, ...spatial]: `plane` positions per channel. */
export function camShape(activations: Tensor): { n: number; c: number; plane: number; spatial: number[] } {
  if (activations.dims.length < 3 || activations.dims.length > 5) {
    throw new ExplainError(`CAM methods need an activation [N, C, ...spatial] with 1 to 3 spatial axes, got [${activations.dims.join(', ')}]`);
  }
  const [n, c, ...spatial] = activations.dims;
  return { n, c, spatial, plane: sizeOf(spatial) };
}

/** Σ_k weights[n, k] · A[n, k] — weights [N, C] (one per image and channel). */
export function weightedChannelSum(activations: Tensor, weights: ArrayLike<number>): Tensor {
  const { n, c, spatial, plane } = camShape(activations);
  const a = activations.data as Float32Array;
  const cam = new Float32Array(n * plane);
  for (let img = 0; img < n; img++) {
    const acc = new Float64Array(plane);
    for (let k = 0; k < c; k++) {
      const wk = weights[img * c + k];
      if (wk === 0) continue;
      const base = (img * c + k) * plane;
      for (let i = 0; i < plane; i++) acc[i] += wk * a[base + i];
    }
    cam.set(acc, img * plane);
  }
  return float32([n, ...spatial], cam);
}

/** Σ_k f(A, G)[n, k, i] at every position i — for methods that weight elementwise. */
export function elementwiseChannelSum(activations: Tensor, grads: Tensor, f: (a: number, g: number) => number): Tensor {
  const { n, c, spatial, plane } = camShape(activations);
  checkSameShape(activations, grads);
  const a = activations.data as Float32Array;
  const g = grads.data as Float32Array;
  const cam = new Float32Array(n * plane);
  for (let img = 0; img < n; img++) {
    const acc = new Float64Array(plane);
    for (let k = 0; k < c; k++) {
      const base = (img * c + k) * plane;
      for (let i = 0; i < plane; i++) acc[i] += f(a[base + i], g[base + i]);
    }
    cam.set(acc, img * plane);
  }
  return float32([n, ...spatial], cam);
}

export function checkSameShape(activations: Tensor, grads: Tensor): void {
  if (activations.dims.join() !== grads.dims.join()) {
    throw new ExplainError(`activations [${activations.dims.join(', ')}] and gradients [${grads.dims.join(', ')}] differ in shape`);
  }
}

/** Σ over each channel's positions of f(A, G): [N, C]. */
export function perChannelSum(activations: Tensor, grads: Tensor | undefined, f: (a: number, g: number) => number): Float64Array {
  const { n, c, plane } = camShape(activations);
  const a = activations.data as Float32Array;
  const g = grads?.data as Float32Array | undefined;
  const out = new Float64Array(n * c);
  for (let nk = 0; nk < n * c; nk++) {
    let s = 0;
    for (let i = nk * plane; i < (nk + 1) * plane; i++) s += f(a[i], g ? g[i] : 0);
    out[nk] = s;
  }
  return out;
}

/**
 * The explanation of a CAM method from its raw CAM. A difference target's map is signed
 * (camToSignedMap): the contrast A − B is the point, and a ReLU would hide where B wins; `signed`
 * false keeps the ReLU for a method whose map does not depend on the target (Eigen-CAM).
 */
export function camExplanation(method: string, ctx: ExplainContext, setup: CamSetup, raw: Tensor, notes: string[] = [], signed = setup.target.kind === 'difference'): Explanation {
  const { map, note } = signed ? camToSignedMap(raw, ctx.input.dims.slice(2)) : camToMap(raw, ctx.input.dims.slice(2));
  return { method, raw, map, layer: setup.layer.tensor, target: setup.target, notes: [...setup.notes, ...notes, note], ...(signed ? { signed: true } : {}) };
}

/** A CAM computed from the layer's activations A and the gradients ∂score/∂A, both from one run. */
export async function gradientCam(method: string, ctx: ExplainContext, rawCam: (activations: Tensor, grads: Tensor) => Tensor): Promise<Explanation> {
  const cam = await planCam(ctx);
  const layer = cam.layer.tensor;
  ctx.progress?.(0, `${method}: gradients at ${layer}`);
  const { gradients, outputs, target } = await gradientsFor(ctx, cam.plan, ctx.input, [layer], { once: true });
  ctx.inputOutputs?.(outputs);
  const view = cam.layer.view;
  const raw = rawCam(toCanonical(view, outputs[layer]), toCanonical(view, gradients[layer]));
  ctx.progress?.(1, `${method}: done`);
  return camExplanation(method, ctx, camSetup(cam, target), raw);
}
