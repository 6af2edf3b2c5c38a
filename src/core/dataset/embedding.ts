// A 2-D map of the dataset in the network's feature space (the penultimate features, features.ts):
// PCA (pca.ts) or UMAP (McInnes, Healy & Melville 2018; the npm package umap-js, a port of the
// Python umap-learn, run with a seeded generator so the map is the same every time). Each point
// carries its folder label, the network's prediction and whether they agree.
import { UMAP } from 'umap-js';
import { RunControl, throwIfCancelled } from '../explain/forward';
import { DatasetError } from './errors';
import { DatasetFeatures, rowOf } from './features';
import { pca } from './pca';
import { seededRandom } from '../random';

export type EmbeddingMethod = 'pca' | 'umap';

export interface EmbeddingOptions extends RunControl {
  method?: EmbeddingMethod;
  /** Seed of UMAP's generator (and of PCA's start vectors); default 42. */
  seed?: number;
  /** UMAP neighbourhood size; default 15 (fewer for small sets). */
  neighbors?: number;
  /** UMAP minimum distance between embedded points; default 0.1. */
  minDist?: number;
}

export interface EmbeddedPoint {
  relPath: string;
  x: number;
  y: number;
  labelName?: string;
  label?: number;
  prediction: number;
  predictionName: string;
  /** Prediction equals the folder label; undefined for unlabelled images. */
  correct?: boolean;
}

export interface Embedding {
  method: EmbeddingMethod;
  /** What was embedded. */
  space: string;
  points: EmbeddedPoint[];
  /** PCA: share of variance along x and y. */
  explainedVarianceRatio?: [number, number];
  /** Misclassified images (labelled ones only). */
  misclassified: number;
}

/** 2-D UMAP of `rows` with a seeded generator; progress after each epoch, cancellable between epochs. */
export async function umap2d(rows: number[][], options: { seed?: number; neighbors?: number; minDist?: number } & RunControl = {}): Promise<number[][]> {
  if (rows.length < 3) throw new DatasetError('UMAP needs at least three points');
  const model = new UMAP({
    nComponents: 2,
    nNeighbors: Math.min(options.neighbors ?? 15, rows.length - 1),
    minDist: options.minDist ?? 0.1,
    random: seededRandom(options.seed ?? 42),
  });
  const epochs = model.initializeFit(rows);
  for (let epoch = 0; epoch < epochs; epoch++) {
    if (epoch % 10 === 0) {
      throwIfCancelled(options.signal);
      options.progress?.(epoch / epochs, `UMAP: epoch ${epoch}/${epochs}`);
      await new Promise((resolve) => setImmediate(resolve)); // let a cancellation arrive
    }
    model.step();
  }
  return model.getEmbedding();
}

export async function embedDataset(features: DatasetFeatures, options: EmbeddingOptions = {}): Promise<Embedding> {
  const method = options.method ?? 'pca';
  const n = features.images.length;
  const p = features.penultimateSize;
  let coordinates: number[][];
  let explained: [number, number] | undefined;
  if (method === 'pca') {
    const result = pca(features.penultimateFeatures, n, p, { components: 2, seed: options.seed ?? 42 });
    coordinates = result.projection;
    explained = [result.explainedVarianceRatio[0], result.explainedVarianceRatio[1]];
  } else if (method === 'umap') {
    coordinates = await umap2d(features.images.map((_, i) => Array.from(rowOf(features.penultimateFeatures, i, p))), options);
  } else {
    throw new DatasetError(`unknown embedding method '${method as string}'; use 'pca' or 'umap'`);
  }
  const points = features.images.map((im, i): EmbeddedPoint => {
    const prediction = features.predictions[i];
    return {
      relPath: im.relPath,
      x: coordinates[i][0],
      y: coordinates[i][1],
      labelName: im.labelName,
      label: im.label,
      prediction,
      predictionName: features.classNames[prediction] ?? `class ${prediction}`,
      correct: im.label === undefined ? undefined : im.label === prediction,
    };
  });
  return {
    method,
    space: `penultimate features (${features.penultimate}, ${p} values)`,
    points,
    explainedVarianceRatio: explained,
    misclassified: points.filter((pt) => pt.correct === false).length,
  };
}
