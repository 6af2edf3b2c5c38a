// The oracle for shape tests: the dims of every tensor of a model from one onnxruntime run with all
// of them exposed.
import { GraphProto, ModelProto, encodeModel } from '../../src/core/onnx/proto';
import { createSession, run } from '../../src/core/onnx/session';
import { exposeOutputs } from '../../src/core/onnx/surgery';
import { Tensor } from '../../src/core/tensor';

export async function ranDims(model: ModelProto, feeds: Record<string, Tensor>): Promise<Map<string, number[]>> {
  const graph = model.graph as GraphProto;
  const listed = new Set((graph.output ?? []).map((o) => o.name));
  const names = [...new Set(graph.node.flatMap((n) => n.output).filter((o) => o && !listed.has(o)))];
  const session = await createSession(encodeModel(exposeOutputs(model, names)), 'cpu');
  try {
    const dims = new Map(Object.entries(feeds).map(([name, t]) => [name, t.dims]));
    for (const [name, t] of Object.entries(await run(session, feeds))) dims.set(name, t.dims);
    return dims;
  } finally {
    await session.session.release();
  }
}

/** Dims by name in name order, for deepStrictEqual. */
export function sortedDims(dims: Map<string, number[]>): [string, number[]][] {
  return [...dims.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
}
