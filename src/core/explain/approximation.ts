// Integral approximation for Integrated Gradients, as Captum's attr/_utils/approximation_methods:
// step sizes (summing to ≤ 1) and the points α in [0, 1] where the integrand is evaluated.
// Riemann: n equal steps 1/n at linspace-defined points (trapezoid halves the first and last step
// and uses linspace(0, 1, n)); Gauss–Legendre: numpy leggauss(n) nodes and weights scaled from
// [−1, 1] to [0, 1].

export const APPROXIMATION_METHODS = ['gausslegendre', 'riemann_trapezoid', 'riemann_left', 'riemann_right', 'riemann_middle'] as const;
export type ApproximationMethod = (typeof APPROXIMATION_METHODS)[number];

function linspace(start: number, stop: number, n: number): number[] {
  if (n === 1) return [start];
  return Array.from({ length: n }, (_, i) => start + ((stop - start) * i) / (n - 1));
}

/** Nodes (ascending) and weights of n-point Gauss–Legendre quadrature on [−1, 1]. */
export function gaussLegendre(n: number): { nodes: number[]; weights: number[] } {
  const nodes: number[] = [];
  const weights: number[] = [];
  for (let i = 1; i <= n; i++) {
    let x = Math.cos((Math.PI * (i - 0.25)) / (n + 0.5));
    let derivative = 0;
    for (let iter = 0; iter < 100; iter++) {
      let p0 = 1;
      let p1 = x;
      for (let j = 2; j <= n; j++) {
        const p2 = ((2 * j - 1) * x * p1 - (j - 1) * p0) / j;
        p0 = p1;
        p1 = p2;
      }
      // p1 = P_n(x), p0 = P_{n−1}(x)
      derivative = (n * (x * p1 - p0)) / (x * x - 1);
      const dx = p1 / derivative;
      x -= dx;
      if (Math.abs(dx) < 1e-15) break;
    }
    nodes.push(x);
    weights.push(2 / ((1 - x * x) * derivative * derivative));
  }
  const order = nodes.map((_, i) => i).sort((a, b) => nodes[a] - nodes[b]);
  return { nodes: order.map((i) => nodes[i]), weights: order.map((i) => weights[i]) };
}

export function approximationParameters(method: ApproximationMethod, n: number): { stepSizes: number[]; alphas: number[] } {
  if (method === 'gausslegendre') {
    const { nodes, weights } = gaussLegendre(n);
    return { stepSizes: weights.map((w) => 0.5 * w), alphas: nodes.map((x) => 0.5 * (1 + x)) };
  }
  if (n < 2) throw new RangeError('Riemann approximations need at least 2 steps');
  const stepSizes = new Array<number>(n).fill(1 / n);
  if (method === 'riemann_trapezoid') {
    stepSizes[0] /= 2;
    stepSizes[n - 1] /= 2;
    return { stepSizes, alphas: linspace(0, 1, n) };
  }
  const alphas = method === 'riemann_left' ? linspace(0, 1 - 1 / n, n) : method === 'riemann_right' ? linspace(1 / n, 1, n) : linspace(1 / (2 * n), 1 - 1 / (2 * n), n);
  return { stepSizes, alphas };
}
