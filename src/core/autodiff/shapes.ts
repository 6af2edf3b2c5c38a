// Dims of every tensor of a model at one or more input sizes, found by running it once per size
// with every node output exposed: the build-time shape knowledge the gradient rules use for ranks
// and structure. The exposed outputs are declared without a type, so onnxruntime infers it (a
// declared type that is wrong, e.g. for TopK's indices, would make the session fail).
import { GraphProto, ModelProto, ValueInfoProto, encodeModel } from '../onnx/proto';
import { createSession, run } from '../runtime/session';
import { Tensor } from '../tensor';

export async function probeShapes(model: ModelProto, feeds: Record<string, Tensor>): Promise<Map<string, number[]>> {
  return (await probeShapeSets(model, [feeds]))[0];
}

/** One map of dims per set of feeds, from one session. */
export async function probeShapeSets(model: ModelProto, feedSets: Record<string, Tensor>[]): Promise<Map<string, number[]>[]> {
  const graph = model.graph as GraphProto;
  const listed = new Set((graph.output ?? []).map((o) => o.name));
  const exposed: ValueInfoProto[] = graph.node.flatMap((n) => n.output).filter((o) => o && !listed.has(o)).map((name) => ({ name }));
  const probe = { ...model, graph: { ...graph, output: [...(graph.output ?? []), ...exposed] } };
  const session = await createSession(encodeModel(probe), 'cpu');
  try {
    const sets: Map<string, number[]>[] = [];
    for (const feeds of feedSets) {
      const outputs = await run(session, feeds);
      const shapes = new Map(Object.entries(outputs).map(([name, t]) => [name, t.dims]));
      for (const [name, t] of Object.entries(feeds)) shapes.set(name, t.dims);
      sets.push(shapes);
    }
    return sets;
  } finally {
    await session.session.release();
  }
}
