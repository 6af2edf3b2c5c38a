// What describes an explanation method, as plain data with no imports: the protocol and the
// webview name it without reaching the model or the file system.
export interface OptionSpec {
  name: string;
  /** 'int'/'number': a number; 'choice': one of choices; 'ints': a list of integers; 'baseline': a number or an input-shaped Tensor. */
  type: 'int' | 'number' | 'choice' | 'ints' | 'baseline';
  default: number | string | number[];
  description: string;
  min?: number;
  max?: number;
  choices?: string[];
}

export interface MethodInfo {
  /** CLI name, e.g. 'gradcam++'. */
  name: string;
  title: string;
  kind: 'cam' | 'gradient' | 'perturbation';
  needsGradients: boolean;
  /** Whether the method works at a layer (ctx.layer). */
  usesLayer: boolean;
  /** The map does not depend on the target (EigenCAM: the first principal component of the activations). */
  targetIndependent?: boolean;
  /** Shown in the UI. */
  formula: string;
  options: OptionSpec[];
}
