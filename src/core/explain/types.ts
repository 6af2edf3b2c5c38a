// The one interface every explanation method implements, and the values it takes and returns.
import type { ConvModel } from '../model';
import type { Tensor } from '../tensor';

/** What to explain: one class's score, or the difference of two ('why A and not B'). */
export type Target =
  | { kind: 'class'; index: number | 'top'; output?: string }
  | { kind: 'difference'; a: number; b: number; output?: string };

/** A target with 'top' replaced by the class index and the output named. */
export type ResolvedTarget =
  | { kind: 'class'; index: number; output: string }
  | { kind: 'difference'; a: number; b: number; output: string };

export interface ExplainContext {
  model: ConvModel;
  /** One example, channels first, float32 with N = 1: [1, C, L], [1, C, H, W] or [1, C, T, H, W], preprocessed as the model expects. */
  input: Tensor;
  target: Target;
  /** Tensor or node name of the layer CAM methods use; 'auto' or absent: chosen (see notes). */
  layer?: string;
  progress?: (fraction: number, message: string) => void;
  /** Checked between batches of forward passes; an aborted run throws CancelledError. */
  signal?: AbortSignal;
}

export interface Explanation {
  /** CLI name of the method. */
  method: string;
  /**
   * CAM methods: [1, ...spatial] at the layer's resolution in its canonical view (./layout.ts),
   * before ReLU and scaling (pytorch-grad-cam's get_cam_image). Input attributions: input-shaped,
   * as Captum returns them. RISE: [1, ...the input's spatial dims].
   */
  raw: Tensor;
  /** Final map in [0, 1] with the input's spatial shape: [H, W], [L] or [T, H, W]. */
  map: Tensor;
  /** The layer tensor a CAM was computed at. */
  layer?: string;
  target: ResolvedTarget;
  /** How the result was made: layer choice, resampling, display scaling, surrogate fit, ... */
  notes: string[];
  /** Numbers worth showing beside the map, e.g. { r2 } for LIME, { convergenceDelta } for IG. */
  metrics?: Record<string, number>;
  /** Superpixel index of every pixel ([H, W] int32) for LIME and Kernel SHAP. */
  segments?: Tensor;
}

/** A value a caller can pass as a method option (the CLI and the webview pass numbers and strings). */
export type OptionValue = number | string | number[] | Tensor;

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

export interface ExplanationMethod<O = Record<string, OptionValue>> {
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
  /** The paper and the implementation this one matches. */
  reference: string;
  options: OptionSpec[];
  explain(ctx: ExplainContext, options: O): Promise<Explanation>;
}

/** Input or request an explanation cannot be made for: one sentence saying why. */
export class ExplainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExplainError';
  }
}
