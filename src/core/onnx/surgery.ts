// Graph surgery on copies of a model: expose intermediate tensors as outputs, make the batch
// dimension symbolic. The original model object is never modified.
import { indexGraph } from './graph';
import { DataType, GraphProto, ModelProto, ValueInfoProto } from './proto';
import { elementTypes } from './types';
import { editDistance } from '../edit-distance';

/** A shallow copy whose graph lists can be changed without touching the original's. */
export function cloneModel(model: ModelProto): ModelProto {
  const g = model.graph as GraphProto;
  return {
    ...model,
    graph: {
      ...g,
      node: [...g.node],
      initializer: [...(g.initializer ?? [])],
      input: [...(g.input ?? [])],
      output: [...(g.output ?? [])],
      value_info: [...(g.value_info ?? [])],
    },
  };
}

export function tensorNames(graph: GraphProto): Set<string> {
  const names = new Set<string>();
  for (const v of graph.input ?? []) names.add(v.name);
  for (const n of graph.node) for (const o of n.output) if (o) names.add(o);
  return names;
}

export class UnknownTensorError extends Error {
  constructor(
    readonly tensor: string,
    readonly suggestions: string[],
  ) {
    super(`no tensor named '${tensor}' in the model${suggestions.length ? `; did you mean ${suggestions.map((s) => `'${s}'`).join(', ')}?` : ''}`);
  }
}

export function nearNames(name: string, candidates: Iterable<string>, count = 3): string[] {
  const lower = name.toLowerCase();
  return [...candidates]
    .map((c) => ({ c, d: c.toLowerCase().includes(lower) ? 0 : editDistance(lower, c) }))
    .sort((x, y) => x.d - y.d)
    .slice(0, count)
    .map((x) => x.c);
}

export function assertTensorExists(graph: GraphProto, name: string): void {
  const names = tensorNames(graph);
  if (!names.has(name)) throw new UnknownTensorError(name, nearNames(name, names));
}

/** A copy of the model that also outputs the named tensors. */
export function exposeOutputs(model: ModelProto, names: string[]): ModelProto {
  const copy = cloneModel(model);
  const graph = copy.graph as GraphProto;
  for (const name of names) assertTensorExists(graph, name);
  const existing = new Set((graph.output ?? []).map((o) => o.name));
  const types = elementTypes(graph);
  for (const name of names) {
    if (existing.has(name)) continue;
    const info: ValueInfoProto = { name, type: { tensor_type: { elem_type: types.get(name) ?? DataType.FLOAT } } };
    graph.output!.push(info);
    existing.add(name);
  }
  return copy;
}

/** Graph inputs that are not initializers: what the user feeds. */
export function realInputs(graph: GraphProto): ValueInfoProto[] {
  const { initializers } = indexGraph(graph);
  return (graph.input ?? []).filter((v) => !initializers.has(v.name));
}

/**
 * A copy whose inputs and outputs have a symbolic first dimension, and whose intermediate shape
 * annotations no longer pin it. Whether the graph really allows another batch size (a Reshape to
 * a constant shape can pin it) is only known by running it: see ModelRuntime.supportsBatch.
 */
export function withDynamicBatch(model: ModelProto): ModelProto {
  const copy = cloneModel(model);
  const graph = copy.graph as GraphProto;
  const relax = (v: ValueInfoProto): ValueInfoProto => {
    const dims = v.type?.tensor_type?.shape?.dim;
    if (!dims || dims.length === 0) return v;
    return {
      ...v,
      type: {
        ...v.type,
        tensor_type: { ...v.type!.tensor_type, shape: { dim: [{ dim_param: 'batch' }, ...dims.slice(1)] } },
      },
    };
  };
  const { initializers } = indexGraph(graph);
  graph.input = (graph.input ?? []).map((v) => (initializers.has(v.name) ? v : relax(v)));
  graph.output = (graph.output ?? []).map(relax);
  graph.value_info = [];
  return copy;
}
