// Dims of every tensor of a model at one or more input sizes, found by running it with its node
// outputs exposed: the build-time shape knowledge the gradient rules use for ranks and structure,
// and the layer shapes the views show. The exposed outputs are declared without a type, so
// onnxruntime infers it (a declared type that is wrong, e.g. for TopK's indices, would make the
// session fail).
import { activationBytes } from '../activationMemory';
import { GraphProto, ModelProto, ValueInfoProto, encodeModel } from '../onnx/proto';
import { createSession, run } from '../runtime/session';
import { Tensor } from '../tensor';

/** Before any tensor is measured, each is guessed at this many times the input's size (a CNN stem widens it ~5–20×). */
const FIRST_GUESS_PER_INPUT = 8;

export async function probeShapes(model: ModelProto, feeds: Record<string, Tensor>, limitBytes = Infinity): Promise<Map<string, number[]>> {
  return (await probeShapeSets(model, [feeds], limitBytes))[0];
}

/**
 * One map of dims per set of feeds (the feeds' own dims included). The exposed tensors are copied
 * out of onnxruntime, so on a large graph with a large input they are exposed in groups whose
 * estimated size stays within `limitBytes`, one session and run per group: the first group's size
 * is guessed from the input, later ones from the largest tensor measured so far. A model that
 * fits is probed in one run.
 */
export async function probeShapeSets(model: ModelProto, feedSets: Record<string, Tensor>[], limitBytes = Infinity): Promise<Map<string, number[]>[]> {
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
    largest = Math.max(largest, await probeGroup(model, graph, group, feedSets, sets));
    bytesPerTensor = largest;
    start += group.length;
  } while (start < names.length);
  return sets;
}

/** Runs each feed set with `group` exposed, recording dims; returns the largest tensor's bytes. */
async function probeGroup(model: ModelProto, graph: GraphProto, group: string[], feedSets: Record<string, Tensor>[], sets: Map<string, number[]>[]): Promise<number> {
  const exposed: ValueInfoProto[] = group.map((name) => ({ name }));
  const session = await createSession(encodeModel({ ...model, graph: { ...graph, output: [...(graph.output ?? []), ...exposed] } }), 'cpu');
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
