// Small dense linear algebra in float64, row-major: the symmetric eigenproblem (EigenCAM's
// principal component) and weighted least squares (LIME and Kernel SHAP surrogates).

/**
 * Eigenvalues and eigenvectors of a symmetric n×n matrix by cyclic Jacobi rotations, sorted by
 * decreasing eigenvalue; vectors[k * n + i] is component i of eigenvector k.
 */
export function symmetricEigen(matrix: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  // The Frobenius norm is invariant under the rotations: converged when the off-diagonal mass is
  // negligible against it.
  let frobenius2 = 0;
  for (const x of a) frobenius2 += x * x;
  const negligible = 1e-16 * Math.sqrt(frobenius2);
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    if (off <= 1e-26 * frobenius2) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) <= negligible) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        rotate(a, v, n, p, q, c, s);
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j * n + j] - a[i * n + i]);
  const values = Float64Array.from(order, (i) => a[i * n + i]);
  const vectors = new Float64Array(n * n);
  order.forEach((col, k) => {
    for (let i = 0; i < n; i++) vectors[k * n + i] = v[i * n + col];
  });
  return { values, vectors };
}

// Applies the Jacobi rotation J(p, q, θ): A ← JᵀAJ, V ← VJ.
function rotate(a: Float64Array, v: Float64Array, n: number, p: number, q: number, c: number, s: number): void {
  for (let k = 0; k < n; k++) {
    const akp = a[k * n + p];
    const akq = a[k * n + q];
    a[k * n + p] = c * akp - s * akq;
    a[k * n + q] = s * akp + c * akq;
  }
  for (let k = 0; k < n; k++) {
    const apk = a[p * n + k];
    const aqk = a[q * n + k];
    a[p * n + k] = c * apk - s * aqk;
    a[q * n + k] = s * apk + c * aqk;
  }
  for (let k = 0; k < n; k++) {
    const vkp = v[k * n + p];
    const vkq = v[k * n + q];
    v[k * n + p] = c * vkp - s * vkq;
    v[k * n + q] = s * vkp + c * vkq;
  }
}

/** Solves the symmetric positive-definite system A x = b by Cholesky; throws if A is not positive definite. */
export function solveCholesky(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * n + j];
      for (let k = 0; k < j; k++) sum -= l[i * n + k] * l[j * n + k];
      if (i === j) {
        if (!(sum > 0)) throw new RangeError('matrix is not positive definite');
        l[i * n + i] = Math.sqrt(sum);
      } else l[i * n + j] = sum / l[j * n + j];
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = b[i];
    for (let k = 0; k < i; k++) sum -= l[i * n + k] * y[k];
    y[i] = sum / l[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let sum = y[i];
    for (let k = i + 1; k < n; k++) sum -= l[k * n + i] * x[k];
    x[i] = sum / l[i * n + i];
  }
  return x;
}

export interface LinearFit {
  coefficients: Float64Array;
  intercept: number;
  /** Weighted coefficient of determination on the fitted samples (sklearn's score with sample_weight). */
  r2: number;
}

/**
 * Weighted linear regression with an intercept and an L2 penalty `alpha` on the coefficients only,
 * as sklearn Ridge(alpha, fit_intercept=True).fit(X, y, sample_weight) (alpha = 0: LinearRegression).
 * X is rows × cols, row-major. A vanishing ridge keeps rank-deficient designs solvable.
 */
export function weightedRidge(x: Float64Array, y: Float64Array, weights: Float64Array, rows: number, cols: number, alpha: number): LinearFit {
  let wSum = 0;
  for (const w of weights) wSum += w;
  const xMean = new Float64Array(cols);
  let yMean = 0;
  for (let r = 0; r < rows; r++) {
    yMean += weights[r] * y[r];
    for (let c = 0; c < cols; c++) xMean[c] += weights[r] * x[r * cols + c];
  }
  yMean /= wSum;
  for (let c = 0; c < cols; c++) xMean[c] /= wSum;
  const gram = new Float64Array(cols * cols);
  const rhs = new Float64Array(cols);
  const xc = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const w = weights[r];
    for (let c = 0; c < cols; c++) xc[c] = x[r * cols + c] - xMean[c];
    const yc = y[r] - yMean;
    for (let i = 0; i < cols; i++) {
      const wi = w * xc[i];
      if (wi === 0) continue;
      rhs[i] += wi * yc;
      for (let j = 0; j <= i; j++) gram[i * cols + j] += wi * xc[j];
    }
  }
  let trace = 0;
  for (let i = 0; i < cols; i++) trace += gram[i * cols + i];
  const jitter = Math.max(alpha, 1e-10 * (trace / cols || 1));
  for (let i = 0; i < cols; i++) {
    gram[i * cols + i] += jitter;
    for (let j = 0; j < i; j++) gram[j * cols + i] = gram[i * cols + j];
  }
  const coefficients = solveCholesky(gram, rhs, cols);
  let intercept = yMean;
  for (let c = 0; c < cols; c++) intercept -= xMean[c] * coefficients[c];
  return { coefficients, intercept, r2: rSquared(x, y, weights, coefficients, intercept, cols) };
}

/** Weighted coefficient of determination of a linear model on rows of x (sklearn's r2_score with sample_weight). */
export function rSquared(x: Float64Array, y: Float64Array, weights: Float64Array, coefficients: Float64Array, intercept: number, cols: number): number {
  let wSum = 0;
  let yMean = 0;
  for (let r = 0; r < y.length; r++) {
    wSum += weights[r];
    yMean += weights[r] * y[r];
  }
  yMean /= wSum;
  let ssRes = 0;
  let ssTot = 0;
  for (let r = 0; r < y.length; r++) {
    let pred = intercept;
    for (let c = 0; c < cols; c++) pred += x[r * cols + c] * coefficients[c];
    ssRes += weights[r] * (y[r] - pred) ** 2;
    ssTot += weights[r] * (y[r] - yMean) ** 2;
  }
  return ssTot > 0 ? 1 - ssRes / ssTot : 1;
}
