// The explanation methods by CLI name, and one call to run any of them.
import { ablationCam } from './ablationcam';
import { cam } from './cam';
import { eigenCam } from './eigencam';
import { throwIfCancelled } from '../cancel';
import { gradCam } from './gradcam';
import { gradCamPlusPlus } from './gradcam-plusplus';
import { guidedBackprop } from './guided-backprop';
import { guidedGradCam } from './guided-gradcam';
import { hiResCam } from './hirescam';
import { inputXGradient } from './input-x-gradient';
import { integratedGradients } from './integrated-gradients';
import { kernelShap } from './kernel-shap';
import { layerCam } from './layercam';
import { lime } from './lime';
import { occlusion } from './occlusion';
import { resolveOptions } from './options';
import { rise } from './rise';
import { saliency } from './saliency';
import { scoreCam } from './scorecam';
import { smoothGrad } from './smoothgrad';
import { xGradCam } from './xgradcam';
import { ExplainContext, ExplainError, Explanation, ExplanationMethod, OptionValue } from './types';
import { nonFinite } from '../tensor';
import type { MethodInfo } from './method-info';

export type { ExplainContext, Explanation, ExplanationMethod, OptionSpec, OptionValue, ResolvedTarget, Target } from './types';
export { ExplainError } from './types';

const ALL: ExplanationMethod[] = [
  cam,
  gradCam,
  gradCamPlusPlus,
  xGradCam,
  hiResCam,
  layerCam,
  eigenCam,
  scoreCam,
  ablationCam,
  saliency,
  smoothGrad,
  integratedGradients,
  inputXGradient,
  guidedBackprop,
  guidedGradCam,
  occlusion,
  rise,
  lime,
  kernelShap,
];

export const METHODS: Readonly<Record<string, ExplanationMethod>> = Object.fromEntries(ALL.map((m) => [m.name, m]));

export function methodNames(): string[] {
  return ALL.map((m) => m.name);
}

export function methodByName(name: string): ExplanationMethod {
  // Object.hasOwn: 'constructor' or '__proto__' is an unknown method, not Object.prototype's.
  const method = Object.hasOwn(METHODS, name) ? METHODS[name] : undefined;
  if (!method) throw new ExplainError(`unknown explanation method '${name}'; the methods are ${methodNames().join(', ')}`);
  return method;
}

/** The method as the views see it: every field of its descriptor except the code and the reference. */
export function methodView(m: ExplanationMethod): MethodInfo {
  return {
    name: m.name,
    title: m.title,
    kind: m.kind,
    needsGradients: m.needsGradients,
    usesLayer: m.usesLayer,
    ...(m.targetIndependent ? { targetIndependent: true } : {}),
    formula: m.formula,
    options: m.options,
  };
}

/** Runs a method by name, its options checked and completed with defaults. */
export async function explain(name: string, ctx: ExplainContext, options: Record<string, OptionValue | undefined> = {}): Promise<Explanation> {
  const method = methodByName(name);
  const resolved = resolveOptions(name, method.options, options);
  throwIfCancelled(ctx.signal);
  const explanation = await method.explain(ctx, resolved);
  // Methods check the signal between batches; one cancelled after its last batch still gives no result.
  throwIfCancelled(ctx.signal);
  // A NaN or infinite attribution would draw as a plausible-looking map: say so instead.
  const problem = nonFinite(explanation.raw.data as Float32Array);
  if (problem) throw new Error(`${method.title} gave ${problem}: the model's outputs or gradients are not finite for this input and target`);
  return explanation;
}
