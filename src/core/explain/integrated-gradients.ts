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
    // Path points that are the input or the baseline exactly (α = 1, α = 0) give y(x) and y(b) from the same runs.
    let onInput: number | undefined;
    let onBaseline: number | undefined;
    const { sum: integral, scores } = await weightedGradientSum(
      ctx,
      setup,
      options.steps,
      (i, dst) => {
        for (let k = 0; k < x.length; k++) dst[k] = b[k] + alphas[i] * (x[k] - b[k]);
        if (equal(dst, x)) onInput ??= i;
        if (equal(dst, b)) onBaseline ??= i;
      },
      (i) => stepSizes[i],
      { batch: options.batch, label: 'integrated-gradients: path points' },
    );
    const g = integral.data as Float32Array;
    const raw = float32(
      ctx.input.dims,
      g.map((v, k) => v * (x[k] - b[k])),
    );
    const total = (raw.data as Float32Array).reduce((s, v) => s + v, 0);
    const scoreAt = async (pathIndex: number | undefined, point: Tensor) => (pathIndex !== undefined ? scores[pathIndex] : scoreOf(ctx, setup.target, point));
    const gain = (await scoreAt(onInput, ctx.input)) - (await scoreAt(onBaseline, base));
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
