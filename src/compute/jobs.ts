// The jobs the compute worker runs, with their argument and result types: the contract between
// the VS Code layer (through ComputeClient) and the core. Results are the protocol's view types,
// ready to post to a webview.
import type { ActivationLimitOptions } from '../core/activation-memory';
import type { SizeLimits } from '../core/limits';
import type {
  ActivationsView,
  AttentionView,
  ChannelPositionsView,
  ChannelValuesView,
  DatasetMapView,
  DatasetView,
  ErrorAnalysisView,
  SliceFilterSpec,
  SliceView,
  EffectiveFieldView,
  ExplainAllView,
  ExplanationView,
  ExportColormap,
  GalleryView,
  ImageView,
  ImportanceView,
  GraphView,
  KernelsView,
  MarkCheckView,
  MethodView,
  ModelView,
  NeighborsView,
  Prediction,
  ReceptiveFieldsView,
  RulesView,
  SanityCheckView,
  TargetSpec,
  TaskOutputsView,
} from '../protocol';
import type { PreprocessOverrides } from '../core/preprocess';
import type { ProviderSetting } from '../core/onnx/session';

export interface WorkerStatus {
  models: string[];
  images: number;
  explanations: number;
  datasets: number;
}

export interface JobTypes {
  /** Loads (or reloads) a model and describes it. */
  openModel: {
    args: {
      modelPath: string;
      provider: ProviderSetting;
      /** Threads per onnxruntime op; 0 or absent: every core. */
      threads?: number;
      preprocessing?: PreprocessOverrides;
      settingsFolder?: string;
      activationMemory?: ActivationLimitOptions;
      decode?: SizeLimits;
    };
    result: ModelView;
  };
  /** Decodes and preprocesses an image for a model; the worker keeps it under the returned id. */
  loadImage: { args: { modelPath: string; imagePath?: string; name?: string; base64?: string }; result: ImageView };
  predict: { args: { modelPath: string; imageId: string; topK: number }; result: Prediction[] };
  explain: {
    args: {
      modelPath: string;
      imageId: string;
      method: string;
      layer: string;
      target: TargetSpec;
      options?: Record<string, number | string>;
      faithfulness?: boolean;
    };
    result: ExplanationView;
  };
  activations: { args: { modelPath: string; imageId: string; layer: string; target: TargetSpec }; result: ActivationsView };
  /** An explanation kept by the worker, as PNG overlay or .npy of the raw attribution. */
  exportExplanation: {
    args: { explanationId: string; format: 'png' | 'npy'; colormap: ExportColormap; opacity: number; figure?: string };
    result: { bytes: Uint8Array; suggestedName: string };
  };
  closeModel: { args: { modelPath: string }; result: void };
  /** What the worker holds: open models and the images, explanations and datasets kept for them. */
  status: { args: Record<string, never>; result: WorkerStatus };
  /** The explanation methods with their formulas, for method pickers. */
  methods: { args: Record<string, never>; result: MethodView[] };

  /**
   * Features of every image of a dataset folder at a layer (cached in `cacheDir` when given); the
   * worker keeps them under the returned id for the dataset jobs below.
   */
  datasetFeatures: { args: { modelPath: string; folder: string; layer: string; cacheDir?: string }; result: { datasetId: string; view: DatasetView } };
  /** Rules distilled from the layer's pooled channels, with each tested channel's top patches. */
  datasetRules: { args: { datasetId: string; depth: number; minLeaf: number; pooling?: 'mean' | 'max'; patches?: number }; result: RulesView };
  /** Which channels respond to the mark planted in the images a marks file lists, and which predictions change without it. */
  datasetMarkCheck: { args: { datasetId: string; marksFile: string; pooling: 'mean' | 'max' }; result: MarkCheckView };
  /** The last rules of a dataset as JSON or text. */
  exportRules: { args: { datasetId: string; format: 'json' | 'txt' }; result: { bytes: Uint8Array; suggestedName: string } };
  /** The map as compact typed arrays; the worker keeps it for the error clusters. */
  datasetMap: { args: { datasetId: string; method: 'pca' | 'umap' }; result: DatasetMapView };
  datasetChannelValues: { args: { datasetId: string; channel: number; pooling: 'mean' | 'max' }; result: ChannelValuesView };
  datasetErrors: { args: { datasetId: string; method: 'pca' | 'umap' }; result: ErrorAnalysisView };
  /** One page of the images a filter keeps, with thumbnails. */
  datasetSlice: { args: { datasetId: string; filter: SliceFilterSpec; offset: number; pageSize: number }; result: SliceView };
  datasetChannelPositions: { args: { datasetId: string; channels?: number[] }; result: ChannelPositionsView };
  /** The dataset images nearest to a loaded image in the penultimate feature space. */
  datasetNeighbors: { args: { datasetId: string; imageId: string; k: number }; result: NeighborsView };
  datasetImportance: {
    args: { datasetId: string; classIndex: number; method: 'gradient' | 'ablation'; channels?: number[] };
    result: ImportanceView;
  };
  /** Theoretical receptive field of every layer. */
  receptiveFields: { args: { modelPath: string }; result: ReceptiveFieldsView };
  effectiveField: { args: { modelPath: string; layer: string; samples?: number }; result: EffectiveFieldView };
  kernels: { args: { modelPath: string }; result: KernelsView };
  /** Activation-maximisation images of the first `count` channels of a layer (cached in `cacheDir`). */
  featureGallery: { args: { modelPath: string; layer: string; count: number; steps: number; channels?: number[]; cacheDir?: string }; result: GalleryView };
  attention: { args: { modelPath: string; imageId: string }; result: AttentionView };
  /** Cascading model-parameter randomisation of an explanation method on one image. */
  sanityCheck: { args: { modelPath: string; imageId: string; method: string; layer: string }; result: SanityCheckView };
  /** The model laid out as a graph; with an image, each node's activation statistics and thumbnail. */
  graph: { args: { modelPath: string; imageId?: string }; result: GraphView };
  /** A segmentation model's predicted mask or a detector's boxes after NMS, for an image. */
  taskOutputs: { args: { modelPath: string; imageId: string; iou?: number; minScore?: number }; result: TaskOutputsView };
  /**
   * "Explain all": the page [offset, offset + limit) of the images of `folder`, each explained and
   * predicted, as small cards; refused unless the folder lies inside one of `roots` (the workspace
   * folders, or a folder the user picked).
   */
  explainAll: {
    args: {
      modelPath: string;
      folder: string;
      roots: string[];
      method: string;
      layer: string;
      target: TargetSpec;
      options?: Record<string, string>;
      offset: number;
      limit: number;
    };
    result: ExplainAllView;
  };
}

export type JobName = keyof JobTypes;
export type JobArgs<J extends JobName> = JobTypes[J]['args'];
export type JobResult<J extends JobName> = JobTypes[J]['result'];

/** Implementations of some jobs, as the worker's job runner collects them. */
export type JobHandlers<Names extends JobName> = { [J in Names]: (args: JobArgs<J>, ctx: JobContext) => Promise<JobResult<J>> };

/** Messages between ComputeClient and the worker process. */
export type ToWorker = { kind: 'call'; id: number; job: JobName; args: unknown } | { kind: 'cancel'; id: number };

export type FromWorker =
  | { kind: 'result'; id: number; result: unknown }
  | { kind: 'error'; id: number; message: string; name: string }
  | { kind: 'progress'; id: number; fraction: number; message: string };

/** What a job implementation receives besides its arguments. */
export interface JobContext {
  signal: AbortSignal;
  progress(fraction: number, message: string): void;
}
