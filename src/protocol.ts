// The one message protocol between the extension host and the webviews (model panel and side
// view). Both sides import these types; the host validates every incoming message with
// parseWebviewMessage before acting on it.
import type { MethodInfo } from './core/explain/method-info';
import type { PreprocessSpec } from './core/preprocess';

/**
 * What an explanation explains, as the core's Target (src/core/explain/types.ts) with data a view
 * can send: a drawn mask as its values, a reference image by its id. `output` names the model
 * output (default: the first).
 */
export type TargetSpec =
  | { kind: 'top' }
  | { kind: 'class'; index: number; output?: string }
  | { kind: 'difference'; a: number; b: number; output?: string }
  | { kind: 'probability'; index: number | 'top'; output?: string }
  | { kind: 'region'; class: number; mask: 'predicted' | MaskData; output?: string }
  | { kind: 'box'; index: number; boxes?: string; iou?: number; minScore?: number; sigmoid?: boolean; output?: string }
  | { kind: 'similarity'; imageId: string; output?: string }
  | { kind: 'element'; index: number[]; output: string };

/** A mask at the output's resolution, row-major, values in [0, 1]. */
export interface MaskData {
  width: number;
  height: number;
  values: number[];
}

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
  /** Where the model runs, why there, and the threads onnxruntime runs each op with. */
  provider: { name: 'cuda' | 'cpu'; reason: string; threads: number };
  /** `spec`: what images go through, when it could be worked out (the host writes it into "copy as code"). */
  preprocessing: { description: string; source: string; spec?: PreprocessSpec };
  /** Layers gradients cannot reach, with the reason (an op without a gradient rule). */
  gradientProblem?: string;
  /** Layer 'auto' resolves to for CAM methods. */
  defaultCamLayer?: string;
}

/**
 * What the views know of an explanation method: its descriptor (src/core/explain/types.ts) less
 * the code and the paper reference, picked by methodView there. The Explain tab shows the Layer
 * picker for methods with `usesLayer` and an option control per OptionSpec.
 */
export type MethodView = MethodInfo;

export interface ImageView {
  id: string;
  name: string;
  width: number;
  height: number;
  /** The image as the model sees it (after resize), PNG data URL. */
  dataUrl: string;
  /** Where the image came from, relative to the workspace (thumbnails are grouped by it). */
  folder?: string;
  /**
   * A signal input [1, C, L] (a .npy or WAV for a 1-D model): the values of its first four
   * channels (those the figure draws), channel after channel, rounded to 1e-4 (`dataUrl` is then
   * a small picture of its first channel). Width is L, height 1.
   */
  signal?: { channels: number; length: number; values: number[] };
  /** A video input [1, C, T, H, W]: its T frames as PNG data URLs (min–max scaled over the clip; `dataUrl` is the first). */
  frames?: string[];
}

export interface Prediction {
  index: number;
  label: string;
  logit: number;
  probability: number;
}

/** One class of a segmentation output: its pixels predicted (argmax) and their share of the mask. */
export interface SegmentClassView {
  index: number;
  label: string;
  pixels: number;
  share: number;
}

/** One box kept by NMS: `index` is its box:I target (highest score first); corners in the input's pixels. */
export interface DetectionView {
  index: number;
  class: number;
  label: string;
  score: number;
  box: [number, number, number, number];
}

/**
 * A model's structured outputs for one image (taskOutputs): the predicted mask of a segmentation
 * output [N, C, H, W], or the boxes a detector's head gives after NMS, with what the panel needs to
 * explain them (the output and options its region and box targets name). `space` is the input's
 * [width, height]: box corners are in its pixels, the mask is `width`×`height` over the same image.
 */
export type TaskOutputsView =
  | { kind: 'none'; imageId: string; note: string }
  | { kind: 'segmentation'; imageId: string; output: string; width: number; height: number; classIds: number[]; classes: SegmentClassView[]; notes: string[] }
  | {
      kind: 'detection';
      imageId: string;
      /** The output box targets name (the raw head, also when the model runs its own NMS after it) and the separate boxes output. */
      output: string;
      boxes?: string;
      sigmoid: boolean;
      iou: number;
      minScore: number;
      space: [number, number];
      detections: DetectionView[];
      /** The model's own NMS: the raw head is explained, before it. */
      ownNms: boolean;
      notes: string[];
    };

/**
 * A map at input resolution, values in [0,1] (signed maps in [-1,1] when `signed`). A picture's
 * map is one plane, `height` rows of `width`, and has no `shape`. A signal's map has `shape` [L]
 * (width L, height 1); a video's has `shape` [T, H, W] (frames of `height` × `width`, one after
 * the other). The values are always row-major in that shape.
 */
export interface MapData {
  width: number;
  height: number;
  values: number[];
  signed?: boolean;
  shape?: number[];
}

/** Whether a map's fields agree with each other: the values fill its shape (or its plane), width and height are its last axes. */
export function isMapData(v: unknown): v is MapData {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  if (!inRange(1, 1 << 24)(m.width) || !inRange(1, 1 << 24)(m.height) || !Array.isArray(m.values) || !optional((b) => typeof b === 'boolean')(m.signed)) return false;
  const shape = m.shape === undefined ? [m.height as number, m.width as number] : m.shape;
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > 3 || !shape.every(inRange(1, 1 << 24))) return false;
  const dims = shape as number[];
  const [height, width] = dims.length === 1 ? [1, dims[0]] : dims.slice(-2);
  return width === m.width && height === m.height && dims.reduce((a, b) => a * b, 1) === m.values.length && m.values.every((x) => typeof x === 'number');
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

/** A folder the Dataset tab can analyse (ImageFolder layout: <folder>/<class>/<image>). */
export interface DatasetFolderView {
  path: string;
  /** The folder relative to its workspace folder (or its full path when picked from outside). */
  label: string;
  /** Images found under it by the workspace search, when it was found that way. */
  images?: number;
}

export interface DatasetImageView {
  /** Path relative to the dataset folder, '/' separated: the image's name. */
  relPath: string;
  /** Folder label, when the image is in a folder. */
  labelName?: string;
  /** Index of the folder label among the model's classes. */
  label?: number;
  prediction: number;
  /** Softmax probability of the prediction. */
  confidence: number;
  /** The image as the model sees it, small (PNG data URL); absent for large datasets. */
  thumbnail?: string;
}

export interface DatasetView {
  folder: string;
  /** Tensor whose channels are pooled. */
  layer: string;
  /** That layer's output for one image, [C, H, W]. */
  layerShape: number[];
  /** Tensor the classifier head reads: the feature space of maps and neighbours. */
  penultimate: string;
  /** Model input [height, width]: the pixel space of patch boxes. */
  inputSize: [number, number];
  classNames: string[];
  images: DatasetImageView[];
  classes: { name: string; labelled: number; predicted: number; correct: number }[];
  /** Share of labelled images predicted as their label; absent without labels. */
  accuracy?: number;
  /** confusion[label][prediction] over labelled images. */
  confusion: number[][];
  unlabelled: number;
  cache: { computed: number; cached: number; modelRuns: number; stored: boolean };
  skipped: { relPath: string; reason: string }[];
  /** The dataset's own marks file (boxes.json at its root) when it lists marked images of the dataset. */
  marks?: { file: string; marked: number };
}

/** A marks file the mark check may read: the dataset's own or one the user picked. */
export interface MarksFileView {
  path: string;
  /** The file relative to its workspace folder (or its full path when picked from outside). */
  label: string;
}

/**
 * Which channels respond to a mark planted in some images (src/core/dataset/shortcut.ts): each
 * marked image is run again with the mark painted over, and a channel's effect is the mean drop of
 * its pooled activation in standard deviations of that channel over the dataset.
 */
export interface MarkCheckView {
  /** The marks file's name. */
  file: string;
  layer: string;
  pooling: 'mean' | 'max';
  /** Images the file lists as marked. */
  listed: number;
  /** Of those, the images of the dataset: the ones measured. */
  images: number;
  /** Effect from which a channel counts as a mark channel. */
  minEffect: number;
  /** Channels with effect ≥ minEffect, strongest first. */
  markChannels: number[];
  /** The strongest responses, strongest first. */
  channels: { channel: number; withMark: number; withoutMark: number; effect: number }[];
  /** Marked images whose predicted class changes when the mark is removed. */
  predictionChanges: { relPath: string; withMark: string; withoutMark: string }[];
}

export interface RuleView {
  text: string;
  conditions: { channel: number; op: '<=' | '>'; threshold: number }[];
  classIndex: number;
  className: string;
  /** Share of all images the rule covers. */
  coverage: number;
  /** Share of the covered images the network assigns to the rule's class. */
  purity: number;
  all: { images: number; agree: number };
  /** On the held-out images. */
  test: { images: number; agree: number };
}

/** Where a channel fires most across the dataset: the input patch under its peak and its map. */
export interface PatchView {
  relPath: string;
  labelName?: string;
  predictionName: string;
  /** Peak activation of the channel on the image. */
  activation: number;
  /** [x0, y0, x1, y1] in model input pixels (exclusive ends): the peak's receptive field. */
  box: [number, number, number, number];
  /** The patch, PNG data URL. */
  crop: string;
  /** The whole image as the model sees it, PNG data URL. */
  image: string;
  /** The channel's activation on the image, scaled by the channel's peak over the shown patches. */
  map: MapData;
}

export interface ChannelExemplarView {
  channel: number;
  patches: PatchView[];
  /** Why patches are whole images (the layer's receptive field could not be derived). */
  fieldProblem?: string;
}

export interface RulesView {
  layer: string;
  pooling: 'mean' | 'max';
  depth: number;
  minLeaf: number;
  trainImages: number;
  testImages: number;
  /** Agreement of the rules with the network on training and held-out images. */
  fidelity: { train: number; test: number };
  /** Against folder labels on the held-out images (labelled datasets). */
  accuracy?: { tree: number; network: number };
  /** Most images first. */
  rules: RuleView[];
  /** The channels the rules test, with their top patches. */
  channels: ChannelExemplarView[];
  /** The rules as text (what "Export text" saves). */
  text: string;
}

/**
 * The feature map for many points: one entry per image in DatasetView.images order, as base64 of
 * little-endian typed arrays (a few bytes a point instead of an object per point).
 */
export interface DatasetMapView {
  method: 'pca' | 'umap';
  space: string;
  count: number;
  /** Float32 x, y interleaved. */
  xy: string;
  /** Uint16 folder label index; NO_LABEL for an image without one. */
  labels: string;
  /** Uint16 predicted class index. */
  predictions: string;
  /** Uint8 round(255 × softmax probability of the prediction). */
  confidence: string;
  explainedVarianceRatio?: [number, number];
  misclassified: number;
  /** How the map was made when not by the plain method on every image (UMAP on a large dataset). */
  note?: string;
}

/** Label index of an image without a folder label in DatasetMapView.labels. */
export const NO_LABEL = 0xffff;

/** One channel's pooled activation per image (colouring the map by a channel). */
export interface ChannelValuesView {
  channel: number;
  pooling: 'mean' | 'max';
  /** Uint8 round(255 × value / max) per image, base64. */
  values: string;
  max: number;
}

/** Confusion, most confused pairs and clusters of errors in the map (src/core/dataset/error-analysis.ts). */
export interface ErrorAnalysisView {
  classNames: string[];
  /** confusion[label][prediction]. */
  confusion: number[][];
  pairs: { label: number; prediction: number; count: number; shareOfLabel: number }[];
  /** Clusters of misclassified images in the map of `method`, largest first. */
  method: 'pca' | 'umap';
  radiusShare: number;
  clusters: { members: number[]; centroid: [number, number]; label: number; prediction: number; pairCount: number }[];
}

/** What a slice keeps; every field given must hold. */
export interface SliceFilterSpec {
  label?: number;
  prediction?: number;
  confidenceMin?: number;
  confidenceMax?: number;
  correctness?: 'correct' | 'wrong';
  /** Index into the last distilled rules. */
  rule?: number;
  /** Indices into DatasetView.images (a lasso selection or an error cluster). */
  images?: number[];
}

export interface SliceImageView {
  /** Index into DatasetView.images. */
  index: number;
  relPath: string;
  labelName?: string;
  predictionName: string;
  confidence: number;
  /** The image as the model sees it, 64 pixels at most (PNG data URL). */
  thumbnail: string;
}

/** One page of a slice of the dataset. */
export interface SliceView {
  total: number;
  offset: number;
  images: SliceImageView[];
}

/** Where each channel fires across the dataset (src/core/dataset/channel-positions.ts). */
export interface ChannelPositionsView {
  layer: string;
  grid: number;
  topShare: number;
  shortcutShare: number;
  channels: { channel: number; counts: number[]; images: number; peakShare: number; where: string; likelyShortcut: boolean }[];
  /** Why max pooling is worth a try, when the last rules were mean-pooled and weak. */
  poolingSuggestion?: string;
}

export interface NeighborView {
  /** Index into DatasetView.images. */
  image: number;
  relPath: string;
  /** Cosine: 1 − similarity; Euclidean: the distance. */
  distance: number;
  labelName?: string;
  predictionName: string;
}

export interface NeighborsView {
  imageId: string;
  metric: 'cosine' | 'euclidean';
  space: string;
  predictionName: string;
  neighbors: NeighborView[];
}

export interface ImportanceView {
  layer: string;
  classIndex: number;
  className: string;
  method: 'gradient-x-activation' | 'ablation';
  formula: string;
  /** Images averaged over. */
  images: number;
  /** Highest score first. */
  channels: { channel: number; score: number }[];
}

export interface ReceptiveFieldView {
  tensor: string;
  node: string;
  opType: string;
  /** [height, width] in input pixels. */
  size: [number, number];
  jump: [number, number];
  start: [number, number];
  /** Computed after a global pooling: sees the whole input. */
  global: boolean;
}

export interface ReceptiveFieldsView {
  inputSize: [number, number];
  fields: ReceptiveFieldView[];
  unresolved: { tensor: string; node: string; opType: string; reason: string }[];
}

export interface EffectiveFieldView {
  layer: string;
  /** The unit whose field it is, [y, x] on the layer's grid. */
  unit: [number, number];
  /** |∂ unit / ∂ input| summed over channels, in [0, 1], at input resolution. */
  map: MapData;
  /** Input pixels holding `massFraction` of the gradient. */
  area: number;
  side: number;
  massFraction: number;
  /** [y0, x0, y1, x1] (exclusive ends) of those pixels. */
  box: [number, number, number, number];
  /** The theoretical field, when the recurrence describes the layer. */
  theoretical?: [number, number];
}

export interface KernelsView {
  node: string;
  weight: string;
  count: number;
  inChannels: number;
  kernelSize: [number, number];
  rgb: boolean;
  /** All kernels in a grid, each min-max scaled, PNG data URL. */
  montage: string;
  montageSize: [number, number];
}

export interface GalleryView {
  layer: string;
  steps: number;
  /** Of the images, those read from the cache. */
  cached: number;
  items: { channel: number; activation: number; image: string }[];
}

export interface AttentionLayerView {
  tensor: string;
  node: string;
  heads: number;
  tokens: number;
  /** The query's attention over the patch grid, per head, in [0, 1]. */
  headMaps: MapData[];
  /** Mean over heads. */
  mean: MapData;
}

export interface AttentionView {
  imageId: string;
  /** Empty when the model has no self-attention (then `message` says so). */
  layers: AttentionLayerView[];
  rollout?: MapData;
  grid?: { prefix: number; rows: number; cols: number };
  /** Which query row is shown: the first (CLS) token, or the mean over queries without a prefix token. */
  query?: 'cls' | 'mean';
  message?: string;
}

export interface SanityCheckView {
  method: string;
  imageId: string;
  /** One point per step: the top k weighted layers random (output side first). */
  steps: { layer: string; spearman: number; signedSpearman: number; ssim: number }[];
  threshold: number;
  finalSpearman: number;
  passed: boolean;
  verdict: string;
  notes: string[];
  /** The trained model's map and the map with every layer random, in [0, 1]. */
  original: MapData;
  randomized: MapData;
}

/** One card of the "Explain all" gallery: an image of the folder with its explanation, small. */
export interface GalleryCardView {
  /** Place in the folder's listing (images sorted by relative path). */
  index: number;
  /** Path relative to the folder, '/' separated. */
  relPath: string;
  /** The image as the model sees it, at most 64 pixels a side (PNG data URL); '' for an input without a picture. */
  image: string;
  /** The map, downsampled (antialiased) to at most 32 values a side. */
  map?: MapData;
  /** The model's top class and its softmax probability. */
  prediction?: { index: number; label: string; probability: number };
  /** Why the image has no explanation. */
  error?: string;
}

/** One page of "Explain all": the images [offset, offset + cards.length) of the folder. */
export interface ExplainAllView {
  folder: string;
  method: string;
  /** The layer the CAM methods resolved 'auto' to. */
  layer?: string;
  /** Images in the folder. */
  total: number;
  offset: number;
  cards: GalleryCardView[];
  /** Time the page took. */
  seconds: number;
}

import type { GraphView } from './core/graph/types';
export type { GraphNodeView, GraphView, NodeStatsView } from './core/graph/types';

// ---------------------------------------------------------------------------------------------
// Messages. A request from a view is one envelope, { type: 'request', requestId, kind, params };
// the host answers it with progress, then exactly one of response (carrying the result),
// cancelled or error. Each kind is one entry of REQUESTS below: its params validator (checked on
// every incoming message) and, in its type, the params and result. Where one worker job serves a
// kind, the kind is the job's name (src/compute/jobs.ts), and the webview keeps the result
// under that name too.

type Check = (v: unknown) => boolean;
const isString: Check = (v) => typeof v === 'string' && v.length <= 4096;
const isId: Check = (v) => typeof v === 'string' && /^[\w.:-]{1,128}$/.test(v);
// Method names are CLI names such as 'gradcam++'.
const isMethod: Check = (v) => typeof v === 'string' && /^[\w.:+-]{1,128}$/.test(v);
const isIndex: Check = (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) < 1e7;
const inRange =
  (min: number, max: number): Check =>
  (v) =>
    Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
const oneOf =
  (...values: string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v);
const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined || check(v);
// A path relative to the dataset folder: no absolute paths, no '..' segments, no NUL (the host checks it again).
const isRelativePath: Check = (v) =>
  isString(v) && (v as string).length > 0 && !/^([\\/]|[A-Za-z]:)/.test(v as string) && !(v as string).split(/[\\/]/).includes('..') && !(v as string).includes('\0');
// A file the host offered: an absolute path without NUL (the host checks it is the one it offered).
const isAbsolutePath: Check = (v) => isString(v) && /^([\\/]|[A-Za-z]:[\\/])/.test(v as string) && !(v as string).includes('\0');

// Masks up to 2048 × 2048 values.
const MAX_MASK_VALUES = 2048 * 2048;
const isUnitInterval: Check = (v) => typeof v === 'number' && v >= 0 && v <= 1;
const isOutputName: Check = (v) => isString(v) && (v as string).length > 0;

function isMask(v: unknown): boolean {
  if (v === 'predicted') return true;
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  return (
    inRange(1, 65536)(m.width) &&
    inRange(1, 65536)(m.height) &&
    (m.width as number) * (m.height as number) <= MAX_MASK_VALUES &&
    Array.isArray(m.values) &&
    m.values.length === (m.width as number) * (m.height as number) &&
    m.values.every(isUnitInterval)
  );
}

function isTarget(v: unknown): v is TargetSpec {
  if (typeof v !== 'object' || v === null) return false;
  const t = v as Record<string, unknown>;
  if (t.kind !== 'top' && t.kind !== 'element' && !optional(isOutputName)(t.output)) return false;
  switch (t.kind) {
    case 'top':
      return true;
    case 'class':
      return isIndex(t.index);
    case 'difference':
      return isIndex(t.a) && isIndex(t.b);
    case 'probability':
      return t.index === 'top' || isIndex(t.index);
    case 'region':
      return isIndex(t.class) && isMask(t.mask);
    case 'box':
      return (
        isIndex(t.index) &&
        optional(isOutputName)(t.boxes) &&
        optional(isUnitInterval)(t.iou) &&
        optional(isUnitInterval)(t.minScore) &&
        optional((b) => typeof b === 'boolean')(t.sigmoid)
      );
    case 'similarity':
      return isId(t.imageId);
    case 'element':
      return isOutputName(t.output) && Array.isArray(t.index) && t.index.length <= 8 && t.index.every(isIndex);
    default:
      return false;
  }
}

// At most a few dozen options, named as OptionSpecs are, each a short string.
function isMethodOptions(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const entries = Object.entries(v);
  return entries.length <= 32 && entries.every(([name, value]) => /^\w{1,64}$/.test(name) && typeof value === 'string' && value.length <= 256);
}

// A slice filter: known fields only, each of its type; at most MAX_SLICE_IMAGES chosen images.
const MAX_SLICE_IMAGES = 1_000_000;
function isSliceFilter(v: unknown): v is SliceFilterSpec {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const f = v as Record<string, unknown>;
  const fields: Record<string, Check> = {
    label: isIndex,
    prediction: isIndex,
    rule: isIndex,
    confidenceMin: (x) => typeof x === 'number' && x >= 0 && x <= 1,
    confidenceMax: (x) => typeof x === 'number' && x >= 0 && x <= 1,
    correctness: oneOf('correct', 'wrong'),
    images: (x) => Array.isArray(x) && x.length <= MAX_SLICE_IMAGES && x.every(isIndex),
  };
  return Object.entries(f).every(([name, value]) => Object.hasOwn(fields, name) && (value === undefined || fields[name](value)));
}

/** A request kind: the validator of its params, field by field; its params and result types ride along (phantom). */
interface RequestSpec<Params, Result> {
  fields: { [F in keyof Params]-?: Check };
  /** Type carriers only; never set. */
  params?: Params;
  result?: Result;
}
function request<Params, Result>(fields: { [F in keyof Params]-?: Check }): RequestSpec<Params, Result> {
  return { fields };
}

type Pooling = 'mean' | 'max';

/** Images in one page of "Explain all" at most, and the page the panel asks for (a page's worth of progress between two requests). */
export const MAX_GALLERY_PAGE = 64;
export const GALLERY_PAGE = 16;

/** Every request a view can make: adding an analysis is one entry here, its job and its view. */
export const REQUESTS = {
  /** `options`: method options by OptionSpec name, as typed (the worker parses and checks them against the specs). */
  explain: request<{ imageId: string; method: string; layer: string; target: TargetSpec; options?: Record<string, string> }, ExplanationView>({
    imageId: isId,
    method: isMethod,
    layer: isString,
    target: isTarget,
    options: optional(isMethodOptions),
  }),
  /** Several methods on one image, each scored for faithfulness. */
  compare: request<{ imageId: string; methods: string[]; layer: string; target: TargetSpec }, ExplanationView[]>({
    imageId: isId,
    layer: isString,
    target: isTarget,
    methods: (v) => Array.isArray(v) && v.length > 0 && v.length <= 20 && v.every(isMethod),
  }),
  activations: request<{ imageId: string; layer: string; target: TargetSpec }, ActivationsView>({ imageId: isId, layer: isString, target: isTarget }),
  /** Features of a folder the host offered (datasetFolders) at a layer (tensor or node name). */
  datasetFeatures: request<{ folder: string; layer: string }, DatasetView>({ folder: isString, layer: isString }),
  datasetRules: request<{ depth: number; minLeaf: number; pooling: Pooling }, RulesView>({ depth: inRange(1, 8), minLeaf: inRange(1, 10_000), pooling: oneOf('mean', 'max') }),
  /** The mark check with a marks file the host offered (the dataset's own or the one picked). */
  datasetMarkCheck: request<{ marksFile: string; pooling: Pooling }, MarkCheckView>({ marksFile: isAbsolutePath, pooling: oneOf('mean', 'max') }),
  /** The feature map as compact arrays, for datasets of any size. */
  datasetMap: request<{ method: 'pca' | 'umap' }, DatasetMapView>({ method: oneOf('pca', 'umap') }),
  datasetChannelValues: request<{ channel: number; pooling: Pooling }, ChannelValuesView>({ channel: isIndex, pooling: oneOf('mean', 'max') }),
  /** Error clusters are found in the last map of `method` (made now when there is none). */
  datasetErrors: request<{ method: 'pca' | 'umap' }, ErrorAnalysisView>({ method: oneOf('pca', 'umap') }),
  datasetSlice: request<{ filter: SliceFilterSpec; offset: number; pageSize: number }, SliceView>({ filter: isSliceFilter, offset: isIndex, pageSize: inRange(1, 48) }),
  /** Peak positions of the given channels, or of the last rules' channels when none are given. */
  datasetChannelPositions: request<{ channels?: number[] }, ChannelPositionsView>({
    channels: optional((v) => Array.isArray(v) && v.length > 0 && v.length <= 4096 && v.every(isIndex)),
  }),
  datasetNeighbors: request<{ imageId: string; k: number }, NeighborsView>({ imageId: isId, k: inRange(1, 50) }),
  datasetImportance: request<{ classIndex: number; method: 'gradient' | 'ablation'; channels?: number[] }, ImportanceView>({
    classIndex: isIndex,
    method: oneOf('gradient', 'ablation'),
    channels: optional((v) => Array.isArray(v) && v.length > 0 && v.length <= 64 && v.every(isIndex)),
  }),
  receptiveFields: request<Record<string, never>, ReceptiveFieldsView>({}),
  effectiveField: request<{ layer: string }, EffectiveFieldView>({ layer: isString }),
  kernels: request<Record<string, never>, KernelsView>({}),
  /** `channels`: the channels to visualise (else the first `count`). */
  featureGallery: request<{ layer: string; count: number; steps: number; channels?: number[] }, GalleryView>({
    layer: isString,
    count: inRange(1, 64),
    steps: inRange(1, 2048),
    channels: optional((v) => Array.isArray(v) && v.length > 0 && v.length <= 64 && v.every(isIndex)),
  }),
  attention: request<{ imageId: string }, AttentionView>({ imageId: isId }),
  sanityCheck: request<{ imageId: string; method: string; layer: string }, SanityCheckView>({ imageId: isId, method: isMethod, layer: isString }),
  /** A segmentation model's predicted mask, or a detector's boxes after NMS with these thresholds, for an image. */
  taskOutputs: request<{ imageId: string; iou?: number; minScore?: number }, TaskOutputsView>({
    imageId: isId,
    iou: optional(isUnitInterval),
    minScore: optional(isUnitInterval),
  }),
  /** The laid-out graph, with each node's activation statistics for the image when one is named. */
  graph: request<{ imageId?: string }, GraphView>({ imageId: optional(isId) }),
  /**
   * "Explain all": explains the page [offset, offset + limit) of the images of a folder the host
   * offered (inside the workspace, or picked), with one method, layer, target and options; the view
   * asks page after page (a cancelled run resumes at the next page).
   */
  explainAll: request<{ folder: string; method: string; layer: string; target: TargetSpec; options?: Record<string, string>; offset: number; limit: number }, ExplainAllView>({
    folder: isAbsolutePath,
    method: isMethod,
    layer: isString,
    target: isTarget,
    options: optional(isMethodOptions),
    offset: isIndex,
    limit: inRange(1, MAX_GALLERY_PAGE),
  }),
};

export type RequestKind = keyof typeof REQUESTS;
export type RequestParams<K extends RequestKind> = NonNullable<(typeof REQUESTS)[K]['params']>;
export type RequestResult<K extends RequestKind> = NonNullable<(typeof REQUESTS)[K]['result']>;

/** A request envelope, one member per kind (so `kind` narrows `params`). */
export type RequestMessage = { [K in RequestKind]: { type: 'request'; requestId: string; kind: K; params: RequestParams<K> } }[RequestKind];
/** A response envelope, one member per kind (so `kind` narrows `result`). */
export type ResponseMessage = { [K in RequestKind]: { type: 'response'; requestId: string; kind: K; result: RequestResult<K> } }[RequestKind];

/** Messages from the host that are not answers to a request. */
export type HostToWebview =
  | ResponseMessage
  /**
   * A request the host started itself (a lens, a command, the side view following the editor), said
   * before its progress and response so that the view counts it as running from the start.
   */
  | { type: 'started'; requestId: string; kind: RequestKind; message: string }
  | { type: 'progress'; requestId: string; fraction: number; message: string }
  | { type: 'cancelled'; requestId: string }
  /** Without requestId: a problem outside any request (a file that would not load, say). */
  | { type: 'error'; requestId?: string; message: string }
  | { type: 'model'; model: ModelView; methods: MethodView[] }
  | { type: 'images'; images: ImageView[]; selected?: string }
  | { type: 'prediction'; imageId: string; top: Prediction[] }
  /** An explanation of a compare request, posted as soon as it is ready (the response lists them all). */
  | { type: 'compared'; requestId: string; explanation: ExplanationView }
  | { type: 'settings'; colormap: string; opacity: number; method: string }
  | { type: 'datasetFolders'; folders: DatasetFolderView[]; chosen?: string }
  /** The marks file the user picked for the dataset (replaces the dataset's own). */
  | { type: 'datasetMarks'; marks: MarksFileView }
  /** Folders of workspace images "Explain all" may run on (and the one just picked). */
  | { type: 'galleryFolders'; folders: DatasetFolderView[]; chosen?: string };

/** The colormaps a view offers for unsigned maps (signed maps are always drawn diverging). */
export const EXPORT_COLORMAPS = ['viridis', 'inferno', 'turbo', 'jet', 'gray'] as const;
export type ExportColormap = (typeof EXPORT_COLORMAPS)[number];

/** Messages from a view that ask for no result: requests, and commands the host acts on. */
export type WebviewToHost =
  | RequestMessage
  | { type: 'ready' }
  | { type: 'pickImages' }
  | { type: 'dropImages'; files: { name: string; base64: string }[] }
  | { type: 'selectImage'; imageId: string }
  | { type: 'cancel'; requestId: string }
  /**
   * Exports what the view shows: a PNG uses the view's colormap and opacity (and says so in its
   * metadata). `figure`: for a signal's or a video's map, the view's own figure as a PNG data URL,
   * written as it is drawn (the host adds the metadata).
   */
  | { type: 'export'; explanationId: string; format: 'png' | 'npy'; colormap: ExportColormap; opacity: number; figure?: string }
  | { type: 'openSource'; layer: string }
  /** Copies an explanation as the `convlens` command that computes it again, or as a pytorch-grad-cam/Captum snippet. */
  | { type: 'copyReproduction'; explanationId: string; form: 'command' | 'python' }
  /** Opens the host's folder picker for a dataset folder. */
  | { type: 'pickDataset' }
  /** Opens the host's file picker for a marks file (JSON of mark boxes, as boxes.json). */
  | { type: 'pickMarks' }
  /** Loads a dataset image (by its path relative to the dataset folder) into the panel's images. */
  | { type: 'datasetOpenImage'; relPath: string }
  | { type: 'exportRules'; format: 'json' | 'txt' }
  /** Opens the host's folder picker for "Explain all". */
  | { type: 'pickGalleryFolder' }
  /** Loads an image of a gallery folder into the panel and explains it there with the gallery's settings. */
  | { type: 'galleryOpenImage'; folder: string; relPath: string; method: string; layer: string; target: TargetSpec; options?: Record<string, string> };

const MAX_DROPPED_BYTES = 64 * 1024 * 1024;
/** The largest figure a view may send with an export, in base64 characters (a 16 MiB PNG). */
export const MAX_FIGURE_CHARS = Math.ceil((16 * 1024 * 1024 * 4) / 3) + 64;
const FIGURE_PREFIX = 'data:image/png;base64,';
const isFigure: Check = (v) => typeof v === 'string' && v.length <= MAX_FIGURE_CHARS && v.startsWith(FIGURE_PREFIX) && /^[A-Za-z0-9+/]*={0,2}$/.test(v.slice(FIGURE_PREFIX.length));

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

const COMMANDS: { [T in Exclude<WebviewToHost['type'], 'request'>]: Record<string, Check> } = {
  ready: {},
  pickImages: {},
  dropImages: { files: isDroppedFiles },
  selectImage: { imageId: isId },
  cancel: { requestId: isId },
  export: {
    explanationId: isId,
    format: oneOf('png', 'npy'),
    colormap: oneOf(...EXPORT_COLORMAPS),
    opacity: (v) => typeof v === 'number' && v >= 0 && v <= 1,
    figure: optional(isFigure),
  },
  openSource: { layer: isString },
  copyReproduction: { explanationId: isId, form: oneOf('command', 'python') },
  pickDataset: {},
  pickMarks: {},
  datasetOpenImage: { relPath: isRelativePath },
  exportRules: { format: oneOf('json', 'txt') },
  pickGalleryFolder: {},
  galleryOpenImage: { folder: isAbsolutePath, relPath: isRelativePath, method: isMethod, layer: isString, target: isTarget, options: optional(isMethodOptions) },
};

const own = (table: object, key: unknown): boolean => typeof key === 'string' && Object.prototype.hasOwnProperty.call(table, key);

function fieldsHold(fields: Record<string, Check>, value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return Object.entries(fields).every(([key, check]) => check(v[key]));
}

/** The message if it is a well-formed WebviewToHost message (a request's params checked against its kind), else undefined. */
export function parseWebviewMessage(message: unknown): WebviewToHost | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const m = message as Record<string, unknown>;
  if (m.type === 'request') {
    if (!isId(m.requestId) || !own(REQUESTS, m.kind)) return undefined;
    return fieldsHold(REQUESTS[m.kind as RequestKind].fields as Record<string, Check>, m.params) ? (message as WebviewToHost) : undefined;
  }
  if (!own(COMMANDS, m.type)) return undefined;
  return fieldsHold(COMMANDS[m.type as keyof typeof COMMANDS], m) ? (message as WebviewToHost) : undefined;
}

const HOST_TYPES: { [T in HostToWebview['type']]: true } = {
  response: true,
  started: true,
  progress: true,
  cancelled: true,
  error: true,
  model: true,
  images: true,
  prediction: true,
  compared: true,
  settings: true,
  datasetFolders: true,
  datasetMarks: true,
  galleryFolders: true,
};

/** The message if it looks like a HostToWebview message (the host is trusted; this guards against stray posts). */
export function asHostMessage(data: unknown): HostToWebview | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const m = data as Record<string, unknown>;
  if (!own(HOST_TYPES, m.type)) return undefined;
  if ((m.type === 'response' || m.type === 'started') && !own(REQUESTS, m.kind)) return undefined;
  return data as HostToWebview;
}
