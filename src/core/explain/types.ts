// The one interface every explanation method implements, and the values it takes and returns.
import type { ConvModel } from '../model';
import type { Detection, DetectionHead, DetectionOptions } from '../detection';
import type { Tensor } from '../tensor';
import { MethodInfo, OptionSpec } from './method-info';

/**
 * What to explain: a scalar made from one output of the model (src/core/explain/target.ts defines
 * each kind's score, backward seed, description and command-line syntax in one table).
 * - class: one score (flat index within a row); 'top': the largest.
 * - difference: score a − score b ('why A and not B').
 * - probability: softmax over the row, at one index.
 * - region: Σ over positions of out[class, p] · mask[p] (pytorch-grad-cam's
 *   SemanticSegmentationTarget) on an [N, C, ...] output; 'predicted': the mask where the class
 *   is the argmax over classes for the input.
 * - box: the score of one detected box (src/core/detection.ts), index into the boxes kept by NMS.
 * - similarity: cosine between the output row and a reference embedding.
 * - element: one element of an output, by its index without the batch dimension (a scalar regression
 *   output is index []).
 */
export type Target =
  | { kind: 'class'; index: number | 'top'; output?: string }
  | { kind: 'difference'; a: number; b: number; output?: string }
  | { kind: 'probability'; index: number | 'top'; output?: string }
  | { kind: 'region'; class: number; mask: Tensor | 'predicted'; output?: string }
  | { kind: 'box'; index: number; detection?: DetectionOptions; output?: string }
  | { kind: 'similarity'; reference: Float32Array; output?: string }
  | { kind: 'element'; index: number[]; output?: string };

/** A target checked against its output for the input: 'top' and 'predicted' replaced, the box decoded, the output named. */
export type ResolvedTarget =
  | { kind: 'class'; index: number; output: string }
  | { kind: 'difference'; a: number; b: number; output: string }
  | { kind: 'probability'; index: number; output: string }
  | { kind: 'region'; class: number; mask: Tensor; predicted: boolean; output: string }
  | { kind: 'box'; index: number; detected: Detection; head: DetectionHead; detection?: DetectionOptions; output: string }
  | { kind: 'similarity'; reference: Float32Array; output: string }
  | { kind: 'element'; index: number[]; flat: number; output: string };

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
  /**
   * Called with the model's outputs for the input itself, every graph output among them, where
   * the method computes them anyway (the gradient run of Grad-CAM and its kin, Saliency, Input ×
   * Gradient, Guided Backpropagation and Guided Grad-CAM; the forward pass of CAM, Eigen-CAM and
   * Score-CAM; Ablation-CAM's runs before and after the layer, and occlusion's run of the network
   * after its crops, where they hold every graph output; the pass that finds a 'top' class for the
   * other perturbation methods, Integrated Gradients and SmoothGrad): a caller that also shows the
   * prediction needs no pass of its own.
   */
  inputOutputs?: (outputs: Record<string, Tensor>) => void;
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
  /** Final map in [0, 1] with the input's spatial shape: [H, W], [L] or [T, H, W]; in [−1, 1] when `signed`. */
  map: Tensor;
  /** The map is signed, 0 meaning no contribution (a CAM for a difference target): drawn diverging. */
  signed?: boolean;
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
export type { OptionSpec } from './method-info';

export type OptionValue = number | string | number[] | Tensor;

export interface ExplanationMethod<O = Record<string, OptionValue>> extends MethodInfo {
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
