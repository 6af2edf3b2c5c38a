// Graph surgery: the part of a model after one of its tensors, as a model whose input is that
// tensor. It keeps the nodes on paths from the tensor to the output (and constant computations);
// tensors they read that are computed without the cut tensor (a skip connection from an earlier
// layer, a shape computed from the input) become extra inputs, fed from one run of the full model.
import { indexGraph, topologicalOrder } from '../onnx/graph';
import { DataType, GraphProto, ModelProto, NodeProto, ValueInfoProto } from '../onnx/proto';
import { assertTensorExists, cloneModel } from '../onnx/surgery';
import { elementTypes } from '../onnx/types';
import { ExplainError } from './types';

export interface SubModel {
  proto: ModelProto;
  /** The cut tensor, now the first graph input. */
  input: string;
  /** Other graph inputs: tensors computed before the cut (or original inputs) that the rest reads. */
  extraInputs: string[];
  /** Outputs besides the first computed from the cut tensor (asked for with `also`): the graph's other outputs. */
  alsoOutputs: string[];
  nodeCount: number;
}

/**
 * The nodes that compute `output` from `cut`, in graph order, and the tensors they read that are
 * computed from the model's inputs without `cut` (the frontier). Nodes that compute constants
 * (from initializers only) are kept.
 */
function nodesAfter(graph: GraphProto, cut: string, outputs: string[]): { nodes: NodeProto[]; frontier: string[]; fromCut: Set<string> } {
  const { producer, initializers } = indexGraph(graph);
  const fromCut = new Set([cut]);
  const constant = new Set(initializers);
  for (const node of topologicalOrder(graph)) {
    const inputs = node.input.filter(Boolean);
    if (inputs.some((i) => fromCut.has(i))) for (const o of node.output) fromCut.add(o);
    else if (inputs.every((i) => constant.has(i))) for (const o of node.output) constant.add(o);
  }
  const kept = new Set<NodeProto>();
  const frontier = new Set<string>();
  const stack = [...outputs];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (!t || seen.has(t) || t === cut || initializers.has(t)) continue;
    seen.add(t);
    const node = producer.get(t);
    if (node && (fromCut.has(t) || constant.has(t))) {
      kept.add(node);
      stack.push(...node.input);
    } else frontier.add(t);
  }
  return { nodes: graph.node.filter((n) => kept.has(n)), frontier: [...frontier], fromCut };
}

/**
 * The model from tensor `cut` to `output`: input `cut` with a symbolic batch dimension and `cutDims`'
 * other dimensions; the tensors of the frontier as extra inputs. Each of `also` (another output,
 * e.g. a detector's boxes beside its scores) that depends on `cut` is computed too, as one more
 * output (`alsoOutputs`); one that does not is left out: it is the same for any cut tensor.
 */
export function modelAfter(model: ModelProto, cut: string, output: string, cutDims: number[], also: string[] = []): SubModel {
  const graph = model.graph as GraphProto;
  assertTensorExists(graph, cut);
  for (const t of also) assertTensorExists(graph, t);
  const reaching = (t: string) => nodesAfter(graph, cut, [t]).fromCut.has(t);
  if (!reaching(output)) throw new ExplainError(`output '${output}' does not depend on '${cut}'`);
  const alsoOutputs = also.filter((t) => t !== output && t !== cut && reaching(t));
  const { nodes, frontier } = nodesAfter(graph, cut, [output, ...alsoOutputs]);
  const kept = new Set(nodes);
  const types = elementTypes(graph);
  const used = new Set(nodes.flatMap((n) => n.input));
  const copy = cloneModel(model);
  const g = copy.graph as GraphProto;
  const cutInfo: ValueInfoProto = {
    name: cut,
    type: { tensor_type: { elem_type: types.get(cut) ?? DataType.FLOAT, shape: { dim: [{ dim_param: 'batch' }, ...cutDims.slice(1).map((d) => ({ dim_value: d }))] } } },
  };
  const extraInputs = frontier;
  const elemType = (name: string) => (graph.output ?? []).find((o) => o.name === name)?.type?.tensor_type?.elem_type ?? types.get(name) ?? DataType.FLOAT;
  g.node = graph.node.filter((n) => kept.has(n));
  g.initializer = (graph.initializer ?? []).filter((t) => used.has(t.name ?? ''));
  g.input = [cutInfo, ...extraInputs.map((name) => ({ name, type: { tensor_type: { elem_type: types.get(name) ?? DataType.FLOAT } } }))];
  g.output = [output, ...alsoOutputs].map((name) => ({ name, type: { tensor_type: { elem_type: elemType(name) } } }));
  g.value_info = [];
  return { proto: copy, input: cut, extraInputs, alsoOutputs, nodeCount: g.node.length };
}
