// Small dense linear algebra in float64, row-major: the symmetric eigenproblem, the top eigenpair
// of an operator (EigenCAM's principal component) and weighted least squares (LIME and Kernel
// SHAP surrogates).
import { Random } from '../random';

/**
 * Eigenvalues and eigenvectors of a symmetric n×n matrix, sorted by decreasing eigenvalue;
 * vectors[k * n + i] is component i of eigenvector k. Householder reduction to tridiagonal form,
 * then the implicit QL algorithm with Wilkinson shifts (EISPACK tred2/tql2, as in JAMA and numpy's
 * LAPACK routines): O(n³) with small constants, where cyclic Jacobi needs several O(n³) sweeps.
 */
export function symmetricEigen(matrix: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  // v holds the transformations column-major: v[j * n + k] is row k of column j.
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) v[j * n + i] = matrix[i * n + j];
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n > 0) {
    tridiagonalize(v, d, e, n);
    diagonalize(v, d, e, n);
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => d[j] - d[i]);
  const values = Float64Array.from(order, (i) => d[i]);
  const vectors = new Float64Array(n * n);
  order.forEach((col, k) => vectors.set(v.subarray(col * n, (col + 1) * n), k * n));
  return { values, vectors };
}

/**
 * The largest eigenvalue of a symmetric positive semi-definite operator on R^n and a unit
 * eigenvector for it, by Lanczos with full reorthogonalization from a seeded random start: the
 * top Ritz pair of the tridiagonal T_j = Q_jᵀ A Q_j (tql2) is accepted once its residual
 * ‖A v − θ v‖ = β_j |s_j| is at rounding level, n·ε·‖A‖, the precision of a dense solver; else the
 * basis grows, up to all of R^n, where T is A itself in another basis. Only products A·x are
 * needed (EigenCAM's Gram matrix is never formed), O(n) of them at most, usually a few tens.
 */
export function topEigenpair(apply: (x: Float64Array) => Float64Array, n: number): { value: number; vector: Float64Array } {
  const random = new Random(1);
  const basis: Float64Array[] = [];
  const alpha: number[] = [];
  const beta: number[] = [];
  let q = orthonormalStart(basis, n, random);
  let scale = 0;
  for (let j = 0; j < n; j++) {
    basis.push(q);
    const w = apply(q);
    alpha.push(dot(q, w));
    // Twice is enough (Kahan–Parlett): w ⟂ every basis vector to rounding.
    for (let pass = 0; pass < 2; pass++) for (const b of basis) axpy(-dot(b, w), b, w);
    const norm = Math.sqrt(dot(w, w));
    scale = Math.max(scale, Math.abs(alpha[j]), norm);
    // T's eigenproblem costs O(j³): solved at every step to 32, then at powers of two and at the end.
    if (j < 32 || (j & (j + 1)) === 0 || j === n - 1) {
      const ritz = topOfTridiagonal(alpha, beta);
      scale = Math.max(scale, Math.abs(ritz.value));
      const converged = norm * Math.abs(ritz.vector[j]) <= n * Number.EPSILON * scale;
      if (converged || j === n - 1) return { value: ritz.value, vector: combine(basis, ritz.vector, n) };
    }
    // A vanishing w means the basis spans an invariant subspace: go on from a new direction.
    const invariant = norm <= Number.EPSILON * scale;
    beta.push(invariant ? 0 : norm);
    if (invariant) q = orthonormalStart(basis, n, random);
    else {
      for (let i = 0; i < n; i++) w[i] /= norm;
      q = w;
    }
  }
  return { value: 0, vector: new Float64Array(n) };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function axpy(factor: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < y.length; i++) y[i] += factor * x[i];
}

/** A random unit vector orthogonal to the basis. */
function orthonormalStart(basis: Float64Array[], n: number, random: Random): Float64Array {
  for (;;) {
    const x = Float64Array.from({ length: n }, () => random.normal());
    for (let pass = 0; pass < 2; pass++) for (const b of basis) axpy(-dot(b, x), b, x);
    const norm = Math.sqrt(dot(x, x));
    if (norm > 1e-8) return x.map((v) => v / norm);
  }
}

/** The largest eigenvalue of the tridiagonal matrix (diagonal alpha, off-diagonal beta) and its unit eigenvector. */
function topOfTridiagonal(alpha: number[], beta: number[]): { value: number; vector: Float64Array } {
  const m = alpha.length;
  const d = Float64Array.from(alpha);
  const e = new Float64Array(m);
  for (let i = 1; i < m; i++) e[i] = beta[i - 1];
  const v = new Float64Array(m * m);
  for (let i = 0; i < m; i++) v[i * m + i] = 1;
  diagonalize(v, d, e, m);
  let top = 0;
  for (let i = 1; i < m; i++) if (d[i] > d[top]) top = i;
  return { value: d[top], vector: v.slice(top * m, (top + 1) * m) };
}

/** Σ_i coefficients[i] · basis[i], scaled to unit length. */
function combine(basis: Float64Array[], coefficients: Float64Array, n: number): Float64Array {
  const x = new Float64Array(n);
  basis.forEach((b, i) => axpy(coefficients[i], b, x));
  const norm = Math.sqrt(dot(x, x)) || 1;
  return x.map((v) => v / norm);
}

// tred2: A = Q T Qᵀ with T tridiagonal (diagonal d, off-diagonal e[1..n-1]); Q accumulated in v.
// a(k, j) = v[j * n + k]: the matrix is stored column-major (A is symmetric).
function tridiagonalize(v: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  const at = (row: number, col: number) => col * n + row;
  for (let j = 0; j < n; j++) d[j] = v[at(n - 1, j)];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = v[at(i - 1, j)];
        v[at(i, j)] = 0;
        v[at(j, i)] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = f > 0 ? -Math.sqrt(h) : Math.sqrt(h);
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        v[at(j, i)] = f;
        g = e[j] + v[at(j, j)] * f;
        const col = j * n;
        for (let k = j + 1; k <= i - 1; k++) {
          g += v[col + k] * d[k];
          e[k] += v[col + k] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        const col = j * n;
        for (let k = j; k <= i - 1; k++) v[col + k] -= f * e[k] + g * d[k];
        d[j] = v[at(i - 1, j)];
        v[at(i, j)] = 0;
      }
    }
    d[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    v[at(n - 1, i)] = v[at(i, i)];
    v[at(i, i)] = 1;
    const h = d[i + 1];
    const next = (i + 1) * n;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = v[next + k] / h;
      for (let j = 0; j <= i; j++) {
        const col = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += v[next + k] * v[col + k];
        for (let k = 0; k <= i; k++) v[col + k] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) v[next + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = v[at(n - 1, j)];
    v[at(n - 1, j)] = 0;
  }
  v[at(n - 1, n - 1)] = 1;
  e[0] = 0;
}

// tql2: the eigenvalues of T in d, the eigenvectors (columns of v) rotated along.
function diagonalize(v: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n && Math.abs(e[m]) > eps * tst1) m++;
    if (m === n) m = n - 1;
    for (let iteration = 0; m > l && Math.abs(e[l]) > eps * tst1 && iteration < 64; iteration++) {
      let g = d[l];
      let p = (d[l + 1] - g) / (2 * e[l]);
      let r = Math.hypot(p, 1);
      if (p < 0) r = -r;
      d[l] = e[l] / (p + r);
      d[l + 1] = e[l] * (p + r);
      const dl1 = d[l + 1];
      let h = g - d[l];
      for (let i = l + 2; i < n; i++) d[i] -= h;
      f += h;
      p = d[m];
      let c = 1;
      let c2 = c;
      let c3 = c;
      const el1 = e[l + 1];
      let s = 0;
      let s2 = 0;
      for (let i = m - 1; i >= l; i--) {
        c3 = c2;
        c2 = c;
        s2 = s;
        g = c * e[i];
        h = c * p;
        r = Math.hypot(p, e[i]);
        e[i + 1] = s * r;
        s = e[i] / r;
        c = p / r;
        p = c * d[i] - s * g;
        d[i + 1] = h + s * (c * g + s * d[i]);
        const left = i * n;
        const right = (i + 1) * n;
        for (let k = 0; k < n; k++) {
          const vk1 = v[right + k];
          v[right + k] = s * v[left + k] + c * vk1;
          v[left + k] = c * v[left + k] - s * vk1;
        }
      }
      p = (-s * s2 * c3 * el1 * e[l]) / dl1;
      e[l] = s * p;
      d[l] = c * p;
    }
    d[l] += f;
    e[l] = 0;
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
