// The webview's state: what the host has sent (model, images, predictions, explanations,
// activations), the requests in flight, and the user's display choices. Views subscribe and
// redraw the parts whose inputs changed.
import type {
  DatasetFolderView,
  ExplanationView,
  HostToWebview,
  ImageView,
  ImportanceView,
  MarksFileView,
  MethodView,
  ModelView,
  Prediction,
  RequestKind,
  RequestMessage,
  RequestParams,
  RequestResult,
  ResponseMessage,
} from '../src/protocol';
import { ColormapName, isColormap } from './colormap';
import { newRequestId, post } from './host';

export type { RequestKind } from '../src/protocol';

/** The latest result of each kind of request, under the kind's name. */
export type Results = { [K in RequestKind]?: RequestResult<K> };

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
  results: Results;
  requests: Map<string, RunningRequest>;
  error?: { message: string; requestId?: string };
  notice?: string;
  colormap: ColormapName;
  opacity: number;
  /** Method the host's settings name as the default. */
  preferredMethod?: string;
  /** Dataset tab: the folders offered and the marks file the user picked (else the mark check reads the dataset's own). */
  datasetFolders: DatasetFolderView[];
  chosenDatasetFolder?: string;
  pickedMarks?: MarksFileView;
  /** "Explain all": the folders of workspace images offered, and the one just picked. */
  galleryFolders: DatasetFolderView[];
  chosenGalleryFolder?: string;
  /** The ablation of chosen channels: a datasetImportance result kept beside the ranking it refines. */
  ablation?: ImportanceView;
  /** The layer (node name) the user picked in the Graph tab. */
  selectedLayer?: string;
  /** A channel the user picked in one section (a rule's, the mark check's): every section that shows channels follows it. */
  focusChannel?: { layer: string; channel: number };
}

/** Results that belong to a dataset, dropped when another is extracted (a new model drops every result). */
const DATASET_KINDS: RequestKind[] = [
  'datasetRules',
  'datasetMarkCheck',
  'datasetNeighbors',
  'datasetImportance',
  'datasetMap',
  'datasetChannelValues',
  'datasetErrors',
  'datasetSlice',
  'datasetChannelPositions',
];

type Listener = (state: State) => void;

export function isRunning(s: State, ...kinds: RequestKind[]): boolean {
  return [...s.requests.values()].some((r) => kinds.includes(r.kind));
}

export class Store {
  state: State;
  private readonly listeners: Listener[] = [];

  constructor(initial: Partial<State> = {}) {
    this.state = {
      methods: [],
      images: [],
      predictions: new Map(),
      explanations: new Map(),
      shownExplanation: new Map(),
      requests: new Map(),
      results: {},
      colormap: 'viridis',
      opacity: 0.5,
      datasetFolders: [],
      galleryFolders: [],
      ...initial,
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

  /** Sends a request to the host and tracks it (progress, Cancel) until its response; returns its id. */
  request<K extends RequestKind>(kind: K, params: RequestParams<K>, message: string): string {
    const requestId = newRequestId(kind);
    this.startRequest(requestId, kind, message);
    post({ type: 'request', requestId, kind, params } as RequestMessage);
    return requestId;
  }

  private startRequest(id: string, kind: RequestKind, message: string): void {
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
      case 'response':
        return this.receiveResponse(message);
      case 'model':
        // A model (another, or the same one reopened in the worker): what was computed before is gone.
        return this.update({ model: message.model, methods: message.methods, results: {}, pickedMarks: undefined, ablation: undefined });
      case 'images': {
        const selectedImageId = message.selected ?? (message.images.some((i) => i.id === s.selectedImageId) ? s.selectedImageId : message.images[0]?.id);
        return this.update({ images: message.images, selectedImageId });
      }
      case 'prediction':
        return this.update({ predictions: new Map(s.predictions).set(message.imageId, message.top) });
      case 'compared':
        return this.receiveCompared(message.requestId, message.explanation);
      case 'progress': {
        const running = s.requests.get(message.requestId);
        if (!running) return;
        const requests = new Map(s.requests).set(message.requestId, { ...running, fraction: message.fraction, message: message.message });
        return this.update({ requests });
      }
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
      case 'datasetMarks':
        return this.update({ pickedMarks: message.marks, results: { ...s.results, datasetMarkCheck: undefined } });
      case 'galleryFolders':
        return this.update({ galleryFolders: message.folders, chosenGalleryFolder: message.chosen ?? s.chosenGalleryFolder });
    }
  }

  /** A response ends its request (also one the host started itself) and becomes the result of its kind. */
  private receiveResponse(message: ResponseMessage): void {
    const s = this.state;
    switch (message.kind) {
      case 'explain':
        return this.finishRequest(message.requestId, this.withExplanation(message.result));
      case 'compare': {
        // Explanations that came with 'compared' are in already; the response lists them all.
        let change: Partial<State> = {};
        for (const e of message.result) if (!s.explanations.has(e.id)) change = { ...change, ...this.withCompared(message.requestId, e, change) };
        return this.finishRequest(message.requestId, change);
      }
      case 'datasetFeatures': {
        const results: Results = { ...s.results, datasetFeatures: message.result };
        for (const kind of DATASET_KINDS) delete results[kind];
        return this.finishRequest(message.requestId, { results, pickedMarks: undefined, ablation: undefined });
      }
      case 'datasetImportance':
        if (message.result.method === 'ablation') return this.finishRequest(message.requestId, { ablation: message.result });
        return this.finishRequest(message.requestId, { results: { ...s.results, datasetImportance: message.result }, ablation: undefined });
      default:
        return this.finishRequest(message.requestId, { results: { ...s.results, [message.kind]: message.result } });
    }
  }

  /** The state with an explanation added and shown for its image (the explanations are the explain results). */
  private withExplanation(explanation: ExplanationView): Partial<State> {
    const s = this.state;
    const explanations = new Map(s.explanations).set(explanation.id, explanation);
    return { explanations, shownExplanation: new Map(s.shownExplanation).set(explanation.imageId, explanation.id) };
  }

  private withCompared(requestId: string, explanation: ExplanationView, pending: Partial<State> = {}): Partial<State> {
    const s = { ...this.state, ...pending };
    const explanations = new Map(s.explanations).set(explanation.id, explanation);
    if (s.compare?.requestId !== requestId) return { explanations };
    return { explanations, compare: { ...s.compare, explanationIds: [...s.compare.explanationIds, explanation.id] } };
  }

  private receiveCompared(requestId: string, explanation: ExplanationView): void {
    this.update(this.withCompared(requestId, explanation));
  }
}
