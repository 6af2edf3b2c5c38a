// The jobs the compute worker runs, with their argument and result types: the contract between
// the VS Code layer (through ComputeClient) and the core. Results are the protocol's view types,
// ready to post to a webview.
import type { ActivationsView, ExplanationView, ImageView, MethodView, ModelView, Prediction, TargetSpec } from '../../protocol';
import type { PreprocessOverrides } from '../preprocess';
import type { ProviderSetting } from './session';

export interface JobTypes {
  /** Loads (or reloads) a model and describes it. */
  openModel: { args: { modelPath: string; provider: ProviderSetting; preprocessing?: PreprocessOverrides }; result: ModelView };
  /** Decodes and preprocesses an image for a model; the worker keeps it under the returned id. */
  loadImage: { args: { modelPath: string; imagePath?: string; name?: string; base64?: string }; result: ImageView };
  predict: { args: { modelPath: string; imageId: string; topK: number }; result: Prediction[] };
  explain: {
    args: {
      modelPath: string; imageId: string; method: string; layer: string; target: TargetSpec;
      options?: Record<string, number | string>; faithfulness?: boolean;
    };
    result: ExplanationView;
  };
  activations: { args: { modelPath: string; imageId: string; layer: string; target: TargetSpec }; result: ActivationsView };
  /** An explanation kept by the worker, as PNG overlay or .npy of the raw attribution. */
  exportExplanation: { args: { explanationId: string; format: 'png' | 'npy' }; result: { bytes: Uint8Array; suggestedName: string } };
  closeModel: { args: { modelPath: string }; result: void };
  /** The explanation methods with their formulas, for method pickers. */
  methods: { args: Record<string, never>; result: MethodView[] };
}

export type JobName = keyof JobTypes;
export type JobArgs<J extends JobName> = JobTypes[J]['args'];
export type JobResult<J extends JobName> = JobTypes[J]['result'];

/** Messages between ComputeClient and the worker thread. */
export type ToWorker =
  | { kind: 'call'; id: number; job: JobName; args: unknown }
  | { kind: 'cancel'; id: number };

export type FromWorker =
  | { kind: 'result'; id: number; result: unknown }
  | { kind: 'error'; id: number; message: string; name: string }
  | { kind: 'progress'; id: number; fraction: number; message: string };

export class CancelledError extends Error {
  constructor(message = 'cancelled') {
    super(message);
    this.name = 'CancelledError';
  }
}

/** What a job implementation receives besides its arguments. */
export interface JobContext {
  signal: AbortSignal;
  progress(fraction: number, message: string): void;
}
