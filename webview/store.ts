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
  /** Started by the host (a lens, a command), not by this view. */
  byHost?: boolean;
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
  /** The host's latest settings message, to tell a changed setting from the same settings sent again. */
  settings?: { colormap: string; opacity: number; method: string };
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
  /**
   * When each explain request started, as this view learnt of it (its own when sent, the host's on
   * 'started', one never announced when its response came): a result replaces the one shown for
   * its image only if its request started later, so a slow early run never covers a later one.
   */
  private order = 0;
  private readonly startedAt = new Map<string, number>();
  private readonly shownStartedAt = new Map<string, number>();
  /** Requests given up by the view (superseded): whatever the host still sends for them is dropped (a few ids per view). */
  private readonly abandoned = new Set<string>();
  /** Background requests in flight, and the explanations they gave. */
  private readonly background = new Set<string>();
  private readonly backgroundResults = new Set<string>();

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

  /** Whether an explanation came from a background request (one nobody clicked for). */
  inBackground(explanationId: string): boolean {
    return this.backgroundResults.has(explanationId);
  }

  shownExplanation(imageId = this.state.selectedImageId): ExplanationView | undefined {
    const id = imageId ? this.state.shownExplanation.get(imageId) : undefined;
    return id ? this.state.explanations.get(id) : undefined;
  }

  /**
   * Sends a request to the host and tracks it (progress, Cancel) until its response; returns its id.
   * A `background` request is one nobody clicked for (the first explanation): its result does not
   * pull the user to its tab (`inBackground`).
   */
  request<K extends RequestKind>(kind: K, params: RequestParams<K>, message: string, how?: { background?: boolean }): string {
    const requestId = newRequestId(kind);
    if (how?.background) this.background.add(requestId);
    this.startRequest(requestId, kind, message);
    post({ type: 'request', requestId, kind, params } as RequestMessage);
    return requestId;
  }

  private startRequest(id: string, kind: RequestKind, message: string, byHost = false): void {
    this.startedAt.set(id, ++this.order);
    const request: RunningRequest = byHost ? { id, kind, message, byHost } : { id, kind, message };
    this.update({ requests: new Map(this.state.requests).set(id, request), error: undefined, notice: undefined });
  }

  /**
   * Gives up a request of this view that another has made pointless (the first explanation, when
   * the user or the host started one): the host is asked to cancel it, it stops counting as running
   * at once, and its late response, cancellation or error is dropped without a word.
   */
  abandon(id: string): void {
    if (!this.state.requests.has(id)) return;
    this.abandoned.add(id);
    post({ type: 'cancel', requestId: id });
    this.finishRequest(id);
  }

  private finishRequest(id: string | undefined, extra: Partial<State> = {}): void {
    const requests = new Map(this.state.requests);
    if (id) {
      requests.delete(id);
      this.startedAt.delete(id);
      this.background.delete(id);
    }
    this.update({ requests, ...extra });
  }

  /** The reducer for host messages; unknown or malformed messages are ignored. */
  receive(message: HostToWebview): void {
    const s = this.state;
    if ('requestId' in message && message.requestId && this.abandoned.has(message.requestId)) return;
    switch (message.type) {
      case 'response':
        return this.receiveResponse(message);
      case 'started':
        // The host's own request (a lens, a command): running from now, as one of this view's would be.
        if (s.requests.has(message.requestId)) return;
        return this.startRequest(message.requestId, message.kind, message.message, true);
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
        // One never announced (a host request that ended before it began) cancels nothing the user saw.
        return this.finishRequest(message.requestId, s.requests.has(message.requestId) ? { notice: 'Cancelled.' } : {});
      case 'error':
        return this.finishRequest(message.requestId, { error: { message: message.message, requestId: message.requestId } });
      case 'settings': {
        // The same settings again (after a reopened model, or another setting changed) leave the
        // colormap and opacity the user chose in the view; a setting changed in VS Code applies.
        const before = s.settings;
        const settings = { colormap: message.colormap, opacity: message.opacity, method: message.method };
        return this.update({
          settings,
          colormap: isColormap(message.colormap) && message.colormap !== before?.colormap ? message.colormap : s.colormap,
          opacity: Number.isFinite(message.opacity) && message.opacity !== before?.opacity ? Math.min(1, Math.max(0, message.opacity)) : s.opacity,
          preferredMethod: message.method,
        });
      }
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
        if (this.background.has(message.requestId)) this.backgroundResults.add(message.result.id);
        return this.finishRequest(message.requestId, this.withExplanation(message.result, this.startedAt.get(message.requestId) ?? ++this.order));
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

  /**
   * The state with an explanation added (the explanations are the explain results), shown for its
   * image unless what is shown there came from a request started later.
   */
  private withExplanation(explanation: ExplanationView, startedAt: number): Partial<State> {
    const s = this.state;
    const explanations = new Map(s.explanations).set(explanation.id, explanation);
    if (startedAt < (this.shownStartedAt.get(explanation.imageId) ?? 0)) return { explanations };
    this.shownStartedAt.set(explanation.imageId, startedAt);
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
