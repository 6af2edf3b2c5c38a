// Small ONNX graphs built in tests, and the finite-difference check of their gradient models:
// for L = Σ seed·y, the gradient model's dL/dx must match (L(x + h·e_i) - L(x - h·e_i)) / 2h.
import * as assert from 'assert';
import { AttributeProto, GraphProto, ModelProto, NodeProto, ValueInfoProto, encodeModel } from '../../../src/core/onnx/proto';
import { DATA_TYPE_OF, tensorToProto } from '../../../src/core/onnx/initializers';
import { seededRandom } from '../../../src/core/random';
import { createSession, run, RuntimeSession } from '../../../src/core/onnx/session';
import { Tensor, sizeOf } from '../../../src/core/tensor';
import { buildGradientModel } from '../../../src/core/autodiff/build';
import { RuleOverrides } from '../../../src/core/autodiff/rule';
import { probeShapeSetsWithOnnxRuntime, probeShapes } from '../../../src/core/autodiff/shapes';
import { inferShapes } from '../../../src/core/onnx/shape-inference';

export { attr } from '../../../src/core/autodiff/emitter';

export type FloatType = 'float32' | 'float64';

export function node(op: string, inputs: string[], outputs: string[], attributes: AttributeProto[] = []): NodeProto {
  return { op_type: op, name: `/test/${op}_${outputs[0]}`, input: inputs, output: outputs, attribute: attributes };
}

export function tensor(dtype: FloatType, dims: number[], values: ArrayLike<number>): Tensor {
  return { dtype, dims, data: dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values) };
}

/**
 * Values spread evenly over [-scale, scale] in random order: no two closer than 2·scale/n and
 * none closer than scale/n to 0, so a small perturbation crosses no kink of max, ReLU or ties.
 */
export function separated(dims: number[], seed: number, scale = 2, dtype: FloatType = 'float32'): Tensor {
  const n = sizeOf(dims);
  const rand = seededRandom(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return tensor(
    dtype,
    dims,
    order.map((k) => scale * ((2 * (k + 0.5)) / n - 1)),
  );
}

export function uniform(dims: number[], seed: number, low = -1, high = 1, dtype: FloatType = 'float32'): Tensor {
  const rand = seededRandom(seed);
  return tensor(
    dtype,
    dims,
    Array.from({ length: sizeOf(dims) }, () => low + (high - low) * rand()),
  );
}

function irVersion(opset: number): number {
  return opset <= 14 ? 7 : opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
}

export function valueInfo(name: string, dtype: FloatType | 'int64', dims?: number[]): ValueInfoProto {
  return { name, type: { tensor_type: { elem_type: DATA_TYPE_OF[dtype], ...(dims ? { shape: { dim: dims.map((d) => ({ dim_value: d })) } } : {}) } } };
}

export interface GraphSpec {
  opset: number;
  nodes: NodeProto[];
  /** Graph inputs (fed, and differentiated unless `wrt` says otherwise). */
  inputs: Record<string, Tensor>;
  initializers?: Record<string, Tensor>;
  output: string;
  /** Element type of the output when it is not that of the first input. */
  outputType?: FloatType | 'int64';
}

export function makeModel(spec: GraphSpec): ModelProto {
  return {
    ir_version: irVersion(spec.opset),
    opset_import: [{ domain: '', version: spec.opset }],
    graph: {
      name: 'test',
      node: spec.nodes,
      input: Object.entries(spec.inputs).map(([name, t]) => valueInfo(name, t.dtype as FloatType, t.dims)),
      output: [valueInfo(spec.output, spec.outputType ?? (spec.inputs[Object.keys(spec.inputs)[0]].dtype as FloatType))],
      initializer: Object.entries(spec.initializers ?? {}).map(([name, t]) => tensorToProto(name, t)),
    },
  };
}

/** A copy whose inputs have symbolic dims and whose outputs have no shape: it runs at any size the graph allows. */
export function withSymbolicShapes(model: ModelProto): ModelProto {
  const graph = model.graph as GraphProto;
  const relax = (v: ValueInfoProto, keepShape: boolean): ValueInfoProto => {
    const tensorType = v.type?.tensor_type;
    const dims = tensorType?.shape?.dim ?? [];
    const shape = keepShape ? { shape: { dim: dims.map((_, i) => ({ dim_param: `${v.name}_${i}` })) } } : {};
    return { ...v, type: { tensor_type: { elem_type: tensorType?.elem_type, ...shape } } };
  };
  return { ...model, graph: { ...graph, input: (graph.input ?? []).map((v) => relax(v, true)), output: (graph.output ?? []).map((v) => relax(v, false)), value_info: [] } };
}

export interface CheckOptions {
  /** Tensors to differentiate; default: every graph input. */
  wrt?: string[];
  /** Finite-difference step. */
  step?: number;
  /** Allowed max |analytic - numeric| relative to max |numeric|. */
  rtol?: number;
  /** Absolute allowance added to the relative one (float32 rounding of L). */
  atol?: number;
  overrides?: RuleOverrides;
  /** Check at most this many coordinates per input (spread evenly). */
  maxCoordinates?: number;
}

export interface CheckResult {
  maxDiff: number;
  maxNumeric: number;
  analytic: Record<string, Tensor>;
  seed: Tensor;
}

function lossOf(outputs: Tensor, seed: Tensor): number {
  let sum = 0;
  for (let i = 0; i < seed.data.length; i++) sum += Number(seed.data[i]) * Number(outputs.data[i]);
  return sum;
}

async function forward(session: RuntimeSession, feeds: Record<string, Tensor>, output: string): Promise<Tensor> {
  return (await run(session, feeds, [output]))[output];
}

/**
 * Where the shape rules cover a graph (onnx/shape-inference.ts), which the probe then takes without
 * onnxruntime, their dims must be onnxruntime's: every op-by-op gradient check checks them too.
 */
async function assertRulesAgreeWithOnnxRuntime(model: ModelProto, feeds: Record<string, Tensor>): Promise<void> {
  const [inferred] = inferShapes(model, [feeds]) ?? [];
  if (!inferred) return;
  const [probed] = await probeShapeSetsWithOnnxRuntime(model, [feeds]);
  const sorted = (dims: Map<string, number[]>) => [...dims.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  assert.deepStrictEqual(sorted(inferred), sorted(probed), 'the shape rules give the dims onnxruntime gives');
}

/** Builds the gradient model of `spec`, runs it, and compares with central differences; throws on mismatch. */
export async function checkGradients(spec: GraphSpec, options: CheckOptions = {}): Promise<CheckResult> {
  const model = makeModel(spec);
  const dtype = spec.inputs[Object.keys(spec.inputs)[0]].dtype as FloatType;
  const step = options.step ?? (dtype === 'float64' ? 1e-5 : 1e-2);
  const rtol = options.rtol ?? (dtype === 'float64' ? 1e-6 : 2e-3);
  const atol = options.atol ?? (dtype === 'float64' ? 1e-9 : 1e-4);
  const wrt = options.wrt ?? Object.keys(spec.inputs);
  const shapes = await probeShapes(model, spec.inputs);
  await assertRulesAgreeWithOnnxRuntime(model, spec.inputs);
  const built = buildGradientModel(model, { wrt, output: spec.output, shapes, overrides: options.overrides });
  const outputDims = shapes.get(spec.output) as number[];
  const seed = uniform(outputDims, 99, -1, 1, dtype);
  const gradientSession = await createSession(encodeModel(built.model), 'cpu');
  const forwardSession = await createSession(encodeModel(model), 'cpu');
  try {
    const results = await run(gradientSession, { ...spec.inputs, [built.seed]: seed }, built.outputs);
    const analytic = Object.fromEntries(wrt.map((name) => [name, results[built.gradients[name]]]));
    let maxDiff = 0;
    let maxNumeric = 0;
    const mismatches: string[] = [];
    for (const name of wrt.filter((w) => spec.inputs[w])) {
      const base = spec.inputs[name];
      const grad = analytic[name];
      if (grad.dims.join() !== base.dims.join()) throw new Error(`gradient of '${name}' has shape [${grad.dims}], the tensor has [${base.dims}]`);
      const n = base.data.length;
      const count = Math.min(n, options.maxCoordinates ?? n);
      for (let c = 0; c < count; c++) {
        const i = Math.floor((c * n) / count);
        const shifted = (delta: number) => {
          const data = (base.data as Float32Array).slice();
          data[i] += delta;
          return { ...spec.inputs, [name]: { ...base, data } };
        };
        const plus = lossOf(await forward(forwardSession, shifted(step), spec.output), seed);
        const minus = lossOf(await forward(forwardSession, shifted(-step), spec.output), seed);
        const numeric = (plus - minus) / (2 * step);
        const diff = Math.abs(numeric - Number(grad.data[i]));
        maxNumeric = Math.max(maxNumeric, Math.abs(numeric));
        if (diff > maxDiff) maxDiff = diff;
        if (mismatches.length < 5 && diff > atol) mismatches.push(`${name}[${i}]: analytic ${Number(grad.data[i]).toPrecision(6)}, numeric ${numeric.toPrecision(6)}`);
      }
    }
    if (maxNumeric === 0) throw new Error('the numeric gradient is zero everywhere, so this check would prove nothing');
    if (!(maxDiff <= rtol * maxNumeric + atol)) {
      throw new Error(
        `gradient mismatch: max |analytic - numeric| = ${maxDiff.toExponential(3)} > ${rtol} × ${maxNumeric.toExponential(3)} + ${atol}\n  ${mismatches.join('\n  ')}`,
      );
    }
    return { maxDiff, maxNumeric, analytic, seed };
  } finally {
    await gradientSession.session.release();
    await forwardSession.session.release();
  }
}
