// The webview's state: what the host has sent (model, images, predictions, explanations,
// activations), the requests in flight, and the user's display choices. Views subscribe and
// redraw the parts whose inputs changed.
import type {
  ActivationsView, AttentionView, DatasetFolderView, DatasetView, EffectiveFieldView, EmbeddingView, ExplanationView, GalleryView, HostToWebview,
  ImageView, ImportanceView, KernelsView, MarkCheckView, MarksFileView, MethodView, ModelView, NeighborsView, Prediction, ReceptiveFieldsView,
  RulesView, SanityCheckView,
} from '../src/protocol';
import { ColormapName, isColormap } from './colormap';

export type RequestKind =
  | 'explain' | 'compare' | 'activations'
  | 'dataset' | 'rules' | 'markCheck' | 'embedding' | 'neighbors' | 'importance'
  | 'fields' | 'effectiveField' | 'kernels' | 'gallery' | 'attention' | 'sanity';

export interface RunningRequest {
  id: string;
  kind: RequestKind;
  fraction?: number;
  message: string;
  cancelling?: boolean;
}

export interface CompareRun {
  requestId: string;
  imageId: string;
  methods: string[];
  explanationIds: string[];
}

export interface State {
  model?: ModelView;
  methods: MethodView[];
  images: ImageView[];
  selectedImageId?: string;
  predictions: Map<string, Prediction[]>;
  explanations: Map<string, ExplanationView>;
  /** The explanation shown for each image: the latest that is not part of a comparison. */
  shownExplanation: Map<string, string>;
  compare?: CompareRun;
  activations?: ActivationsView;
  requests: Map<string, RunningRequest>;
  error?: { message: string; requestId?: string };
  notice?: string;
  colormap: ColormapName;
  opacity: number;
  /** Method the host's settings name as the default. */
  preferredMethod?: string;
  /** Dataset tab: the folders offered, the dataset analysed and what was computed on it. */
  datasetFolders: DatasetFolderView[];
  chosenDatasetFolder?: string;
  dataset?: DatasetView;
  rules?: RulesView;
  /** A marks file the user picked for the dataset (else the mark check reads the dataset's own). */
  pickedMarks?: MarksFileView;
  markCheck?: MarkCheckView;
  embedding?: EmbeddingView;
  neighbors?: NeighborsView;
  importance?: ImportanceView;
  ablation?: ImportanceView;
  /** Inside tab. */
  fields?: ReceptiveFieldsView;
  effectiveField?: EffectiveFieldView;
  kernels?: KernelsView;
  gallery?: GalleryView;
  attention?: AttentionView;
  sanity?: SanityCheckView;
}

/** What was computed for a model or a dataset, dropped when a new one arrives. */
const DATASET_RESULTS = { rules: undefined, pickedMarks: undefined, markCheck: undefined, embedding: undefined, neighbors: undefined, importance: undefined, ablation: undefined };
const MODEL_RESULTS = { ...DATASET_RESULTS, dataset: undefined, fields: undefined, effectiveField: undefined, kernels: undefined, gallery: undefined, attention: undefined, sanity: undefined };

type Listener = (state: State) => void;

export function isRunning(s: State, ...kinds: RequestKind[]): boolean {
  return [...s.requests.values()].some((r) => kinds.includes(r.kind));
}

export class Store {
  state: State;
  private readonly listeners: Listener[] = [];

  constructor(initial: Partial<State> = {}) {
    this.state = {
      methods: [], images: [], predictions: new Map(), explanations: new Map(), shownExplanation: new Map(),
      requests: new Map(), colormap: 'viridis', opacity: 0.5, datasetFolders: [], ...initial,
    };
  }

  subscribe(listener: Listener): void {
    this.listeners.push(listener);
    listener(this.state);
  }

  /** Applies a change (a new state object; changed collections replaced, not mutated) and notifies. */
  update(change: Partial<State>): void {
    this.state = { ...this.state, ...change };
    for (const listener of this.listeners) listener(this.state);
  }

  selectedImage(): ImageView | undefined {
    return this.state.images.find((i) => i.id === this.state.selectedImageId);
  }

  shownExplanation(imageId = this.state.selectedImageId): ExplanationView | undefined {
    const id = imageId ? this.state.shownExplanation.get(imageId) : undefined;
    return id ? this.state.explanations.get(id) : undefined;
  }

  startRequest(id: string, kind: RequestKind, message: string): void {
    this.update({ requests: new Map(this.state.requests).set(id, { id, kind, message }), error: undefined, notice: undefined });
  }

  private finishRequest(id: string | undefined, extra: Partial<State> = {}): void {
    const requests = new Map(this.state.requests);
    if (id) requests.delete(id);
    this.update({ requests, ...extra });
  }

  /** The reducer for host messages; unknown or malformed messages are ignored. */
  receive(message: HostToWebview): void {
    const s = this.state;
    switch (message.type) {
      case 'model':
        // A model (another, or the same one reopened in the worker): what was computed before is gone.
        return this.update({ model: message.model, methods: message.methods, ...MODEL_RESULTS });
      case 'images': {
        const selectedImageId = message.selected ?? (message.images.some((i) => i.id === s.selectedImageId) ? s.selectedImageId : message.images[0]?.id);
        return this.update({ images: message.images, selectedImageId });
      }
      case 'prediction':
        return this.update({ predictions: new Map(s.predictions).set(message.imageId, message.top) });
      case 'explanation':
        return this.receiveExplanation(message.requestId, message.explanation);
      case 'activations':
        return this.finishRequest(message.activations.requestId, { activations: message.activations });
      case 'progress': {
        const running = s.requests.get(message.requestId);
        if (!running) return;
        const requests = new Map(s.requests).set(message.requestId, { ...running, fraction: message.fraction, message: message.message });
        return this.update({ requests });
      }
      case 'done':
        return this.finishRequest(message.requestId);
      case 'cancelled':
        return this.finishRequest(message.requestId, { notice: 'Cancelled.' });
      case 'error':
        return this.finishRequest(message.requestId, { error: { message: message.message, requestId: message.requestId } });
      case 'settings':
        return this.update({
          colormap: isColormap(message.colormap) ? message.colormap : s.colormap,
          opacity: Number.isFinite(message.opacity) ? Math.min(1, Math.max(0, message.opacity)) : s.opacity,
          preferredMethod: message.method,
        });
      case 'datasetFolders':
        return this.update({ datasetFolders: message.folders, chosenDatasetFolder: message.chosen ?? s.chosenDatasetFolder });
      case 'dataset':
        return this.finishRequest(message.requestId, { dataset: message.dataset, ...DATASET_RESULTS });
      case 'datasetRules':
        return this.finishRequest(message.requestId, { rules: message.rules });
      case 'datasetMarks':
        return this.update({ pickedMarks: message.marks, markCheck: undefined });
      case 'datasetMarkCheck':
        return this.finishRequest(message.requestId, { markCheck: message.check });
      case 'datasetEmbedding':
        return this.finishRequest(message.requestId, { embedding: message.embedding });
      case 'datasetNeighbors':
        return this.finishRequest(message.requestId, { neighbors: message.neighbors });
      case 'datasetImportance':
        return this.finishRequest(message.requestId, message.importance.method === 'ablation'
          ? { ablation: message.importance }
          : { importance: message.importance, ablation: undefined });
      case 'receptiveFields':
        return this.finishRequest(message.requestId, { fields: message.fields });
      case 'effectiveField':
        return this.finishRequest(message.requestId, { effectiveField: message.field });
      case 'kernels':
        return this.finishRequest(message.requestId, { kernels: message.kernels });
      case 'featureGallery':
        return this.finishRequest(message.requestId, { gallery: message.gallery });
      case 'attention':
        return this.finishRequest(message.requestId, { attention: message.attention });
      case 'sanityCheck':
        return this.finishRequest(message.requestId, { sanity: message.result });
    }
  }

  private receiveExplanation(requestId: string, explanation: ExplanationView): void {
    const s = this.state;
    const explanations = new Map(s.explanations).set(explanation.id, explanation);
    if (s.compare?.requestId === requestId) {
      const compare = { ...s.compare, explanationIds: [...s.compare.explanationIds, explanation.id] };
      return this.update({ explanations, compare });
    }
    const shownExplanation = new Map(s.shownExplanation).set(explanation.imageId, explanation.id);
    // An explanation completes an 'explain' request; a comparison ends with 'done'.
    const requests = new Map(s.requests);
    if (requests.get(requestId)?.kind === 'explain') requests.delete(requestId);
    this.update({ explanations, shownExplanation, requests });
  }
}

const HOST_TYPES = new Set([
  'model', 'images', 'prediction', 'explanation', 'activations', 'progress', 'done', 'cancelled', 'error', 'settings',
  'datasetFolders', 'dataset', 'datasetRules', 'datasetMarks', 'datasetMarkCheck', 'datasetEmbedding', 'datasetNeighbors', 'datasetImportance',
  'receptiveFields', 'effectiveField', 'kernels', 'featureGallery', 'attention', 'sanityCheck',
]);

/** The message if it looks like a HostToWebview message (the host is trusted; this guards against stray posts). */
export function asHostMessage(data: unknown): HostToWebview | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const type = (data as { type?: unknown }).type;
  return typeof type === 'string' && HOST_TYPES.has(type) ? (data as HostToWebview) : undefined;
}
