// A 2-D map of the dataset in the network's feature space (the penultimate features, features.ts):
// PCA (pca.ts) or UMAP (McInnes, Healy & Melville 2018; the npm package umap-js, a port of the
// Python umap-learn, run with a seeded generator so the map is the same every time). Each point
// carries its folder label, the network's prediction and whether they agree. UMAP's time grows
// faster than the number of points, so on a large dataset it is fitted on a seeded sample of
// UMAP_MAX_FITTED images and the others are placed among their nearest sampled neighbours (the
// Embedding's note says so); PCA is exact on every image.
import { UMAP } from 'umap-js';
import { RunControl } from '../explain/forward';
import { throwIfCancelled } from '../cancel';
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
  /** How the map was made when it is not the plain method on every image (UMAP on a large dataset). */
  note?: string;
}

/** UMAP is fitted on at most this many images (a seeded sample); umap-js takes about a minute for 5,000. */
export const UMAP_MAX_FITTED = 2000;
/** A point left out of the fit lands at the inverse-distance-weighted mean of this many nearest fitted points. */
const PLACEMENT_NEIGHBORS = 5;

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
  let note: string | undefined;
  if (method === 'pca') {
    const result = pca(features.penultimateFeatures, n, p, { components: 2, seed: options.seed ?? 42 });
    coordinates = result.projection;
    explained = [result.explainedVarianceRatio[0], result.explainedVarianceRatio[1]];
  } else if (method === 'umap') {
    const fitted = seededSample(n, UMAP_MAX_FITTED, options.seed ?? 42);
    const fittedCoordinates = await umap2d(
      fitted.map((i) => Array.from(rowOf(features.penultimateFeatures, i, p))),
      options,
    );
    if (fitted.length === n) coordinates = fittedCoordinates;
    else {
      coordinates = await placeByNearest(features.penultimateFeatures, p, fitted, fittedCoordinates, options);
      note = `UMAP fitted on a seeded sample of ${fitted.length} of ${n} images; each other image placed at the inverse-distance-weighted mean of its ${PLACEMENT_NEIGHBORS} nearest sampled images (Euclidean, penultimate features)`;
    }
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
    note,
  };
}

/** `k` of 0 … n − 1 (all when n ≤ k), chosen by a seeded partial Fisher–Yates shuffle, in increasing order. */
export function seededSample(n: number, k: number, seed: number): number[] {
  if (n <= k) return Array.from({ length: n }, (_, i) => i);
  const random = seededRandom(seed);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (n - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return Array.from(order.subarray(0, k)).sort((a, b) => a - b);
}

/**
 * Coordinates for every row: the fitted rows keep theirs; every other row gets the mean of its
 * nearest fitted rows' coordinates weighted by 1 / distance (exactly a fitted point's place at
 * distance 0). Brute force: O(n · fitted · width), cancellable between blocks of rows.
 */
export async function placeByNearest(data: Float32Array, width: number, fitted: number[], fittedCoordinates: number[][], control: RunControl): Promise<number[][]> {
  const n = data.length / width;
  const coordinates: number[][] = new Array(n);
  fitted.forEach((row, j) => (coordinates[row] = fittedCoordinates[j]));
  const k = Math.min(PLACEMENT_NEIGHBORS, fitted.length);
  const bestDistance = new Float64Array(k);
  const bestIndex = new Int32Array(k);
  const BLOCK = 1000;
  for (let start = 0; start < n; start += BLOCK) {
    throwIfCancelled(control.signal);
    control.progress?.(start / n, `UMAP: placing images ${start}/${n}`);
    await new Promise((resolve) => setImmediate(resolve));
    for (let i = start; i < Math.min(n, start + BLOCK); i++) {
      if (coordinates[i]) continue;
      bestDistance.fill(Infinity);
      const xi = i * width;
      for (let j = 0; j < fitted.length; j++) {
        const xj = fitted[j] * width;
        let d = 0;
        for (let c = 0; c < width; c++) {
          const diff = data[xi + c] - data[xj + c];
          d += diff * diff;
        }
        if (d >= bestDistance[k - 1]) continue;
        let slot = k - 1;
        while (slot > 0 && bestDistance[slot - 1] > d) {
          bestDistance[slot] = bestDistance[slot - 1];
          bestIndex[slot] = bestIndex[slot - 1];
          slot--;
        }
        bestDistance[slot] = d;
        bestIndex[slot] = j;
      }
      if (bestDistance[0] === 0) {
        coordinates[i] = [...fittedCoordinates[bestIndex[0]]];
        continue;
      }
      let x = 0;
      let y = 0;
      let total = 0;
      for (let s = 0; s < k; s++) {
        const w = 1 / Math.sqrt(bestDistance[s]);
        x += w * fittedCoordinates[bestIndex[s]][0];
        y += w * fittedCoordinates[bestIndex[s]][1];
        total += w;
      }
      coordinates[i] = [x / total, y / total];
    }
  }
  return coordinates;
}
