// Case-based explanation: the dataset images nearest to an input in the network's feature space
// (the penultimate features; Caruana et al. 1999, "Case-based explanation of non-case-based
// learning methods"; Papernot & McDaniel 2018, "Deep k-Nearest Neighbors").
//   cosine similarity    s(a, b) = a·b / (‖a‖ ‖b‖)      (neighbours: largest s; distance 1 − s)
//   Euclidean distance   d(a, b) = ‖a − b‖₂             (neighbours: smallest d)
// Ties go to the earlier image in path order.
import { ConvModel } from '../model';
import { Tensor } from '../tensor';
import { DatasetError } from './errors';
import { DatasetFeatures, ImageFeatures, imageFeatures, rowOf } from './features';
import { InputPipeline, inputPipelineFor } from './input';

export type Metric = 'cosine' | 'euclidean';

export interface Neighbor {
  image: number;
  relPath: string;
  /** Cosine: 1 − similarity; Euclidean: the distance. */
  distance: number;
  similarity?: number;
  labelName?: string;
  prediction: number;
  predictionName: string;
}

export interface NeighborResult {
  metric: Metric;
  /** Where the distances are measured. */
  space: string;
  query: { prediction: number; predictionName: string };
  neighbors: Neighbor[];
}

export interface NeighborOptions {
  k?: number;
  /** Default 'cosine'. */
  metric?: Metric;
  /** Dataset images to leave out (e.g. the query itself), by index. */
  exclude?: number[];
}

/** The k dataset images nearest to a penultimate feature vector. */
export function nearestNeighbors(features: DatasetFeatures, query: ArrayLike<number>, options: NeighborOptions = {}): Neighbor[] {
  const k = options.k ?? 5;
  const metric = options.metric ?? 'cosine';
  const p = features.penultimateSize;
  if (query.length !== p) throw new DatasetError(`the query has ${query.length} features but the dataset's have ${p}`);
  if (!Number.isInteger(k) || k < 1) throw new DatasetError(`k must be a whole number ≥ 1, got ${k}`);
  const excluded = new Set(options.exclude ?? []);
  const queryNorm = Math.sqrt(dot(query, query));
  const scored = features.images.flatMap((im, i) => {
    if (excluded.has(i)) return [];
    const row = rowOf(features.penultimateFeatures, i, p);
    if (metric === 'euclidean') {
      let s = 0;
      for (let j = 0; j < p; j++) s += (row[j] - query[j]) ** 2;
      return [{ i, distance: Math.sqrt(s), similarity: undefined as number | undefined }];
    }
    const norms = queryNorm * Math.sqrt(dot(row, row));
    const similarity = norms > 0 ? dot(row, query) / norms : 0;
    return [{ i, distance: Math.max(0, 1 - similarity), similarity }];
  });
  scored.sort((a, b) => a.distance - b.distance || a.i - b.i);
  return scored.slice(0, k).map(({ i, distance, similarity }) => ({
    image: i,
    relPath: features.images[i].relPath,
    distance,
    similarity,
    labelName: features.images[i].labelName,
    prediction: features.predictions[i],
    predictionName: features.classNames[features.predictions[i]] ?? `class ${features.predictions[i]}`,
  }));
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j] * b[j];
  return s;
}

/** Neighbours of an image file or a preprocessed input [1, C, H, W] (the model is run once on it). */
export async function neighborsOf(
  model: ConvModel,
  features: DatasetFeatures,
  query: string | Tensor<Float32Array>,
  options: NeighborOptions & { input?: InputPipeline } = {},
): Promise<NeighborResult> {
  let tensor: Tensor<Float32Array>;
  if (typeof query === 'string') {
    const input = options.input ?? inputPipelineFor(model);
    tensor = input.toTensor(await input.decode(query));
  } else {
    tensor = query;
  }
  const f: ImageFeatures = await imageFeatures(model, tensor, features.layer, features.penultimate);
  const metric = options.metric ?? 'cosine';
  return {
    metric,
    space: `penultimate features (${features.penultimate}, ${features.penultimateSize} values), ${metric === 'cosine' ? 'cosine distance 1 − a·b/(‖a‖‖b‖)' : 'Euclidean distance'}`,
    query: { prediction: f.prediction, predictionName: features.classNames[f.prediction] ?? `class ${f.prediction}` },
    neighbors: nearestNeighbors(features, f.penultimate, options),
  };
}
