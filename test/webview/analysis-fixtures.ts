// Real results for the Dataset and Inside tabs: the compute worker's own job implementations
// (src/compute/jobs/dataset.ts, datasetAnalysis.ts and inside.ts) run in this process on the sample model and
// sample/dataset, on the shortcut sample (sample/shapes-shortcut.onnx on sample/dataset-shortcut,
// whose boxes.json lists the planted marks) for the mark check, and on the CNN–Transformer hybrid
// (test/models/hybrid) for attention maps.
// Feature visualisations are cached under out/ so later runs read them back.
import * as fs from 'fs';
import * as path from 'path';
import { ModelContext } from '../../src/core/context';
import { JobContext } from '../../src/compute/jobs';
import { KeptDataset, KeptDatasets, datasetJobs } from '../../src/compute/jobs/dataset';
import { datasetAnalysisJobs } from '../../src/compute/jobs/dataset-analysis';
import { insideJobs } from '../../src/compute/jobs/inside';
import { WorkerImage, WorkerState } from '../../src/compute/jobs/state';
import type {
  AttentionView,
  ChannelPositionsView,
  DatasetFolderView,
  DatasetMapView,
  DatasetView,
  EffectiveFieldView,
  ErrorAnalysisView,
  GalleryView,
  ImageView,
  ImportanceView,
  KernelsView,
  MarkCheckView,
  NeighborsView,
  ReceptiveFieldsView,
  RulesView,
  SanityCheckView,
  SliceView,
} from '../../src/protocol';
import { ROOT } from './fixtures';

const SAMPLE_MODEL = path.join(ROOT, 'sample', 'shapes.onnx');
const SHORTCUT_MODEL = path.join(ROOT, 'sample', 'shapes-shortcut.onnx');
const HYBRID_MODEL = path.join(ROOT, 'test', 'models', 'hybrid', 'hybrid.onnx');
export const DATASET_FOLDER = path.join(ROOT, 'sample', 'dataset');
const SHORTCUT_FOLDER = path.join(ROOT, 'sample', 'dataset-shortcut');
/** The layer the Dataset tab offers first: the CAM layer of the sample model. */
export const DATASET_LAYER = '/block4/relu/Relu_output_0';
export const GALLERY_LAYER = '/block2/relu/Relu_output_0';

export interface AnalysisFixtures {
  folders: DatasetFolderView[];
  dataset: DatasetView;
  rules: RulesView;
  pca: DatasetMapView;
  umap: DatasetMapView;
  /** Error analysis in the PCA map, and the first page of the misclassified images. */
  errors: ErrorAnalysisView;
  wrongSlice: SliceView;
  /** Neighbours of the panel's first image (img0). */
  neighbors: NeighborsView;
  importance: ImportanceView;
  ablation: ImportanceView;
  fields: ReceptiveFieldsView;
  effectiveField: EffectiveFieldView;
  kernels: KernelsView;
  gallery: GalleryView;
  /** The sample CNN's answer: no self-attention. */
  noAttention: AttentionView;
  /** The hybrid's attention on the panel's second image (img1). */
  attention: AttentionView;
  /** Channel 5 of the dataset's layer, its mean over each image. */
  /** The hybrid's operator counts (what the panel's model view says of it). */
  hybridOps: Record<string, number>;
  /** Grad-CAM's sanity check on img0. */
  sanity: SanityCheckView;
  /** The shortcut model on sample/dataset-shortcut: its features, rules and mark check, channels max-pooled. */
  shortcut: { dataset: DatasetView; rules: RulesView; markCheck: MarkCheckView; positions: ChannelPositionsView; map: DatasetMapView };
}

export function analysisFixturesAvailable(): boolean {
  return [SAMPLE_MODEL, DATASET_FOLDER, HYBRID_MODEL, SHORTCUT_MODEL, path.join(SHORTCUT_FOLDER, 'boxes.json')].every((f) => fs.existsSync(f));
}

const job: JobContext = { signal: new AbortController().signal, progress: () => undefined };

/** Runs the jobs with the panel's images (ids img0, img1, ... as in fixtures.ts) loaded from the sample dataset. */
export async function computeAnalysisFixtures(images: ImageView[]): Promise<AnalysisFixtures> {
  const contexts = new Map([SAMPLE_MODEL, HYBRID_MODEL, SHORTCUT_MODEL].map((file) => [file, ModelContext.open(file, { provider: 'cpu' })]));
  const loaded = new Map<string, WorkerImage>();
  const state: WorkerState = {
    contextFor: (modelPath) => contexts.get(modelPath)!,
    imageFor: (imageId) => loaded.get(imageId)!,
  };
  const load = (id: string, modelPath: string) => {
    const name = images.find((i) => i.id === id)!.name;
    const input = contexts.get(modelPath)!.loadInput(path.join(DATASET_FOLDER, 'test', name));
    loaded.set(`${id}@${modelPath}`, { modelPath, name, tensor: input.tensor, rgb: input.rgb });
    return `${id}@${modelPath}`;
  };
  try {
    const datasets = new KeptDatasets();
    const data = datasetJobs(state, datasets);
    const keptDataset = (datasetId: string) => datasets.kept(datasetId);
    const inside = insideJobs(state);
    const { datasetId, view: dataset } = await data.datasetFeatures({ modelPath: SAMPLE_MODEL, folder: DATASET_FOLDER, layer: DATASET_LAYER }, job);
    const rules = await data.datasetRules({ datasetId, depth: 3, minLeaf: 5 }, job);
    const analysis = datasetAnalysisJobs(keptDataset);
    const pca = await analysis.datasetMap({ datasetId, method: 'pca' }, job);
    const umap = await analysis.datasetMap({ datasetId, method: 'umap' }, job);
    const errors = await analysis.datasetErrors({ datasetId, method: 'pca' }, job);
    const wrongSlice = await analysis.datasetSlice({ datasetId, filter: { correctness: 'wrong' }, offset: 0, pageSize: 24 }, job);
    const neighbors = { ...(await data.datasetNeighbors({ datasetId, imageId: load('img0', SAMPLE_MODEL), k: 5 }, job)), imageId: 'img0' };
    const importance = await data.datasetImportance({ datasetId, classIndex: 0, method: 'gradient' }, job);
    const ablation = await data.datasetImportance({ datasetId, classIndex: 0, method: 'ablation', channels: importance.channels.slice(0, 16).map((c) => c.channel) }, job);
    const fields = await inside.receptiveFields({ modelPath: SAMPLE_MODEL }, job);
    const effectiveField = await inside.effectiveField({ modelPath: SAMPLE_MODEL, layer: DATASET_LAYER }, job);
    const kernels = await inside.kernels({ modelPath: SAMPLE_MODEL }, job);
    const cacheDir = path.join(ROOT, 'out', 'webview-test-cache');
    const gallery = await inside.featureGallery({ modelPath: SAMPLE_MODEL, layer: GALLERY_LAYER, count: 8, steps: 64, cacheDir }, job);
    const noAttention = { ...(await inside.attention({ modelPath: SAMPLE_MODEL, imageId: load('img0', SAMPLE_MODEL) }, job)), imageId: 'img0' };
    const attention = { ...(await inside.attention({ modelPath: HYBRID_MODEL, imageId: load('img1', HYBRID_MODEL) }, job)), imageId: 'img1' };
    const sanity = { ...(await inside.sanityCheck({ modelPath: SAMPLE_MODEL, imageId: load('img0', SAMPLE_MODEL), method: 'gradcam', layer: 'auto' }, job)), imageId: 'img0' };
    const hybridOps = contexts.get(HYBRID_MODEL)!.model.summary().opHistogram;
    const shortcut = await shortcutFixtures(data, keptDataset);
    const folders = [DATASET_FOLDER, SHORTCUT_FOLDER].filter((f) => fs.existsSync(f)).map((f) => ({ path: f, label: path.relative(ROOT, f), images: countImages(f) }));
    return {
      folders,
      dataset,
      rules,
      pca,
      umap,
      errors,
      wrongSlice,
      neighbors,
      importance,
      ablation,
      fields,
      effectiveField,
      kernels,
      gallery,
      noAttention,
      attention,
      hybridOps,
      sanity,
      shortcut,
    };
  } finally {
    for (const ctx of contexts.values()) await ctx.dispose();
  }
}

async function shortcutFixtures(data: ReturnType<typeof datasetJobs>, keptDataset: (datasetId: string) => KeptDataset): Promise<AnalysisFixtures['shortcut']> {
  const { datasetId, view: dataset } = await data.datasetFeatures({ modelPath: SHORTCUT_MODEL, folder: SHORTCUT_FOLDER, layer: DATASET_LAYER }, job);
  const rules = await data.datasetRules({ datasetId, depth: 3, minLeaf: 5, pooling: 'max' }, job);
  const markCheck = await data.datasetMarkCheck({ datasetId, marksFile: dataset.marks!.file, pooling: 'max' }, job);
  const analysis = datasetAnalysisJobs(keptDataset);
  const positions = await analysis.datasetChannelPositions({ datasetId }, job);
  const map = await analysis.datasetMap({ datasetId, method: 'pca' }, job);
  return { dataset, rules, markCheck, positions, map };
}

function countImages(folder: string): number {
  return fs.readdirSync(folder, { withFileTypes: true, recursive: true }).filter((e) => e.isFile() && /\.(png|jpe?g)$/i.test(e.name)).length;
}
