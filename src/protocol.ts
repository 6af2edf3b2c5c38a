// The one message protocol between the extension host and the webviews (model panel and side
// view). Both sides import these types; the host validates every incoming message with
// parseWebviewMessage before acting on it.

/** Which output element an explanation explains. */
export type TargetSpec =
  | { kind: 'top' }
  | { kind: 'class'; index: number }
  | { kind: 'difference'; a: number; b: number };

export interface TensorSummary {
  name: string;
  dtype: string;
  shape: (number | string)[];
}

export interface LayerView {
  name: string;
  opType: string;
  tensor: string;
  shape?: number[];
  scope?: string;
  /** Source stack trace the exporter put in the node's metadata, when it did. */
  sourceTrace?: string;
  /** Whether the training code that defined this layer was found in the workspace. */
  hasSource?: boolean;
}

export interface ModelView {
  name: string;
  path: string;
  producer: string;
  opset: number;
  inputs: TensorSummary[];
  outputs: TensorSummary[];
  parameterCount: number;
  opHistogram: Record<string, number>;
  layers: LayerView[];
  provider: { name: 'cuda' | 'cpu'; reason: string };
  preprocessing: { description: string; source: string };
  /** Layers gradients cannot reach, with the reason (an op without a gradient rule). */
  gradientProblem?: string;
  /** Layer 'auto' resolves to for CAM methods. */
  defaultCamLayer?: string;
}

export interface MethodView {
  name: string;
  title: string;
  kind: 'cam' | 'gradient' | 'perturbation';
  needsGradients: boolean;
  formula: string;
}

export interface ImageView {
  id: string;
  name: string;
  width: number;
  height: number;
  /** The image as the model sees it (after resize), PNG data URL. */
  dataUrl: string;
}

export interface Prediction {
  index: number;
  label: string;
  logit: number;
  probability: number;
}

/** A map at input resolution, values in [0,1] (signed maps in [-1,1] when `signed`). */
export interface MapData {
  width: number;
  height: number;
  values: number[];
  signed?: boolean;
}

export interface ExplanationView {
  id: string;
  imageId: string;
  method: string;
  layer?: string;
  target: TargetSpec;
  targetLabel: string;
  map: MapData;
  notes: string[];
  seconds: number;
  faithfulness?: { deletionAuc: number; insertionAuc: number; pointingGame?: boolean };
}

export interface ChannelView {
  index: number;
  mean: number;
  max: number;
  zeroFraction: number;
  dead: boolean;
  /** Grad-CAM weight of the channel for the current target, when gradients are available. */
  gradcamWeight?: number;
  /** The channel's activation as a map in [0,1] (thumbnail resolution). */
  map: MapData;
}

export interface ActivationsView {
  requestId: string;
  imageId: string;
  layer: string;
  shape: number[];
  channels: ChannelView[];
}

export type HostToWebview =
  | { type: 'model'; model: ModelView; methods: MethodView[] }
  | { type: 'images'; images: ImageView[]; selected?: string }
  | { type: 'prediction'; imageId: string; top: Prediction[] }
  | { type: 'explanation'; requestId: string; explanation: ExplanationView }
  | { type: 'activations'; activations: ActivationsView }
  | { type: 'progress'; requestId: string; fraction: number; message: string }
  | { type: 'done'; requestId: string }
  | { type: 'cancelled'; requestId: string }
  | { type: 'error'; requestId?: string; message: string }
  | { type: 'settings'; colormap: string; opacity: number; method: string };

export type WebviewToHost =
  | { type: 'ready' }
  | { type: 'pickImages' }
  | { type: 'dropImages'; files: { name: string; base64: string }[] }
  | { type: 'selectImage'; imageId: string }
  | { type: 'explain'; requestId: string; imageId: string; method: string; layer: string; target: TargetSpec }
  | { type: 'compare'; requestId: string; imageId: string; methods: string[]; layer: string; target: TargetSpec }
  | { type: 'activations'; requestId: string; imageId: string; layer: string; target: TargetSpec }
  | { type: 'cancel'; requestId: string }
  | { type: 'export'; explanationId: string; format: 'png' | 'npy' }
  | { type: 'openSource'; layer: string };

const MAX_DROPPED_BYTES = 64 * 1024 * 1024;

type Check = (v: unknown) => boolean;
const isString: Check = (v) => typeof v === 'string' && v.length <= 4096;
const isId: Check = (v) => typeof v === 'string' && /^[\w.:-]{1,128}$/.test(v);
// Method names are CLI names such as 'gradcam++'.
const isMethod: Check = (v) => typeof v === 'string' && /^[\w.:+-]{1,128}$/.test(v);
const isIndex: Check = (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) < 1e7;

function isTarget(v: unknown): v is TargetSpec {
  if (typeof v !== 'object' || v === null) return false;
  const t = v as Record<string, unknown>;
  switch (t.kind) {
    case 'top': return true;
    case 'class': return isIndex(t.index);
    case 'difference': return isIndex(t.a) && isIndex(t.b);
    default: return false;
  }
}

function isDroppedFiles(v: unknown): boolean {
  if (!Array.isArray(v) || v.length === 0 || v.length > 64) return false;
  let total = 0;
  return v.every((f) => {
    if (typeof f !== 'object' || f === null) return false;
    const { name, base64 } = f as Record<string, unknown>;
    if (!isString(name) || typeof base64 !== 'string') return false;
    total += base64.length;
    return total <= MAX_DROPPED_BYTES * 1.4;
  });
}

const FIELDS: { [K in WebviewToHost['type']]: Record<string, Check> } = {
  ready: {},
  pickImages: {},
  dropImages: { files: isDroppedFiles },
  selectImage: { imageId: isId },
  explain: { requestId: isId, imageId: isId, method: isMethod, layer: isString, target: isTarget },
  compare: {
    requestId: isId, imageId: isId, layer: isString, target: isTarget,
    methods: (v) => Array.isArray(v) && v.length > 0 && v.length <= 20 && v.every(isMethod),
  },
  activations: { requestId: isId, imageId: isId, layer: isString, target: isTarget },
  cancel: { requestId: isId },
  export: { explanationId: isId, format: (v) => v === 'png' || v === 'npy' },
  openSource: { layer: isString },
};

/** The message if it is a well-formed WebviewToHost message, else undefined. */
export function parseWebviewMessage(message: unknown): WebviewToHost | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const m = message as Record<string, unknown>;
  const fields = Object.prototype.hasOwnProperty.call(FIELDS, m.type as string) ? FIELDS[m.type as WebviewToHost['type']] : undefined;
  if (!fields) return undefined;
  for (const [key, check] of Object.entries(fields)) if (!check(m[key])) return undefined;
  return message as WebviewToHost;
}
