// Dims of every tensor of a model at one or more input sizes, found by running it with its node
// outputs exposed: the build-time shape knowledge the gradient rules use for ranks and structure,
// and the layer shapes the views show. The exposed outputs are declared without a type, so
// onnxruntime infers it (a declared type that is wrong, e.g. for TopK's indices, would make the
// session fail). Tensors inside If branches are measured too (by running the branches' nodes in the
// main graph as well), for the gradient rules of the If rule's backward branches.
import { activationBytes } from '../activation-memory';
import { subgraphs } from '../onnx/graph';
import { EncodedModel, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto, encodeModelReusing } from '../onnx/proto';
import { createSession, run } from '../onnx/session';
import { Tensor } from '../tensor';

/** Before any tensor is measured, each is guessed at this many times the input's size (a CNN stem widens it ~5–20×). */
const FIRST_GUESS_PER_INPUT = 8;

export async function probeShapes(model: ModelProto, feeds: Record<string, Tensor>, limitBytes = Infinity): Promise<Map<string, number[]>> {
  return (await probeShapeSets(model, [feeds], limitBytes))[0];
}

/** A model with no bytes of its own to reuse: each probe model is encoded in full. */
const NOTHING_ENCODED: EncodedModel = { proto: {}, bytes: new Uint8Array(0) };

/**
 * One map of dims per set of feeds (the feeds' own dims included). The exposed tensors are copied
 * out of onnxruntime, so on a large graph with a large input they are exposed in groups whose
 * estimated size stays within `limitBytes`, one session and run per group: the first group's size
 * is guessed from the input, later ones from the largest tensor measured so far. A model that
 * fits is probed in one run. `source`: the model `model` was made from and its bytes, whose
 * weights the probe models copy rather than encode again (encodeModelReusing).
 */
export async function probeShapeSets(model: ModelProto, feedSets: Record<string, Tensor>[], limitBytes = Infinity, source = NOTHING_ENCODED): Promise<Map<string, number[]>[]> {
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

async function probeGraph(model: ModelProto, feedSets: Record<string, Tensor>[], limitBytes: number, source: EncodedModel): Promise<Map<string, number[]>[]> {
  const graph = model.graph as GraphProto;
  const listed = new Set((graph.output ?? []).map((o) => o.name));
  const names = [...new Set(graph.node.flatMap((n) => n.output).filter((o) => o && !listed.has(o)))];
  const sets = feedSets.map((feeds) => new Map(Object.entries(feeds).map(([name, t]) => [name, t.dims])));
  const inputBytes = Math.max(...feedSets.map((feeds) => Object.values(feeds).reduce((sum, t) => sum + activationBytes(t.dims), 0)));
  let bytesPerTensor = FIRST_GUESS_PER_INPUT * inputBytes;
  let largest = inputBytes;
  let start = 0;
  do {
    const group = names.slice(start, start + Math.max(1, Math.floor(limitBytes / bytesPerTensor)));
    largest = Math.max(largest, await probeGroup(model, graph, group, feedSets, sets, source));
    bytesPerTensor = largest;
    start += group.length;
  } while (start < names.length);
  return sets;
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
