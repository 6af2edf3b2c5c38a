// Integrated Gradients (Sundararajan et al., 2017, arXiv:1703.01365).
//   attr = (x − b) ⊙ ∫₀¹ ∂y/∂x (b + α(x − b)) dα ≈ (x − b) ⊙ Σ_i s_i ∂y/∂x (b + α_i(x − b))
// Reference implementation: Captum IntegratedGradients (n_steps default 50, method default
// 'gausslegendre', baseline 0); step sizes s_i and points α_i as Captum's approximation_methods.
// Completeness: Σ attr ≈ y(x) − y(b); the difference is reported as the convergence delta.
import { Tensor, float32 } from '../tensor';
import { DisplayMode } from './postprocess';
import { APPROXIMATION_METHODS, ApproximationMethod, approximationParameters } from './approximation';
import { BATCH_OPTION, attributionExplanation, baselineTensor, displayOption, setUpGradientAttribution, weightedGradientSum } from './attribution-common';
import { scoreOf } from './forward';
import { ExplanationMethod } from './types';

export type IntegratedGradientsOptions = { steps: number; method: ApproximationMethod; baseline: number | Tensor; batch: number; display: DisplayMode };

function equal(a: Float32Array, b: Float32Array): boolean {
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

export const integratedGradients: ExplanationMethod<IntegratedGradientsOptions> = {
  name: 'integrated-gradients',
  title: 'Integrated Gradients',
  kind: 'gradient',
  needsGradients: true,
  usesLayer: false,
  formula: 'attr = (x − b) ⊙ Σ_i s_i ∂y/∂x (b + α_i (x − b))',
  reference: 'Sundararajan et al. 2017 (arXiv:1703.01365); Captum IntegratedGradients',
  options: [
    { name: 'steps', type: 'int', default: 50, min: 1, description: 'points on the path from the baseline to the input' },
    { name: 'method', type: 'choice', default: 'gausslegendre', choices: [...APPROXIMATION_METHODS], description: "integral approximation (Captum's names)" },
    { name: 'baseline', type: 'baseline', default: 0, description: 'the reference input: a value for every element, or an input-shaped tensor' },
    BATCH_OPTION,
    displayOption('absolute'),
  ],
  async explain(ctx, options) {
    const setup = await setUpGradientAttribution(ctx);
    const x = ctx.input.data as Float32Array;
    const base = baselineTensor(ctx.input, options.baseline);
    const b = base.data as Float32Array;
    const { stepSizes, alphas } = approximationParameters(options.method, options.steps);
    const pathPoint = (alpha: number, dst: Float32Array) => {
      for (let k = 0; k < x.length; k++) dst[k] = b[k] + alpha * (x[k] - b[k]);
      return dst;
    };
    // y(x) and y(b) come from runs made anyway where they can: a path point that is the input or
    // the baseline exactly (α = 1, α = 0: riemann_trapezoid), or setting up, which ran the model on
    // the input ('top' with no forward session open). Where the rest would need a forward session
    // that is not open, they are extra points of weight 0 in the gradient runs: a forward session
    // costs onnxruntime as much to make as the model (vgg11: 2-4 s), an extra point one row of a
    // run (50 steps in batches of 4 leave room for 2 in the last run).
    const scratch = new Float32Array(x.length);
    const onPath = (point: Float32Array) => {
      const at = alphas.findIndex((alpha) => (alpha === 0 || alpha === 1) && equal(pathPoint(alpha, scratch), point));
      return at >= 0 ? at : undefined;
    };
    const inputAt = onPath(x);
    const baselineAt = onPath(b);
    const extra: Float32Array[] = [];
    if (!(await ctx.model.baseSessionOpen())) {
      if (inputAt === undefined && setup.inputScore === undefined) extra.push(x);
      if (baselineAt === undefined) extra.push(b);
    }
    const { sum: integral, scores } = await weightedGradientSum(
      ctx,
      setup,
      options.steps + extra.length,
      (i, dst) => (i < options.steps ? pathPoint(alphas[i], dst) : dst.set(extra[i - options.steps])),
      (i) => (i < options.steps ? stepSizes[i] : 0),
      { batch: options.batch, label: extra.length > 0 ? 'integrated-gradients: path points and endpoints' : 'integrated-gradients: path points' },
    );
    const g = integral.data as Float32Array;
    const raw = float32(
      ctx.input.dims,
      g.map((v, k) => v * (x[k] - b[k])),
    );
    const total = (raw.data as Float32Array).reduce((s, v) => s + v, 0);
    // The score at a path point, else one known from setting up, else at an extra point, else a forward pass.
    const scoreAt = async (at: number | undefined, point: Tensor, known?: number) => {
      if (at !== undefined) return scores[at];
      if (known !== undefined) return known;
      const added = extra.indexOf(point.data as Float32Array);
      return added >= 0 ? scores[options.steps + added] : scoreOf(ctx, setup.target, point);
    };
    const gain = (await scoreAt(inputAt, ctx.input, setup.inputScore)) - (await scoreAt(baselineAt, base));
    const delta = total - gain;
    return attributionExplanation(
      'integrated-gradients',
      setup,
      raw,
      options.display,
      [
        `${options.steps} steps, ${options.method}, baseline ${typeof options.baseline === 'number' ? options.baseline : 'tensor'}`,
        `completeness: Σ attr = ${total.toPrecision(5)}, y(x) − y(baseline) = ${gain.toPrecision(5)} (delta ${delta.toPrecision(3)})`,
      ],
      { attributionSum: total, scoreGain: gain, convergenceDelta: delta },
    );
  },
};
