// Graph surgery on copies of a model: expose intermediate tensors as outputs, keep only the part
// that computes some tensors, make the batch dimension symbolic, free Reshapes that pin it. The
// original model object is never modified.
import { allInputs, attrTensor, indexGraph } from './graph';
import { tensorFromProto, tensorToProto } from './initializers';
import { DataType, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from './proto';
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

/**
 * The part of the model that computes `names`: the nodes they depend on, the initializers and
 * graph inputs those read, and `names` as its only outputs. A tensor before a large head (vgg11's
 * 400 MB classifier) is computed without loading the head's weights.
 */
export function modelUpTo(model: ModelProto, names: string[]): ModelProto {
  const graph = model.graph as GraphProto;
  for (const name of names) assertTensorExists(graph, name);
  const { producer } = indexGraph(graph);
  const kept = new Set<NodeProto>();
  const read = new Set<string>();
  const stack = [...names];
  while (stack.length > 0) {
    const t = stack.pop() as string;
    if (read.has(t)) continue;
    read.add(t);
    const node = producer.get(t);
    if (node && !kept.has(node)) {
      kept.add(node);
      stack.push(...allInputs(node).filter(Boolean));
    }
  }
  const copy = cloneModel(model);
  const g = copy.graph as GraphProto;
  const types = elementTypes(graph);
  g.node = graph.node.filter((n) => kept.has(n));
  g.initializer = (graph.initializer ?? []).filter((t) => read.has(t.name ?? ''));
  g.input = (graph.input ?? []).filter((v) => read.has(v.name));
  g.output = names.map((name) => (graph.output ?? []).find((o) => o.name === name) ?? { name, type: { tensor_type: { elem_type: types.get(name) ?? DataType.FLOAT } } });
  g.value_info = (graph.value_info ?? []).filter((v) => read.has(v.name));
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

/**
 * A copy where each Reshape to a constant shape whose first element is 1 copies its input's first
 * dimension instead (0, Reshape's "copy" with allowzero unset): how an export that traced the batch
 * as a number (`b, c, h, w = x.size()`, then `x.view(b, ...)`) pins it at 1. `inputs`: the data
 * inputs of the freed Reshapes. The copy computes what the model does at batch 1 wherever each of
 * them has first dimension 1 there; ConvModel's probe checks that, and that each row of a batch of
 * 2 gives what that row alone gives, before batches use it. Undefined when no Reshape is freed.
 * Reshapes inside subgraphs are left as they are.
 */
export function withBatchFreedReshapes(model: ModelProto): { model: ModelProto; inputs: string[] } | undefined {
  const copy = cloneModel(model);
  const graph = copy.graph as GraphProto;
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const constants = new Map(graph.node.filter((n) => n.op_type === 'Constant').map((n) => [n.output[0], n]));
  const names = tensorNames(graph);
  for (const name of initializers.keys()) names.add(name);
  const inputs: string[] = [];
  graph.node = graph.node.map((node) => {
    if (node.op_type !== 'Reshape' || !node.input[1] || (node.attribute ?? []).some((a) => a.name === 'allowzero' && Number(a.i) === 1)) return node;
    const constant = constants.get(node.input[1]);
    const proto = initializers.get(node.input[1]) ?? (constant && constant.attribute?.length === 1 ? attrTensor(constant, 'value') : undefined);
    if (!proto || proto.data_type !== DataType.INT64 || (proto.dims ?? []).length !== 1 || proto.data_location === 1) return node;
    const shape = shapeValues(proto);
    if (!shape || shape.length === 0 || shape[0] !== 1n) return node;
    let name = `${node.input[1]}/batch`;
    for (let i = 1; names.has(name); i++) name = `${node.input[1]}/batch_${i}`;
    names.add(name);
    const freedShape = BigInt64Array.from(shape);
    freedShape[0] = 0n;
    graph.initializer = [...(graph.initializer ?? []), tensorToProto(name, { dtype: 'int64', dims: [shape.length], data: freedShape })];
    inputs.push(node.input[0]);
    return { ...node, input: [node.input[0], name, ...node.input.slice(2)] };
  });
  return inputs.length > 0 ? { model: copy, inputs } : undefined;
}

/** A Reshape's constant shape, or undefined where its stored values do not match its dims (onnxruntime refuses such a model itself). */
function shapeValues(proto: TensorProto): BigInt64Array | undefined {
  try {
    return tensorFromProto(proto).data as BigInt64Array;
  } catch {
    return undefined;
  }
}
