// Dims of every tensor of a model at one or more input sizes: the build-time shape knowledge the
// gradient rules use for ranks and structure, and the layer shapes the views show. They come from
// the ops' shape rules where those cover the graph (onnx/shape-inference.ts: most exported CNNs
// and transformers, with no session at all); else from a session of the model with its node
// outputs exposed: from the dims onnxruntime infers as it makes it where those are complete, else
// from running it. The exposed outputs are declared without a type, so onnxruntime infers it (a
// declared type that is wrong, e.g. for TopK's indices, would make the session fail). Tensors
// inside If branches are measured too (by running the branches' nodes in the main graph as well),
// for the gradient rules of the If rule's backward branches.
import { activationBytes } from '../activation-memory';
import { subgraphs, topologicalOrder } from '../onnx/graph';
import { EncodedModel, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto, encodeModelReusing } from '../onnx/proto';
import { createSession, run } from '../onnx/session';
import { inferShapes } from '../onnx/shape-inference';
import { Tensor, sameDims } from '../tensor';

/** Before any tensor is measured, each is guessed at this many times the input's size (a CNN stem widens it ~5–20×). */
const FIRST_GUESS_PER_INPUT = 8;

export async function probeShapes(model: ModelProto, feeds: Record<string, Tensor>, limitBytes = Infinity): Promise<Map<string, number[]>> {
  return (await probeShapeSets(model, [feeds], limitBytes))[0];
}

/** A model with no bytes of its own to reuse: each probe model is encoded in full. */
const NOTHING_ENCODED: EncodedModel = { proto: {}, bytes: new Uint8Array(0) };

/**
 * One map of dims per set of feeds (the feeds' own dims included): from the ops' shape rules where
 * they cover the graph (inferShapes: no session, no run), else from onnxruntime
 * (probeShapeSetsWithOnnxRuntime).
 */
export async function probeShapeSets(model: ModelProto, feedSets: Record<string, Tensor>[], limitBytes = Infinity, source = NOTHING_ENCODED): Promise<Map<string, number[]>[]> {
  return inferShapes(model, feedSets) ?? probeShapeSetsWithOnnxRuntime(model, feedSets, limitBytes, source);
}

/**
 * One map of dims per set of feeds, as probeGraph finds them. Runs copy the exposed tensors out of
 * onnxruntime, so on a large graph with a large input they are exposed in groups whose estimated
 * size stays within `limitBytes`. `source`: the model `model` was made from and its bytes, whose
 * weights the probe models copy rather than encode again (encodeModelReusing).
 */
export async function probeShapeSetsWithOnnxRuntime(
  model: ModelProto,
  feedSets: Record<string, Tensor>[],
  limitBytes = Infinity,
  source = NOTHING_ENCODED,
): Promise<Map<string, number[]>[]> {
  const hoisted = withBranchesHoisted(model.graph as GraphProto);
  if (!hoisted) return probeGraph(model, feedSets, limitBytes, source);
  let sets: Map<string, number[]>[];
  try {
    sets = await probeGraph({ ...model, graph: hoisted.graph }, feedSets, limitBytes, source);
  } catch {
    // A branch that cannot run on these feeds (the one not taken may not) leaves its tensors unmeasured.
    return probeGraph(model, feedSets, limitBytes, source);
  }
  for (const dims of sets) {
    for (const [copy, original] of hoisted.originals) {
      const d = dims.get(copy);
      dims.delete(copy);
      if (d && !dims.has(original)) dims.set(original, d);
    }
  }
  return sets;
}

/**
 * A copy of the graph where, before each If, copies of the nodes of both its branches run in the
 * main graph too, so their tensors can be exposed. The copies are renamed (a subgraph may not
 * redefine an outer name); `originals` maps each copy's name back. An If nested in a branch is
 * copied as its then branch (the shapes after it are those of that branch). undefined when there
 * is no If. Loop and Scan bodies read per-iteration values and stay inside.
 */
function withBranchesHoisted(graph: GraphProto): { graph: GraphProto; originals: Map<string, string> } | undefined {
  if (!graph.node.some((n) => n.op_type === 'If')) return undefined;
  const taken = new Set([...graph.node.flatMap((n) => n.output), ...(graph.input ?? []).map((v) => v.name), ...(graph.initializer ?? []).map((t) => t.name ?? '')]);
  const originals = new Map<string, string>();
  const initializers: TensorProto[] = [];
  const copyName = (name: string, renamed: Map<string, string>): string => {
    let copy = `${name}/probe`;
    for (let i = 1; taken.has(copy); i++) copy = `${name}/probe_${i}`;
    taken.add(copy);
    renamed.set(name, copy);
    originals.set(copy, name);
    return copy;
  };
  /** Copies of a branch's nodes with renamed tensors; returns the renamed names of its outputs. */
  const copyBranch = (body: GraphProto, outerRenamed: Map<string, string>, into: NodeProto[]): string[] => {
    const renamed = new Map(outerRenamed);
    for (const t of body.initializer ?? []) initializers.push({ ...t, name: copyName(t.name ?? '', renamed) });
    for (const node of body.node) {
      const inputs = node.input.map((i) => renamed.get(i) ?? i);
      if (node.op_type === 'If') {
        const thenBranch = subgraphs(node).find((s) => s.attribute === 'then_branch')?.graph;
        const outputs = thenBranch ? copyBranch(thenBranch, renamed, into) : [];
        const elseBranch = subgraphs(node).find((s) => s.attribute === 'else_branch')?.graph;
        if (elseBranch) copyBranch(elseBranch, renamed, into);
        node.output.forEach((o, k) => {
          if (o && outputs[k]) into.push({ op_type: 'Identity', name: `${node.name ?? o}/probe`, input: [outputs[k]], output: [copyName(o, renamed)], attribute: [] });
        });
      } else {
        into.push({ ...node, name: node.name && `${node.name}/probe`, input: inputs, output: node.output.map((o) => (o ? copyName(o, renamed) : o)) });
      }
    }
    return (body.output ?? []).map((o) => renamed.get(o.name) ?? o.name);
  };
  const node: NodeProto[] = [];
  for (const n of graph.node) {
    if (n.op_type === 'If') for (const { graph: body } of subgraphs(n)) copyBranch(body, new Map(), node);
    node.push(n);
  }
  return { graph: { ...graph, node, initializer: [...(graph.initializer ?? []), ...initializers] }, originals };
}

/**
 * The probe of one graph: a session with every node output exposed, whose outputs' dims
 * onnxruntime inferred as it made it (outputMetadata). A feed set whose dims these name (numbers,
 * or symbols the feeds' dims give values to) is not run, except the last, which always runs once
 * (the probe's proof that the model runs there, and for a batch of two that it takes a batch);
 * the others run fetching only the tensors whose dims stay unknown. A run's outputs must have the
 * inferred dims, else inference is not trusted and every feed set runs with everything fetched.
 * onnxruntime holds every graph output of a run, fetched or not, so this session runs only where
 * all it exposes fits `limitBytes` (tensors of unknown size counted as the largest known one, or
 * the input); otherwise the tensors are exposed in groups, one session each (probeInGroups).
 */
async function probeGraph(model: ModelProto, feedSets: Record<string, Tensor>[], limitBytes: number, source: EncodedModel): Promise<Map<string, number[]>[]> {
  const graph = model.graph as GraphProto;
  const graphOutputs = (graph.output ?? []).map((o) => o.name);
  const listed = new Set(graphOutputs);
  const names = [...new Set(graph.node.flatMap((n) => n.output).filter((o) => o && !listed.has(o)))];
  const feedDims = (feeds: Record<string, Tensor>) => new Map(Object.entries(feeds).map(([name, t]) => [name, t.dims]));
  // The model's own value_info is left out: the dims are onnxruntime's inference from the inputs
  // and the ops, not what the file claims for its tensors.
  const exposed = { ...graph, value_info: [], output: [...(graph.output ?? []), ...names.map((name): ValueInfoProto => ({ name }))] };
  const session = await createSession(encodeModelReusing({ ...model, graph: exposed }, source), 'cpu', { runOnce: true });
  let released = false;
  const release = async () => {
    if (!released) await session.session.release();
    released = true;
  };
  try {
    const inferred = inferredDims(session.session, graph);
    const partial = feedSets.map((feeds) => resolveDims([...graphOutputs, ...names], inferred, graph, feeds));
    const sets = partial.map((p, i) => new Map([...feedDims(feedSets[i]), ...p.known]));
    const last = feedSets.length - 1;
    const estimate = Math.max(
      ...partial.map(({ known, unknown }, i) => {
        const sizes = names.filter((name) => known.has(name)).map((name) => activationBytes(known.get(name) ?? []));
        const unknownSize = Math.max(inputBytesOf([feedSets[i]]), ...sizes);
        return sizes.reduce((sum, b) => sum + b, 0) + names.filter((name) => !known.has(name)).length * unknownSize;
      }),
    );
    // A run's outputs against the inferred dims: false where inference said otherwise.
    const record = (i: number, outputs: Record<string, Tensor>) => {
      let agrees = true;
      for (const [name, t] of Object.entries(outputs)) {
        if (partial[i].known.has(name) && !sameDims(partial[i].known.get(name), t.dims)) agrees = false;
        sets[i].set(name, t.dims);
      }
      return agrees;
    };
    if (estimate <= limitBytes) {
      let trusted = true;
      for (let i = 0; i < feedSets.length; i++) {
        if (partial[i].unknown.length === 0 && i !== last) continue;
        trusted = record(i, await run(session, feedSets[i], [...new Set([...graphOutputs, ...partial[i].unknown])])) && trusted;
      }
      if (trusted) return sets;
      for (let i = 0; i < feedSets.length; i++) record(i, await run(session, feedSets[i]));
      return sets;
    }
    await release();
    if (partial.every((p) => p.unknown.length === 0)) {
      // Too large to run with everything exposed: the model as it is runs instead.
      if (record(last, await runPlain(model, feedSets[last], source))) return sets;
    }
    const measured = feedSets.map(feedDims);
    await probeInGroups(model, graph, names, feedSets, measured, limitBytes, source);
    return measured;
  } finally {
    await release();
  }
}

function inputBytesOf(feedSets: Record<string, Tensor>[]): number {
  return Math.max(...feedSets.map((feeds) => Object.values(feeds).reduce((sum, t) => sum + activationBytes(t.dims), 0)));
}

/** The graph's outputs for `feeds`, from a session of the model with nothing exposed. */
async function runPlain(model: ModelProto, feeds: Record<string, Tensor>, source: EncodedModel): Promise<Record<string, Tensor>> {
  const session = await createSession(encodeModelReusing(model, source), 'cpu', { runOnce: true });
  try {
    return await run(session, feeds);
  } finally {
    await session.session.release();
  }
}

/** A dim as onnxruntime's inference gives it: a size, a symbol, or '' where it is unknown. */
type InferredDim = number | string;

/**
 * The dims onnxruntime inferred for a session's outputs. It reports a scalar and a tensor of
 * unknown rank alike ([]), so [] is taken as a scalar only where the node's own inputs say it is
 * (scalarOutputs); otherwise the output's dims are unknown (undefined).
 */
function inferredDims(session: { outputMetadata?: readonly unknown[] }, graph: GraphProto): Map<string, InferredDim[] | undefined> {
  const dims = new Map<string, InferredDim[] | undefined>();
  const metadata = Array.isArray(session.outputMetadata) ? session.outputMetadata : [];
  for (const m of metadata as { name?: unknown; isTensor?: unknown; shape?: unknown }[]) {
    if (typeof m.name !== 'string') continue;
    const shape = m.isTensor === true && Array.isArray(m.shape) && m.shape.every((d) => typeof d === 'number' || typeof d === 'string') ? (m.shape as InferredDim[]) : undefined;
    dims.set(m.name, shape);
  }
  const scalars = scalarOutputs(graph, dims);
  for (const [name, d] of dims) if (d?.length === 0 && !scalars.has(name)) dims.set(name, undefined);
  return dims;
}

// Ops whose output has the largest rank of their inputs (numpy broadcasting, or one input).
const BROADCASTING = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Mod', 'Min', 'Max', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Where']);
const ONE_INPUT = new Set(['Cast', 'Neg', 'Abs', 'Sqrt', 'Floor', 'Ceil', 'Round', 'Reciprocal', 'Not', 'Identity', 'Relu', 'Sign', 'Exp', 'Log']);

/**
 * Outputs that are scalars by their node's inputs' ranks: a Constant holding one, Gather of a
 * scalar index from a vector (x.size(0) in a shape computation), and broadcasting and one-input
 * ops of scalars. Ranks come from the inferred dims, initializers and graph inputs.
 */
function scalarOutputs(graph: GraphProto, inferred: Map<string, InferredDim[] | undefined>): Set<string> {
  const rank = new Map<string, number>();
  for (const t of graph.initializer ?? []) rank.set(t.name ?? '', (t.dims ?? []).length);
  for (const v of graph.input ?? []) {
    const dims = v.type?.tensor_type?.shape?.dim;
    if (dims) rank.set(v.name, dims.length);
  }
  for (const [name, d] of inferred) if (d && d.length > 0) rank.set(name, d.length);
  const scalars = new Set<string>();
  for (const node of topologicalOrder(graph)) {
    const out = node.output[0];
    if (!out || inferred.get(out)?.length !== 0) continue;
    const ranks = node.input.filter(Boolean).map((i) => rank.get(i));
    const known = ranks.every((r): r is number => r !== undefined);
    let r: number | undefined;
    if (node.op_type === 'Constant') {
      const value = node.attribute?.find((a) => a.name === 'value')?.t;
      const scalarAttr = node.attribute?.some((a) => a.name === 'value_float' || a.name === 'value_int');
      r = scalarAttr ? 0 : value ? (value.dims ?? []).length : undefined;
    } else if (node.op_type === 'Gather' && known && ranks.length === 2) r = ranks[0] + ranks[1] - 1;
    else if ((BROADCASTING.has(node.op_type) || ONE_INPUT.has(node.op_type)) && known && ranks.length > 0) r = Math.max(...ranks);
    if (r === 0) {
      scalars.add(out);
      rank.set(out, 0);
    }
  }
  return scalars;
}

/**
 * The dims of `outputs` for these feeds that follow from the inferred ones, symbols replaced by the
 * sizes the feeds give them (the graph inputs' symbolic dims), and the outputs whose dims do not.
 */
function resolveDims(
  outputs: string[],
  inferred: Map<string, InferredDim[] | undefined>,
  graph: GraphProto,
  feeds: Record<string, Tensor>,
): { known: Map<string, number[]>; unknown: string[] } {
  const symbols = new Map<string, number | undefined>();
  for (const v of graph.input ?? []) {
    const feed = feeds[v.name];
    const dims = v.type?.tensor_type?.shape?.dim ?? [];
    if (!feed) continue;
    for (const [axis, d] of dims.entries()) {
      const param = d.dim_param;
      if (!param) continue;
      // A symbol the feeds give two sizes names neither.
      symbols.set(param, symbols.has(param) && symbols.get(param) !== feed.dims[axis] ? undefined : feed.dims[axis]);
    }
  }
  const known = new Map<string, number[]>();
  const unknown: string[] = [];
  for (const name of outputs) {
    const sizes = inferred.get(name)?.map((d) => (typeof d === 'number' ? d : symbols.get(d)));
    if (sizes && sizes.every((d): d is number => d !== undefined && Number.isInteger(d) && d >= 0)) known.set(name, sizes);
    else unknown.push(name);
  }
  return { known, unknown };
}

/**
 * Runs each feed set with the tensors exposed in groups, one session per group, recording dims:
 * the first group's size is guessed from the input, later ones from the largest tensor measured
 * so far, so each run's exposed tensors stay within `limitBytes`.
 */
async function probeInGroups(
  model: ModelProto,
  graph: GraphProto,
  names: string[],
  feedSets: Record<string, Tensor>[],
  sets: Map<string, number[]>[],
  limitBytes: number,
  source: EncodedModel,
): Promise<void> {
  const inputBytes = inputBytesOf(feedSets);
  let bytesPerTensor = FIRST_GUESS_PER_INPUT * inputBytes;
  let largest = inputBytes;
  let start = 0;
  do {
    const group = names.slice(start, start + Math.max(1, Math.floor(limitBytes / bytesPerTensor)));
    largest = Math.max(largest, await probeGroup(model, graph, group, feedSets, sets, source));
    bytesPerTensor = largest;
    start += group.length;
  } while (start < names.length);
}

/** Runs each feed set with `group` exposed, recording dims; returns the largest tensor's bytes. */
async function probeGroup(
  model: ModelProto,
  graph: GraphProto,
  group: string[],
  feedSets: Record<string, Tensor>[],
  sets: Map<string, number[]>[],
  source: EncodedModel,
): Promise<number> {
  const exposed: ValueInfoProto[] = group.map((name) => ({ name }));
  const bytes = encodeModelReusing({ ...model, graph: { ...graph, output: [...(graph.output ?? []), ...exposed] } }, source);
  const session = await createSession(bytes, 'cpu', { runOnce: true });
  let largest = 0;
  try {
    for (let i = 0; i < feedSets.length; i++) {
      const outputs = await run(session, feedSets[i]);
      for (const [name, t] of Object.entries(outputs)) {
        sets[i].set(name, t.dims);
        largest = Math.max(largest, activationBytes(t.dims));
      }
    }
    return largest;
  } finally {
    await session.session.release();
  }
}
