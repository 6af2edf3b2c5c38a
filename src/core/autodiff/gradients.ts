// Gradients on a loaded ConvModel: builds (once per model, wrt tensors, output and rule set) the
// gradient model of ./build.ts, runs it on the model's execution provider, and returns the
// gradients with the forward values they came from.
//
// Formula: gradients[t] = Σ_rows seed · ∂ output / ∂ t, i.e. the vector-Jacobian product with the
// seed, per batch row; a one-hot seed (seedForClass) gives ∂ logit[class] / ∂ t.
// Reference: torch.autograd.grad(outputs=output, inputs=wrt, grad_outputs=seed).
import { ConvModel, concreteInputDims } from '../model';
import { ModelProto } from '../onnx/proto';
import { run } from '../onnx/session';
import { FloatTensor, Tensor, TypedArray, float32, formatShape, sizeOf } from '../tensor';
import { GradientModel, buildGradientModel } from './build';
import { GradientRequestError, GradientRule, RuleOverrides } from './rule';
import { probeShapeSets } from './shapes';

export interface GradientComputation {
  /** Tensors to differentiate with respect to: graph inputs (by their real names) and/or intermediate tensors. */
  wrt: string[];
  /** Tensor to differentiate; default: the model's first output. */
  output?: string;
  /**
   * dL/d(output): same shape as the output for these feeds (one row per batch row); or 'top': in
   * each row, 1 at the largest output value (the first on ties) — the gradient of each row's top
   * score, found in the same run.
   */
  seed: Tensor | 'top';
  /** Rules replacing built-in ones, e.g. `{ Relu: guidedRelu }`. */
  overrides?: RuleOverrides;
  /** Names the override set in the cache key; by default each rule function is told apart by identity. */
  overridesKey?: string;
  /**
   * The caller runs this gradient model once (one explanation of one input): a session not built
   * yet is made for that run (ConvModel.builtSession's `once`). Callers that run it batch after
   * batch (Integrated Gradients) leave it unset.
   */
  once?: boolean;
}

export interface GradientResult {
  /** wrt tensor → its gradient, shaped like the tensor. */
  gradients: Record<string, Tensor>;
  /** The model's outputs, the differentiated output, and the forward values of the wrt tensors. */
  outputs: Record<string, Tensor>;
}

const ruleIds = new WeakMap<GradientRule, number>();
let nextRuleId = 0;

function overridesKey(overrides: RuleOverrides | undefined): string {
  if (!overrides) return 'default';
  return Object.keys(overrides)
    .sort()
    .map((op) => {
      const rule = overrides[op];
      if (!ruleIds.has(rule)) ruleIds.set(rule, nextRuleId++);
      return `${op}=${rule.name || 'rule'}#${ruleIds.get(rule)}`;
    })
    .join(',');
}

export async function computeGradients(model: ConvModel, feeds: Record<string, Tensor>, request: GradientComputation): Promise<GradientResult> {
  const inputs = model.summary().inputs;
  for (const info of inputs) {
    if (!feeds[info.name]) throw new GradientRequestError(`the model needs an input named '${info.name}' ${formatShape(info.shape)}`);
  }
  const output = request.output ?? model.summary().outputs[0]?.name;
  // Each tensor differentiated comes back twice: its value and its gradient.
  await model.checkActivationMemory(request.wrt, feeds, 2);
  const batched = await model.batchedSessions();
  const seed = request.seed;
  const key = gradientKey(batched && model.batchVariantKey(), output, request.wrt, request.overridesKey ?? overridesKey(request.overrides), seed === 'top');
  const { session, meta: gradientModel } = await gradientSession(model, key, batched, { ...request, output });
  if (seed !== 'top') checkSeed(seed, gradientModel, model, feeds);
  const runOnce = async (f: Record<string, Tensor>, rowSeed: Tensor | undefined) => run(session, rowSeed ? { ...f, [gradientModel.seed]: rowSeed } : f, gradientModel.outputs);
  const batch = feeds[inputs[0].name].dims[0];
  // A batch runs row by row where the model does not take one (batchedSessions' model may still
  // be the freed one: one row at a time is then the declared model's).
  const results =
    batch === 1 || (seed !== 'top' && seed.dims.length === 0) || (await model.supportsBatch())
      ? await runOnce(feeds, seed === 'top' ? undefined : seed)
      : await runRows(feeds, seed === 'top' ? undefined : seed, batch, runOnce);
  const gradients: Record<string, Tensor> = {};
  for (const [name, gradName] of Object.entries(gradientModel.gradients)) gradients[name] = results[gradName];
  const outputs: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(results)) if (!Object.values(gradientModel.gradients).includes(name)) outputs[name] = t;
  for (const name of request.wrt) if (feeds[name] && !outputs[name]) outputs[name] = feeds[name];
  return { gradients, outputs };
}

/** What a gradient session's model takes and gives, kept with it in memory and on disk. */
interface GradientNames {
  output: string;
  seed: string;
  gradients: Record<string, string>;
  outputs: string[];
  /** The seed input's rank and element type, where the built model declares them. */
  seedRank?: number;
  seedType?: number;
}

function isGradientNames(meta: unknown): meta is GradientNames {
  const m = meta as GradientNames | null;
  const isString = (v: unknown) => typeof v === 'string';
  return (
    typeof m === 'object' &&
    m !== null &&
    isString(m.output) &&
    isString(m.seed) &&
    Array.isArray(m.outputs) &&
    m.outputs.every(isString) &&
    typeof m.gradients === 'object' &&
    m.gradients !== null &&
    Object.values(m.gradients).every(isString) &&
    (m.seedRank === undefined || typeof m.seedRank === 'number') &&
    (m.seedType === undefined || typeof m.seedType === 'number')
  );
}

/**
 * The gradient model's session and names, built once per model and key; kept on disk (see
 * ConvModel.builtSession) when the key names the rules across processes: built-in rules, or
 * overrides with a key of their own.
 */
function gradientSession(model: ConvModel, key: string, batched: boolean, request: GradientComputation & { output?: string }) {
  const persist = !request.overrides || request.overridesKey !== undefined;
  return model.builtSession<GradientNames>(
    key,
    async () => {
      const built = await gradientModelFor(model, batched, request);
      const seedType = built.model.graph?.input?.find((v) => v.name === built.seed)?.type?.tensor_type;
      const names: GradientNames = {
        output: built.output,
        seed: built.seed,
        gradients: built.gradients,
        outputs: built.outputs,
        seedRank: seedType?.shape?.dim?.length,
        seedType: seedType?.elem_type ?? undefined,
      };
      return { proto: built.model, meta: names };
    },
    { persist, validMeta: isGradientNames, once: request.once },
  );
}

/**
 * Starts building the gradient session for `request` without running it: a later computeGradients
 * with the same request finds it ready. For a model opened in the worker, so the first click does
 * not wait for the build.
 */
export async function prepareGradients(model: ConvModel, request: Omit<GradientComputation, 'seed'> & { seed: 'top' | 'input' }): Promise<void> {
  const batched = await model.batchedSessions();
  const output = request.output ?? model.summary().outputs[0]?.name;
  const key = gradientKey(batched && model.batchVariantKey(), output, request.wrt, request.overridesKey ?? overridesKey(request.overrides), request.seed === 'top');
  await gradientSession(model, key, batched, { ...request, output, seed: request.seed === 'top' ? 'top' : float32([]) });
}

/**
 * Builds the gradient graph of the input (output: the model's first unless named) without creating
 * its session, so an op with no gradient rule is found (UnsupportedGradientError) at the cost of
 * the graph build alone. For large graphs, where onnxruntime's session creation dominates (about
 * 20–45 s for a 5,000-node chain's gradient graph on 2 cores, almost all of it synchronous).
 */
export async function checkGradientGraph(model: ConvModel, request: { wrt: string[]; output?: string }): Promise<void> {
  const batched = await model.batchedSessions();
  const output = request.output ?? model.summary().outputs[0]?.name;
  await gradientModelFor(model, batched, { wrt: request.wrt, output, seed: 'top' });
}

/** `batch`: the model's batchVariantKey where it runs batches, else false (the model as it is). */
function gradientKey(batch: string | false, output: string | undefined, wrt: string[], rules: string, top: boolean): string {
  return `gradient|${batch || 'original'}|${output}|${[...wrt].sort().join(',')}|${rules}${top ? '|top' : ''}`;
}

async function gradientModelFor(model: ConvModel, batched: boolean, request: GradientComputation & { output?: string }): Promise<GradientModel> {
  const proto = batched ? model.batchedProto() : model.proto;
  const { shapes, batchShapes } = await shapesOf(model, proto, batched);
  return buildGradientModel(proto, {
    wrt: request.wrt,
    output: request.output,
    overrides: request.overrides,
    shapes,
    batchShapes,
    seedFrom: request.seed === 'top' ? 'top' : 'input',
  });
}

interface ProbedShapes {
  shapes: Map<string, number[]>;
  batchShapes?: Map<string, number[]>;
}

const probed = new WeakMap<ConvModel, Promise<ProbedShapes>>();

/**
 * Dims of every tensor at the model's declared input size (symbolic batch 1, spatial 224), and at
 * batch 2 for a model that takes a batch, probed once.
 */
function shapesOf(model: ConvModel, proto: ModelProto, batched: boolean): Promise<ProbedShapes> {
  let shapes = probed.get(model);
  if (!shapes) {
    const feedsAt = (batch: number) => {
      const feeds: Record<string, Tensor> = {};
      for (const info of model.summary().inputs) {
        const dims = concreteInputDims(info.shape);
        feeds[info.name] = zeros(info.dtype, batched ? [batch, ...dims.slice(1)] : dims);
      }
      return feeds;
    };
    const probe = async (batch: number) => (await probeShapeSets(proto, [feedsAt(batch)], model.activationLimit.bytes, model))[0];
    // At batch 1 the feeds are those of the model's own probe (float32 inputs of the declared size),
    // so its shapes are reused rather than probed again.
    const ownProbeFeeds = model.summary().inputs.every((info) => info.dtype === 'float32' && (!batched || concreteInputDims(info.shape)[0] === 1));
    const shapesAtOne = async () => {
      if (!ownProbeFeeds) return probe(1);
      const own = await model.probeShapes().catch(() => undefined);
      if (!own) return probe(1);
      return new Map([...own, ...Object.entries(feedsAt(1)).map(([name, t]) => [name, t.dims] as const)]);
    };
    // The model's own probe ran batch 2 too where it could (ConvModel.probe): no session of its own.
    const shapesAtTwo = async () => (ownProbeFeeds && (await model.probedBatchShapes().catch(() => undefined))) || probe(2);
    const atOne = async (): Promise<ProbedShapes> => ({ shapes: await shapesAtOne() });
    // A model whose other inputs do not take the batch probes at batch 1 only.
    shapes = batched ? Promise.all([shapesAtOne(), shapesAtTwo()]).then(([one, two]) => ({ shapes: one, batchShapes: two }), atOne) : atOne();
    probed.set(model, shapes);
  }
  return shapes;
}

/** The seed must match the output's rank and (where the model fixes them) its dims, and the batch of the feeds. */
function checkSeed(seed: Tensor, gradientModel: GradientNames, model: ConvModel, feeds: Record<string, Tensor>): void {
  const rank = gradientModel.seedRank ?? seed.dims.length;
  if (seed.dims.length !== rank) {
    throw new GradientRequestError(`the seed has shape ${formatShape(seed.dims)} but output '${gradientModel.output}' has ${rank} dimensions`);
  }
  if (seed.dtype !== 'float32' && gradientModel.seedType === 1) {
    throw new GradientRequestError(`the seed is ${seed.dtype} but output '${gradientModel.output}' is float32`);
  }
  const feedBatch = feeds[model.summary().inputs[0].name]?.dims[0];
  if (rank > 0 && feedBatch !== undefined && seed.dims[0] !== feedBatch) {
    throw new GradientRequestError(`the seed has ${seed.dims[0]} rows but the input batch has ${feedBatch}`);
  }
}

/** For a model whose batch dimension is pinned: one run per row, results stacked. */
async function runRows(
  feeds: Record<string, Tensor>,
  seed: Tensor | undefined,
  batch: number,
  runOnce: (f: Record<string, Tensor>, seed: Tensor | undefined) => Promise<Record<string, Tensor>>,
): Promise<Record<string, Tensor>> {
  const rows: Record<string, Tensor>[] = [];
  for (let i = 0; i < batch; i++) {
    const rowFeeds = Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, t.dims[0] === batch ? row(t, i) : t]));
    rows.push(await runOnce(rowFeeds, seed && row(seed, i)));
  }
  return Object.fromEntries(Object.keys(rows[0]).map((name) => [name, stack(rows.map((r) => r[name]))]));
}

function row(t: Tensor, i: number): Tensor {
  const size = sizeOf(t.dims.slice(1));
  return { dtype: t.dtype, dims: [1, ...t.dims.slice(1)], data: t.data.slice(i * size, (i + 1) * size) as TypedArray };
}

function stack(rows: Tensor[]): Tensor {
  const size = rows[0].data.length;
  const data = new (rows[0].data.constructor as new (n: number) => TypedArray)(size * rows.length);
  rows.forEach((r, i) => (data as Float32Array).set(r.data as Float32Array, i * size));
  return { dtype: rows[0].dtype, dims: [rows.length, ...rows[0].dims.slice(1)], data };
}

const ZEROS: Partial<Record<string, (n: number) => TypedArray>> = {
  float64: (n) => new Float64Array(n),
  int64: (n) => new BigInt64Array(n),
  int32: (n) => new Int32Array(n),
  uint8: (n) => new Uint8Array(n),
  int8: (n) => new Int8Array(n),
  bool: (n) => new Uint8Array(n),
};

function zeros(dtype: string, dims: number[]): Tensor {
  const make = ZEROS[dtype];
  return make ? { dtype: dtype as Tensor['dtype'], dims, data: make(sizeOf(dims)) } : float32(dims);
}

/**
 * A one-hot seed for an output shaped `outputDims` [N, ...]: 1 at `classIndex` (flat index within
 * a row) in every row, or at classIndex[i] in row i.
 */
export function seedForClass(outputDims: number[], classIndex: number | number[]): FloatTensor {
  const rows = outputDims[0];
  const perRow = sizeOf(outputDims.slice(1));
  const classes = Array.isArray(classIndex) ? classIndex : new Array(rows).fill(classIndex);
  if (classes.length !== rows) throw new GradientRequestError(`${classes.length} class indices were given for ${rows} rows`);
  const seed = float32(outputDims);
  classes.forEach((c, i) => {
    if (!Number.isInteger(c) || c < 0 || c >= perRow) throw new GradientRequestError(`class index ${c} is outside [0, ${perRow})`);
    seed.data[i * perRow + c] = 1;
  });
  return seed;
}

export { UnsupportedGradientError, GradientRequestError } from './rule';
export type { GradientRule, RuleOverrides, RuleContext } from './rule';
export { guidedRelu, deconvRelu } from './rules/activation';
