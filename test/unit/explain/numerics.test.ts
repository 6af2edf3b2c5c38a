// The numerical building blocks: resampling conventions, quadrature, linear algebra, superpixels,
// option checking.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { resizeBilinear, resizeBilinearAlignCorners, resizeNearest } from '../../../src/core/image/resize';
import { approximationParameters, gaussLegendre } from '../../../src/core/explain/approximation';
import { symmetricEigen, topEigenpair, weightedRidge } from '../../../src/core/explain/linalg';
import { slic } from '../../../src/core/explain/superpixels';
import { resolveOptions } from '../../../src/core/explain/options';
import { explain, methodNames, METHODS } from '../../../src/core/explain';
import { attributionToMap, camToMap, cumulativeSumThreshold } from '../../../src/core/explain/postprocess';
import { float32 } from '../../../src/core/tensor';
import { Random } from '../../../src/core/random';

function near(actual: ArrayLike<number>, expected: number[], tol: number, what: string): void {
  assert.strictEqual(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}] = ${actual[i]}, expected ${expected[i]}`);
  }
}

describe('explain: resampling', () => {
  const src = [1, 2, 3, 4];
  it('resizeBilinear follows cv2 INTER_LINEAR (half-pixel centres, edges clamped)', () => {
    near(resizeBilinear(src, 2, 2, 4, 4), [1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4], 1e-6, 'bilinear');
    near(resizeBilinear([0, 3, 6], 1, 3, 1, 2), [0.75, 5.25], 1e-6, 'downscale');
  });
  it('resizeBilinearAlignCorners follows torch UpsamplingBilinear2d', () => {
    near(resizeBilinearAlignCorners([1, 2], 1, 2, 1, 4), [1, 4 / 3, 5 / 3, 2], 1e-6, 'align corners');
  });
  it('resizeNearest takes floor(dst · in/out)', () => {
    near(resizeNearest(src, 2, 2, 4, 4), [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4], 0, 'nearest');
    near(resizeNearest([0, 1, 2], 1, 3, 1, 7), [0, 0, 0, 1, 1, 2, 2], 0, 'nearest 3 → 7');
  });
  it('refuses sizes that do not match the data', () => {
    assert.throws(() => resizeBilinear([1, 2, 3], 2, 2, 4, 4), /do not form a 2×2 map/);
  });
});

describe('explain: integral approximations (Captum approximation_methods)', () => {
  it('Gauss–Legendre nodes and weights', () => {
    const { nodes, weights } = gaussLegendre(3);
    near(nodes, [-Math.sqrt(0.6), 0, Math.sqrt(0.6)], 1e-14, 'nodes');
    near(weights, [5 / 9, 8 / 9, 5 / 9], 1e-14, 'weights');
    const p = approximationParameters('gausslegendre', 50);
    assert.ok(Math.abs(p.stepSizes.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    // Exact for polynomials of degree ≤ 2n − 1: ∫₀¹ α⁹ dα = 1/10 with n = 5.
    const q = approximationParameters('gausslegendre', 5);
    assert.ok(Math.abs(q.alphas.reduce((s, a, i) => s + q.stepSizes[i] * a ** 9, 0) - 0.1) < 1e-13);
  });
  it('Riemann rules', () => {
    const t = approximationParameters('riemann_trapezoid', 4);
    near(t.alphas, [0, 1 / 3, 2 / 3, 1], 1e-15, 'trapezoid alphas');
    near(t.stepSizes, [1 / 8, 1 / 4, 1 / 4, 1 / 8], 1e-15, 'trapezoid steps');
    near(approximationParameters('riemann_left', 4).alphas, [0, 0.25, 0.5, 0.75], 1e-15, 'left');
    near(approximationParameters('riemann_right', 4).alphas, [0.25, 0.5, 0.75, 1], 1e-15, 'right');
    near(approximationParameters('riemann_middle', 4).alphas, [0.125, 0.375, 0.625, 0.875], 1e-15, 'middle');
  });
});

describe('explain: linear algebra', () => {
  it('symmetricEigen finds eigenpairs, largest first', () => {
    const r = new Random(1);
    const n = 12;
    const b = Float64Array.from({ length: n * n }, () => r.normal());
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j] += b[i * n + k] * b[j * n + k];
    const { values, vectors } = symmetricEigen(a, n);
    for (let k = 0; k < n; k++) {
      if (k > 0) assert.ok(values[k] <= values[k - 1]);
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let j = 0; j < n; j++) av += a[i * n + j] * vectors[k * n + j];
        assert.ok(Math.abs(av - values[k] * vectors[k * n + i]) < 1e-9 * values[0], `eigenpair ${k}`);
      }
    }
  });
  it('topEigenpair (Lanczos on products A·x) finds the largest eigenpair, also of a centred Gram matrix whose null space holds the ones vector', () => {
    const r = new Random(3);
    for (const [n, rank, centred] of [
      [12, 12, false],
      [40, 3, true],
      [30, 60, true],
    ] as [number, number, boolean][]) {
      const b = Float64Array.from({ length: n * rank }, () => r.normal());
      if (centred)
        for (let k = 0; k < rank; k++) {
          let mean = 0;
          for (let i = 0; i < n; i++) mean += b[i * rank + k] / n;
          for (let i = 0; i < n; i++) b[i * rank + k] -= mean;
        }
      const a = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < rank; k++) a[i * n + j] += b[i * rank + k] * b[j * rank + k];
      const times = (x: Float64Array) => Float64Array.from({ length: n }, (_, i) => a.subarray(i * n, (i + 1) * n).reduce((s, v, j) => s + v * x[j], 0));
      const { value, vector } = topEigenpair(times, n);
      const full = symmetricEigen(a, n);
      assert.ok(Math.abs(value - full.values[0]) <= 1e-12 * full.values[0], `n = ${n}: ${value} vs ${full.values[0]}`);
      const av = times(vector);
      for (let i = 0; i < n; i++) assert.ok(Math.abs(av[i] - value * vector[i]) < 1e-12 * value, `n = ${n}: residual at ${i}`);
    }
  });
  it('weightedRidge: exact on a linear target, and shrinks with alpha as sklearn Ridge', () => {
    const rows = 40;
    const cols = 3;
    const r = new Random(2);
    const x = Float64Array.from({ length: rows * cols }, () => r.next());
    const w = Float64Array.from({ length: rows }, () => 0.5 + r.next());
    const y = Float64Array.from({ length: rows }, (_, i) => 2 + 1 * x[i * 3] - 3 * x[i * 3 + 1] + 0.5 * x[i * 3 + 2]);
    const fit = weightedRidge(x, y, w, rows, cols, 0);
    near(fit.coefficients, [1, -3, 0.5], 1e-8, 'coefficients');
    assert.ok(Math.abs(fit.intercept - 2) < 1e-8 && Math.abs(fit.r2 - 1) < 1e-12);
    // One feature, centred: β = Σw xc yc / (Σw xc² + α).
    const x1 = Float64Array.from([0, 1, 2, 3]);
    const y1 = Float64Array.from([1, 3, 2, 5]);
    const w1 = Float64Array.from([1, 2, 1, 1]);
    const ridge = weightedRidge(x1, y1, w1, 4, 1, 1);
    const wsum = 5;
    const xm = (0 + 2 + 2 + 3) / wsum;
    const ym = (1 + 6 + 2 + 5) / wsum;
    const sxy = [0, 1, 2, 3].reduce((s, i) => s + w1[i] * (x1[i] - xm) * (y1[i] - ym), 0);
    const sxx = [0, 1, 2, 3].reduce((s, i) => s + w1[i] * (x1[i] - xm) ** 2, 0);
    assert.ok(Math.abs(ridge.coefficients[0] - sxy / (sxx + 1)) < 1e-12);
  });
});

describe('explain: SLIC superpixels', () => {
  it('covers the image with connected segments that follow a colour edge', () => {
    const side = 32;
    const img = float32([1, 3, side, side]);
    for (let c = 0; c < 3; c++) for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) img.data[(c * side + y) * side + x] = x < 13 ? -1 : 1;
    const seg = slic(img, 16, 1);
    assert.ok(seg.count >= 8 && seg.count <= 32, `${seg.count} segments`);
    const seen = new Set(seg.labels);
    assert.strictEqual(seen.size, seg.count);
    assert.ok([...seen].every((l) => l >= 0 && l < seg.count));
    for (let l = 0; l < seg.count; l++) {
      const sides = new Set<boolean>();
      for (let p = 0; p < seg.labels.length; p++) if (seg.labels[p] === l) sides.add(p % side < 13);
      assert.strictEqual(sides.size, 1, `segment ${l} straddles the edge`);
    }
    // Connected: a flood fill from one pixel of each segment reaches all of it.
    for (let l = 0; l < seg.count; l++) {
      const pixels = [...seg.labels.keys()].filter((p) => seg.labels[p] === l);
      const reached = new Set([pixels[0]]);
      const queue = [pixels[0]];
      while (queue.length) {
        const p = queue.pop()!;
        for (const q of [p - 1, p + 1, p - side, p + side]) {
          const ok = q >= 0 && q < side * side && Math.abs((q % side) - (p % side)) <= 1;
          if (ok && seg.labels[q] === l && !reached.has(q)) {
            reached.add(q);
            queue.push(q);
          }
        }
      }
      assert.strictEqual(reached.size, pixels.length, `segment ${l} is not connected`);
    }
  });
});

describe('explain: maps', () => {
  it('camToMap: ReLU, min-max, upsampling, min-max again — values in [0, 1] with the peak at 1', () => {
    const { map } = camToMap(float32([1, 2, 2], [-1, 0.5, 1, 2]), [8, 8]);
    const v = map.data as Float32Array;
    assert.ok(Math.abs(Math.max(...v) - 1) < 1e-6 && Math.abs(Math.min(...v)) < 1e-6);
    assert.strictEqual(v[0], 0);
    assert.ok(v[63] > 0.999);
  });
  it('cumulativeSumThreshold by buckets equals the threshold over the fully sorted values', () => {
    const r = new Random(4);
    const sortedThreshold = (values: Float32Array, percentile: number) => {
      const sorted = Float64Array.from(values).sort();
      const goal = sorted.reduce((a, b) => a + b, 0) * 0.01 * percentile;
      let sum = 0;
      for (const v of sorted) if ((sum += v) >= goal) return v;
      return sorted[sorted.length - 1];
    };
    const n = 50176;
    const cases = {
      normal: Float32Array.from({ length: n }, () => Math.abs(r.normal())),
      'heavy tail': Float32Array.from({ length: n }, () => Math.abs(r.normal()) ** 6),
      'mostly zero': Float32Array.from({ length: n }, (_, i) => (i % 3 ? 0 : Math.abs(r.normal()))),
      'few values': Float32Array.from({ length: n }, () => Math.floor(r.next() * 4)),
    };
    for (const [what, values] of Object.entries(cases)) {
      for (const percentile of [0, 50, 98, 99.9, 100]) {
        assert.strictEqual(cumulativeSumThreshold(values, percentile), sortedThreshold(values, percentile), `${what}, ${percentile}%`);
      }
    }
  });
  it("attributionToMap scales as Captum's visualize_image_attr (cumulative-mass threshold, clipped)", () => {
    assert.strictEqual(cumulativeSumThreshold(Float32Array.from([1, 1, 1, 97]), 98), 97);
    assert.strictEqual(cumulativeSumThreshold(Float32Array.from([1, 2, 3, 4]), 50), 3);
    const attr = float32([1, 2, 1, 2], [1, -2, 3, 4]);
    near(attributionToMap(attr, 'absolute', 0).map.data as Float32Array, [4 / 6, 1], 1e-7, 'absolute');
    assert.deepStrictEqual(Array.from(attributionToMap(attr, 'signed', 0).map.data as Float32Array), [1, 0.75]);
    assert.deepStrictEqual(Array.from(attributionToMap(attr, 'positive', 0).map.data as Float32Array), [1, 0.5]);
  });
});

describe('explain: registry and options', () => {
  it('lists every method once, each with a formula and a reference, all offered by the defaultMethod setting', () => {
    const names = methodNames();
    assert.strictEqual(new Set(names).size, names.length, 'no method registered twice');
    for (const name of names) assert.ok(METHODS[name].formula && METHODS[name].reference, name);
    // package.json's convlens.defaultMethod enum offers exactly the registered methods.
    const manifest = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../../package.json'), 'utf8'));
    assert.deepStrictEqual([...manifest.contributes.configuration.properties['convlens.defaultMethod'].enum].sort(), [...names].sort());
  });
  it('fills defaults, parses strings, and refuses unknown options and bad values with one sentence', () => {
    const specs = METHODS['integrated-gradients'].options;
    assert.deepStrictEqual(resolveOptions('integrated-gradients', specs, { steps: '20' }).steps, 20);
    assert.strictEqual(resolveOptions('integrated-gradients', specs, {}).method, 'gausslegendre');
    assert.throws(() => resolveOptions('integrated-gradients', specs, { stepz: 3 }), /has no option 'stepz'; it takes steps, method/);
    assert.throws(() => resolveOptions('integrated-gradients', specs, { steps: 0 }), /'steps' must be at least 1/);
    assert.throws(() => resolveOptions('integrated-gradients', specs, { method: 'simpson' }), /must be one of gausslegendre/);
    assert.deepStrictEqual(resolveOptions('occlusion', METHODS.occlusion.options, { window: '3,32,32' }).window, [3, 32, 32]);
  });
  it('refuses an unknown method, naming the methods', async () => {
    await assert.rejects(explain('gradcam+++', {} as never), /unknown explanation method 'gradcam\+\+\+'; the methods are cam, gradcam/);
  });
});
