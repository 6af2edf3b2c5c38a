// Explains a difference between two input gradients of a ReLU/ReLU6 network as units whose
// activation input lies at a kink, where two float implementations (onnxruntime with BatchNorm
// folded into the Conv weights at export, PyTorch with BatchNorm unfused) can put the unit on
// different sides. Flipping unit u's mask changes the input gradient by
//   Δ_u = s_u · (∂L/∂out_u) · ∂x_u/∂input,   s_u = -1 if our rule passed the unit, +1 if it blocked it.
// Candidates are the units with |x_u - kink| < band. Each round ranks them by their first-order
// effect on the residual r = reference - ours, s_u·(∂L/∂out_u)·⟨∂x_u/∂input, r⟩ (one JVP for all
// units: a central difference of x along r), computes Δ_u exactly (one backward run each) for the
// best few, and keeps those that reduce |r| (greedy matching pursuit).
import { computeGradients } from '../../../src/core/autodiff/gradients';
import { ConvModel } from '../../../src/core/model';
import { Tensor, maxAbs } from '../../../src/core/tensor';

export interface KinkFlip {
  node: string;
  unit: number;
  distance: number;
}

export interface KinkExplanation {
  flips: KinkFlip[];
  /** max |reference - (ours + Σ Δ_u over the flips)| */
  residual: number;
}

interface Candidate {
  layer: number;
  unit: number;
  distance: number;
  /** s_u · ∂L/∂out_u */
  weight: number;
}

const CANDIDATES_PER_ROUND = 6;
const MAX_ROUNDS = 6;

export async function explainByKinkFlips(
  model: ConvModel,
  feeds: Record<string, Tensor>,
  seed: Tensor,
  reference: Float32Array,
  band: number,
  tolerance: number,
): Promise<KinkExplanation> {
  const input = model.input.name;
  const nodes = model.graph.node.filter((n) => n.op_type === 'Relu' || n.op_type === 'Clip');
  const pre = nodes.map((n) => n.input[0]);
  const post = nodes.map((n) => n.output[0]);
  // The masks are decided by the pre-activations of the very session that computes the gradient:
  // another graph variant may round differently at this scale.
  const { gradients, outputs } = await computeGradients(model, feeds, { wrt: [input, ...pre, ...post], seed });
  const bounds = await model.run(
    feeds,
    nodes.flatMap((n) => (n.op_type === 'Clip' ? n.input.slice(1).filter(Boolean) : [])),
  );
  const candidates: Candidate[] = [];
  nodes.forEach((n, layer) => {
    const [, lo, hi] = n.op_type === 'Clip' ? n.input : [];
    const min = lo ? Number(bounds[lo].data[0]) : n.op_type === 'Relu' ? 0 : -Infinity;
    const max = hi ? Number(bounds[hi].data[0]) : Infinity;
    const x = outputs[pre[layer]].data as Float32Array;
    const dy = gradients[post[layer]].data as Float32Array;
    x.forEach((v, unit) => {
      const distance = Math.min(Math.abs(v - min), Math.abs(v - max));
      if (distance < band) candidates.push({ layer, unit, distance, weight: (v > min && v < max ? -1 : 1) * dy[unit] });
    });
  });

  const current = Float64Array.from(gradients[input].data as Float32Array);
  const residualOf = (g: Float64Array) => Float64Array.from(reference, (v, i) => v - g[i]);
  const squared = (r: Float64Array) => r.reduce((s, v) => s + v * v, 0);
  const flips: KinkFlip[] = [];
  const tried = new Set<Candidate>();
  for (let round = 0; round < MAX_ROUNDS && maxAbs(residualOf(current)) > tolerance; round++) {
    const r = residualOf(current);
    const best = await rankByFirstOrderEffect(
      model,
      feeds,
      input,
      pre,
      candidates.filter((c) => !tried.has(c)),
      r,
    );
    let improved = false;
    for (const c of best.slice(0, CANDIDATES_PER_ROUND)) {
      tried.add(c);
      const unitSeed: Tensor = { dtype: 'float32', dims: outputs[pre[c.layer]].dims, data: new Float32Array(outputs[pre[c.layer]].data.length) };
      unitSeed.data[c.unit] = 1;
      const jacobianRow = (await computeGradients(model, feeds, { wrt: [input], output: pre[c.layer], seed: unitSeed })).gradients[input].data as Float32Array;
      const next = current.map((v, i) => v + c.weight * jacobianRow[i]);
      if (squared(residualOf(next)) < 0.99 * squared(residualOf(current))) {
        current.set(next);
        flips.push({ node: nodes[c.layer].name ?? nodes[c.layer].op_type, unit: c.unit, distance: c.distance });
        improved = true;
      }
    }
    if (!improved) break;
  }
  return { flips, residual: maxAbs(residualOf(current)) };
}

/** Candidates sorted by s_u·(∂L/∂out_u)·⟨∂x_u/∂input, r⟩, the first-order reduction of |r|² from flipping u. */
async function rankByFirstOrderEffect(
  model: ConvModel,
  feeds: Record<string, Tensor>,
  input: string,
  pre: string[],
  candidates: Candidate[],
  r: Float64Array,
): Promise<Candidate[]> {
  const x = feeds[input].data as Float32Array;
  const step = (1e-3 * maxAbs(x)) / maxAbs(r);
  const shifted = (sign: number) => model.run({ ...feeds, [input]: { ...feeds[input], data: x.map((v, i) => v + sign * step * r[i]) } }, pre);
  const plus = await shifted(1);
  const minus = await shifted(-1);
  const effect = (c: Candidate) => (c.weight * (Number(plus[pre[c.layer]].data[c.unit]) - Number(minus[pre[c.layer]].data[c.unit]))) / (2 * step);
  return candidates
    .map((c) => ({ c, e: effect(c) }))
    .sort((a, b) => b.e - a.e)
    .map(({ c }) => c);
}
