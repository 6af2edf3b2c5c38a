// Hand-written numerics weighed against maintained libraries (issue #17): EigenCAM's principal
// component (our Lanczos, explain/linalg.ts) against ml-matrix's SVD, our symmetric eigensolver
// against ml-matrix's, PCA (dataset/pca.ts) against ml-pca, CART (dataset/cart.ts) against ml-cart; SLIC (explain/superpixels.ts) has no npm
// counterpart and is timed alone. Each row: exactness against what our tests hold the code to, and
// median times of both on the sizes the issue names. The decisions drawn from these numbers are in
// ARCHITECTURE.md, "Numerics: ours or a library". Nothing here asserts.
// `node out/bench/numerics.js [--quick]` runs this part alone.
import { EigenvalueDecomposition, Matrix, SVD } from 'ml-matrix';
import { PCA } from 'ml-pca';
import { DecisionTreeClassifier } from 'ml-cart';
import { trainTree, predictTree, DecisionTree } from '../src/core/dataset/cart';
import { pca } from '../src/core/dataset/pca';
import { runAtLayer } from '../src/core/explain/cam-common';
import { eigenCamRaw } from '../src/core/explain/eigencam';
import { symmetricEigen } from '../src/core/explain/linalg';
import { slic } from '../src/core/explain/superpixels';
import { ConvModel } from '../src/core/model';
import { Random } from '../src/core/random';
import { Tensor, float32 } from '../src/core/tensor';
import { loadManifest, loadTensor, modelPath, referenceAvailable, referenceContext } from '../test/support/reference';

// A type, not an interface, so rows join bench/run.ts's Record<string, unknown> results.
export type NumericsRow = {
  candidate: string;
  size: string;
  ours_s: number;
  library_s?: number;
  /** library time / our time: above 1, the library is slower. */
  library_over_ours?: number;
  exactness: string;
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Median seconds of `repeats` runs after one warm-up (none when repeats is 1: the slow cases). */
function time(fn: () => unknown, repeats: number): number {
  if (repeats > 1) fn();
  const runs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    fn();
    runs.push((performance.now() - start) / 1000);
  }
  return median(runs);
}

function row(candidate: string, size: string, ours: number, library: number | undefined, exactness: string): NumericsRow {
  return { candidate, size, ours_s: ours, library_s: library, library_over_ours: library === undefined ? undefined : library / ours, exactness };
}

/** max |a − b| / max |b|, the measure of the reference tests' assertClose. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

function upToSign(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return Math.min(
    relativeError(a, b),
    relativeError(
      Array.from(a, (v) => -v),
      b,
    ),
  );
}

// --- EigenCAM -----------------------------------------------------------------------------------

/**
 * EigenCAM's map [N, ...spatial] with ml-matrix's SVD in place of our Lanczos: M (positions ×
 * channels, NaN → 0, centred per channel), L = M v₁, and the same sign rule as eigenCamRaw.
 */
function eigenCamSvd(activations: Tensor): Tensor {
  const [n, c, ...spatial] = activations.dims;
  const plane = spatial.reduce((p, s) => p * s, 1);
  const a = activations.data as Float32Array;
  const cam = new Float32Array(n * plane);
  for (let img = 0; img < n; img++) {
    const own = a.subarray(img * c * plane, (img + 1) * c * plane);
    const m = new Matrix(plane, c);
    for (let k = 0; k < c; k++) {
      let mean = 0;
      for (let i = 0; i < plane; i++) mean += own[k * plane + i] || 0;
      mean /= plane;
      for (let i = 0; i < plane; i++) m.set(i, k, (own[k * plane + i] || 0) - mean);
    }
    const svd = new SVD(m, { computeLeftSingularVectors: true, computeRightSingularVectors: false, autoTranspose: true });
    const sigma = svd.diagonal[0];
    const u = svd.leftSingularVectors.getColumn(0);
    let agreement = 0;
    for (let i = 0; i < plane; i++) {
      let total = 0;
      for (let k = 0; k < c; k++) total += own[k * plane + i] || 0;
      agreement += u[i] * total;
    }
    const sign = agreement < 0 ? -1 : 1;
    for (let i = 0; i < plane; i++) cam[img * plane + i] = sign * sigma * u[i];
  }
  return float32([n, ...spatial], cam);
}

/** Post-ReLU activations of rank about 8 plus noise, like a late conv layer's. */
function syntheticActivations(c: number, h: number, w: number, random: Random): Tensor {
  const plane = h * w;
  const rank = 8;
  const spatialFactors = Array.from({ length: rank }, () => Float64Array.from({ length: plane }, () => random.normal()));
  const data = new Float32Array(c * plane);
  for (let k = 0; k < c; k++) {
    const loadings = Array.from({ length: rank }, (_, r) => random.normal() / (1 + r));
    for (let i = 0; i < plane; i++) {
      let v = 0.3 * random.normal();
      for (let r = 0; r < rank; r++) v += loadings[r] * spatialFactors[r][i];
      data[k * plane + i] = Math.max(0, v);
    }
  }
  return float32([1, c, h, w], data);
}

async function benchEigenCam(repeats: number): Promise<NumericsRow[]> {
  const rows: NumericsRow[] = [];
  if (referenceAvailable()) {
    for (const c of loadManifest().cases) {
      const model = ConvModel.load(modelPath(c), { provider: 'cpu' });
      try {
        const { activations } = await runAtLayer(referenceContext(model, c));
        const reference = loadTensor(c, 'camraw_EigenCAM').data as Float32Array;
        const ours = eigenCamRaw(activations).data as Float32Array;
        const library = eigenCamSvd(activations).data as Float32Array;
        const size = `${c.model}/${c.image} ${activations.dims.slice(1).join('×')}`;
        const exactness = `vs pytorch-grad-cam (test: ≤ 1e-3): ours ${upToSign(ours, reference).toExponential(1)}, ml-matrix ${upToSign(library, reference).toExponential(1)}`;
        rows.push(
          row(
            'EigenCAM SVD',
            size,
            time(() => eigenCamRaw(activations), repeats),
            time(() => eigenCamSvd(activations), repeats),
            exactness,
          ),
        );
      } finally {
        await model.dispose();
      }
    }
  }
  const random = new Random(7);
  for (const [c, h, w] of [
    [512, 7, 7],
    [960, 14, 14],
  ]) {
    const activations = syntheticActivations(c, h, w, random);
    const ours = eigenCamRaw(activations).data as Float32Array;
    const library = eigenCamSvd(activations).data as Float32Array;
    const exactness = `ours vs ml-matrix ${relativeError(ours, library).toExponential(1)} (synthetic, rank ≈ 8)`;
    rows.push(
      row(
        'EigenCAM SVD',
        `${c}×${h}×${w}`,
        time(() => eigenCamRaw(activations), repeats),
        time(() => eigenCamSvd(activations), repeats),
        exactness,
      ),
    );
  }
  return rows;
}

/** symmetricEigen (tred2/tql2) against ml-matrix's EigenvalueDecomposition, the same EISPACK algorithm, on a random symmetric n×n matrix. */
function benchSymmetricEigen(n: number, repeats: number): NumericsRow {
  const random = new Random(13);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = random.normal();
  const matrix = new Matrix(n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) matrix.set(i, j, a[i * n + j]);
  const ours = symmetricEigen(a, n).values;
  const library = [...new EigenvalueDecomposition(matrix, { assumeSymmetric: true }).realEigenvalues].sort((x, y) => y - x);
  return row(
    'symmetric eigen',
    `${n}×${n}`,
    time(() => symmetricEigen(a, n), repeats),
    time(() => new EigenvalueDecomposition(matrix, { assumeSymmetric: true }), repeats),
    `eigenvalues ours vs ml-matrix ${relativeError(ours, library).toExponential(1)}`,
  );
}

// --- PCA ----------------------------------------------------------------------------------------

/** n × d features with a decaying spectrum and two shared latent factors (correlated channels). */
function syntheticFeatures(n: number, d: number, random: Random): Float64Array {
  const scales = Float64Array.from({ length: d }, (_, j) => 1 / (1 + j) ** 0.5);
  const first = Float64Array.from({ length: d }, () => random.normal());
  const second = Float64Array.from({ length: d }, () => random.normal());
  const data = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const u = 3 * random.normal();
    const v = 2 * random.normal();
    for (let j = 0; j < d; j++) data[i * d + j] = scales[j] * random.normal() + u * first[j] + v * second[j];
  }
  return data;
}

/** Top-k eigenpairs of the sample covariance (n − 1), formed densely and solved by tred2/tql2: the reference. */
function densePca(data: Float64Array, n: number, d: number, k: number): { values: number[]; vectors: Float64Array[] } {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += data[i * d + j] / n;
  const cov = new Float64Array(d * d);
  const centred = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) centred[j] = data[i * d + j] - mean[j];
    for (let a = 0; a < d; a++) {
      const ca = centred[a];
      for (let b = 0; b <= a; b++) cov[a * d + b] += ca * centred[b];
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = 0; b <= a; b++) {
      cov[a * d + b] /= n - 1;
      cov[b * d + a] = cov[a * d + b];
    }
  }
  const { values, vectors } = symmetricEigen(cov, d);
  return { values: Array.from(values.subarray(0, k)), vectors: Array.from({ length: k }, (_, i) => vectors.slice(i * d, (i + 1) * d)) };
}

function alignmentError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < b.length; j++) s += a[j] * b[j];
  return Math.max(0, 1 - Math.abs(s));
}

function pcaExactness(values: number[], vectors: ArrayLike<number>[], reference: { values: number[]; vectors: ArrayLike<number>[] }): string {
  const valueError = Math.max(...values.map((v, i) => Math.abs(v - reference.values[i]) / reference.values[i]));
  const vectorError = Math.max(...vectors.map((v, i) => alignmentError(v, reference.vectors[i])));
  return `λ rel ${valueError.toExponential(1)}, 1−|cos| ${vectorError.toExponential(1)}`;
}

function mlPca(data: Float64Array, n: number, d: number, method: 'covarianceMatrix', k: number): { values: number[]; vectors: number[][] } {
  const matrix = new Matrix(n, d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) matrix.set(i, j, data[i * d + j]);
  const model = new PCA(matrix, { method, center: true, scale: false });
  const eigenvectors = model.getEigenvectors();
  return { values: model.getEigenvalues().slice(0, k), vectors: Array.from({ length: k }, (_, i) => eigenvectors.getColumn(i)) };
}

function benchPca(quick: boolean): NumericsRow[] {
  const rows: NumericsRow[] = [];
  // The unit test's set: ±(1,1), ±0.3·(1,−1), eigenvalues 4/3 and 0.12 (n − 1), as sklearn.
  const small = Float64Array.from([1, 1, -1, -1, 0.3, -0.3, -0.3, 0.3]);
  const known = {
    values: [4 / 3, 0.12],
    vectors: [
      [Math.SQRT1_2, Math.SQRT1_2],
      [Math.SQRT1_2, -Math.SQRT1_2],
    ],
  };
  const oursSmall = pca(small, 4, 2, { components: 2 });
  const libSmall = mlPca(small, 4, 2, 'covarianceMatrix', 2);
  rows.push(
    row(
      'PCA',
      '4×2 (unit test set)',
      time(() => pca(small, 4, 2, { components: 2 }), 5),
      time(() => mlPca(small, 4, 2, 'covarianceMatrix', 2), 5),
      `vs exact (test: 1e-9): ours ${pcaExactness(oursSmall.explainedVariance, oursSmall.components, known)}; ml-pca ${pcaExactness(libSmall.values, libSmall.vectors, known)}`,
    ),
  );

  const n = quick ? 2000 : 10000;
  const d = 512;
  const data = syntheticFeatures(n, d, new Random(3));
  const reference = densePca(data, n, d, 2);
  const ours = pca(data, n, d, { components: 2 });
  const oursTime = time(() => pca(data, n, d, { components: 2 }), 1);
  // ml-pca's covariance method forms C (O(n·d²)) and solves it by tred2/tql2; its SVD method costs more still.
  const start = performance.now();
  const lib = mlPca(data, n, d, 'covarianceMatrix', 2);
  const libTime = (performance.now() - start) / 1000;
  rows.push(
    row(
      'PCA',
      `${n}×${d}, 2 components`,
      oursTime,
      libTime,
      `vs dense tred2/tql2: ours ${pcaExactness(ours.explainedVariance, ours.components, reference)}; ml-pca ${pcaExactness(lib.values, lib.vectors, reference)}`,
    ),
  );
  return rows;
}

// --- CART ---------------------------------------------------------------------------------------

/** Pooled-activation-like rows (non-negative) whose class follows two channels, with 10% label noise. */
function syntheticTreeData(n: number, d: number, random: Random): { rows: Float32Array[]; labels: number[] } {
  const rows = Array.from({ length: n }, () => Float32Array.from({ length: d }, () => Math.max(0, random.normal())));
  const labels = rows.map((r) => {
    const clean = (r[3] > 0.5 ? 1 : 0) + (r[17] > 0.8 ? 2 : 0);
    return random.next() < 0.1 ? random.int(4) : clean;
  });
  return { rows, labels };
}

function smallestLeaf(tree: DecisionTree): number {
  const walk = (node: DecisionTree['root']): number => (node.kind === 'leaf' ? node.n : Math.min(walk(node.left), walk(node.right)));
  return walk(tree.root);
}

function benchCart(quick: boolean): NumericsRow[] {
  const rows: NumericsRow[] = [];
  const random = new Random(11);
  const options = { maxDepth: 3, minLeaf: 5 };
  const test = syntheticTreeData(2000, 512, random);
  // ml-cart tests every candidate threshold by re-partitioning the node's rows: O(n²) per feature,
  // so it is timed on up to 1,000 rows and ours alone at 10,000.
  for (const n of quick ? [500] : [500, 1000, 10000]) {
    const { rows: x, labels } = syntheticTreeData(n, 512, random);
    const oursStart = performance.now();
    const ours = trainTree(x, labels, 4, options);
    const oursTime = (performance.now() - oursStart) / 1000;
    if (n > 1000) {
      rows.push(row('CART', `${n}×512, depth 3`, oursTime, undefined, `ml-cart not run: O(n²) per feature (${n}² × 512 gain evaluations at the root)`));
      continue;
    }
    const library = new DecisionTreeClassifier({ gainFunction: 'gini', maxDepth: options.maxDepth, minNumSamples: 2 * options.minLeaf, gainThreshold: 0 });
    const start = performance.now();
    library.train(
      x.map((r) => Array.from(r)),
      labels,
    );
    const libTime = (performance.now() - start) / 1000;
    const libPredictions = library.predict(test.rows.map((r) => Array.from(r)));
    const agreement = test.rows.filter((r, i) => libPredictions[i] === predictTree(ours, r)).length / test.rows.length;
    rows.push(
      row(
        'CART',
        `${n}×512, depth 3`,
        oursTime,
        libTime,
        `ml-cart agrees with ours (sklearn's tree) on ${(100 * agreement).toFixed(1)}% of 2000 held-out rows; smallest leaf: ours ${smallestLeaf(ours)}, ml-cart has no per-leaf minimum (minNumSamples only stops splitting a node)`,
      ),
    );
  }
  return rows;
}

// --- SLIC ---------------------------------------------------------------------------------------

function benchSlic(repeats: number): NumericsRow[] {
  const random = new Random(5);
  const data = Float32Array.from({ length: 3 * 224 * 224 }, () => random.normal());
  const input = float32([1, 3, 224, 224], data);
  return [
    row(
      'SLIC',
      '3×224×224, 50 segments',
      time(() => slic(input, 50, 10), repeats),
      undefined,
      'no SLIC on npm to weigh; ours standardises channels (no CIELAB), so no scikit-image parity is claimed',
    ),
  ];
}

export async function benchNumerics(quick: boolean): Promise<NumericsRow[]> {
  const repeats = quick ? 3 : 7;
  const rows = [...(await benchEigenCam(repeats)), benchSymmetricEigen(256, repeats), ...benchPca(quick), ...benchCart(quick), ...benchSlic(repeats)];
  console.log('\nNumerics: ours or a library (seconds, medians; library/ours above 1: the library is slower)');
  console.table(
    rows.map((r) => ({
      candidate: r.candidate,
      size: r.size,
      'ours s': r.ours_s.toFixed(4),
      'library s': r.library_s === undefined ? '—' : r.library_s.toFixed(4),
      'library/ours': r.library_over_ours === undefined ? '—' : r.library_over_ours.toFixed(2),
      exactness: r.exactness,
    })),
  );
  return rows;
}

if (require.main === module) {
  benchNumerics(process.argv.includes('--quick')).catch((err) => {
    console.error(`numerics bench failed: ${(err as Error).message}`);
    process.exit(1);
  });
}
