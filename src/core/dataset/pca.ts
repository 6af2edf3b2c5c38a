// Principal component analysis by power iteration with deflation (Golub & Van Loan, "Matrix
// Computations", §8.2; the same components as sklearn.decomposition.PCA up to sign).
//
// Rows x_i ∈ R^d are centred on their mean μ. The covariance C = Xcᵀ Xc / (n − 1) is never formed:
// each step applies it as v ← Xcᵀ (Xc v) / (n − 1), then removes the parts along the components
// already found (deflation by Gram–Schmidt) and normalises. The eigenvalue is the Rayleigh quotient
// λ = vᵀ C v. Projections are y_ij = (x_i − μ) · v_j. Each component's sign is fixed so that its
// largest-magnitude entry is positive, and the start vector comes from a seeded generator, so the
// result is deterministic.
import { DatasetError } from './errors';
import { seededRandom } from '../random';

export interface PcaResult {
  mean: Float64Array;
  /** Unit principal axes, largest variance first. */
  components: Float64Array[];
  /** Variance along each axis (covariance eigenvalues). */
  explainedVariance: number[];
  /** Each axis's share of the total variance (trace of the covariance). */
  explainedVarianceRatio: number[];
  /** Coordinates of each row on the axes: projection[i][j]. */
  projection: number[][];
}

export interface PcaOptions {
  components?: number;
  maxIterations?: number;
  /** Stop when a component moves less than this (Euclidean norm of the change). */
  tolerance?: number;
  seed?: number;
}

/** PCA of `rows` (n rows of d values, row-major in `data`). */
export function pca(data: ArrayLike<number>, rows: number, cols: number, options: PcaOptions = {}): PcaResult {
  const k = options.components ?? 2;
  const maxIterations = options.maxIterations ?? 1000;
  const tolerance = options.tolerance ?? 1e-10;
  if (data.length !== rows * cols) throw new DatasetError(`PCA got ${data.length} values for ${rows}×${cols}`);
  if (rows < 2) throw new DatasetError('PCA needs at least two points');
  if (k < 1 || k > cols) throw new DatasetError(`PCA cannot find ${k} components of ${cols}-dimensional data`);

  const mean = new Float64Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) mean[j] += data[i * cols + j];
  for (let j = 0; j < cols; j++) mean[j] /= rows;
  const centred = new Float64Array(rows * cols);
  let total = 0;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = data[i * cols + j] - mean[j];
      centred[i * cols + j] = v;
      total += v * v;
    }
  }
  total /= rows - 1;

  const random = seededRandom(options.seed ?? 1);
  const components: Float64Array[] = [];
  const variances: number[] = [];
  const scores = new Float64Array(rows);
  const applyCovariance = (v: Float64Array): Float64Array => {
    for (let i = 0; i < rows; i++) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += centred[i * cols + j] * v[j];
      scores[i] = s;
    }
    const out = new Float64Array(cols);
    for (let i = 0; i < rows; i++) {
      const s = scores[i];
      if (s === 0) continue;
      for (let j = 0; j < cols; j++) out[j] += centred[i * cols + j] * s;
    }
    for (let j = 0; j < cols; j++) out[j] /= rows - 1;
    return out;
  };

  for (let c = 0; c < k; c++) {
    let v: Float64Array = Float64Array.from({ length: cols }, () => random() - 0.5);
    orthonormalise(v, components);
    for (let iter = 0; iter < maxIterations; iter++) {
      const next = applyCovariance(v);
      if (orthonormalise(next, components) === 0) break; // no variance left outside earlier axes
      let change = 0;
      for (let j = 0; j < cols; j++) change += (next[j] - v[j]) ** 2;
      v = next;
      if (Math.sqrt(change) < tolerance) break;
    }
    fixSign(v);
    const cv = applyCovariance(v);
    variances.push(dot(v, cv));
    components.push(v);
  }

  const projection = Array.from({ length: rows }, (_, i) =>
    components.map((axis) => {
      let s = 0;
      for (let j = 0; j < cols; j++) s += centred[i * cols + j] * axis[j];
      return s;
    }),
  );
  return {
    mean,
    components,
    explainedVariance: variances,
    explainedVarianceRatio: variances.map((v) => (total > 0 ? v / total : 0)),
    projection,
  };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j] * b[j];
  return s;
}

/** Removes the parts of v along each of `basis` and scales it to unit length; returns its norm before. */
function orthonormalise(v: Float64Array, basis: Float64Array[]): number {
  for (const b of basis) {
    const p = dot(v, b);
    for (let j = 0; j < v.length; j++) v[j] -= p * b[j];
  }
  const norm = Math.sqrt(dot(v, v));
  if (norm > 0) for (let j = 0; j < v.length; j++) v[j] /= norm;
  return norm;
}

function fixSign(v: Float64Array): void {
  let largest = 0;
  for (let j = 1; j < v.length; j++) if (Math.abs(v[j]) > Math.abs(v[largest])) largest = j;
  if (v[largest] < 0) for (let j = 0; j < v.length; j++) v[j] = -v[j];
}
