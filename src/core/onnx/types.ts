// Element types of every tensor in a graph, found by propagating declared types through the ops,
// so intermediate tensors can be exposed as outputs with a correct type. Tensors inside If, Loop
// and Scan subgraphs are typed too (ONNX names are unique across scopes), and those nodes' outputs
// take the types of their subgraph's outputs.
import { attrInt, attrTensor, subgraphs, topologicalOrder } from './graph';
import { DataType, GraphProto, NodeProto } from './proto';

const INT64_OUTPUT_OPS = new Set(['Shape', 'Size', 'ArgMax', 'ArgMin', 'NonZero', 'NonMaxSuppression']);
const BOOL_OUTPUT_OPS = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
// Ops whose output type is that of a later input, not the first.
const TYPE_FROM_INPUT: Record<string, number> = { Where: 1, Expand: 0, Range: 0 };

/** Outputs after the first whose type is fixed by the op: indices, masks, counts. */
function secondaryOutputType(op: string, index: number): number | undefined {
  if (index === 0) return undefined;
  if ((op === 'MaxPool' || op === 'TopK') && index === 1) return DataType.INT64;
  if (op === 'Dropout' && index === 1) return DataType.BOOL;
  if (op === 'Unique') return DataType.INT64;
  return undefined;
}

/** A Constant's type: its tensor's, INT64 for value_int(s), else FLOAT. */
function constantType(node: NodeProto): number {
  const tensor = attrTensor(node, 'value');
  if (tensor) return tensor.data_type ?? DataType.FLOAT;
  return node.attribute?.some((a) => a.name === 'value_int' || a.name === 'value_ints') ? DataType.INT64 : DataType.FLOAT;
}

/**
 * Index of the subgraph output that gives a control-flow node's output `index`: If's and Scan's
 * outputs are their subgraph's outputs in order; Loop's body outputs the condition first.
 */
function subgraphOutputIndex(op: string, index: number): number | undefined {
  if (op === 'If' || op === 'Scan') return index;
  if (op === 'Loop') return index + 1;
  return undefined;
}

/** `outer`: types visible from the enclosing scope, for a subgraph. */
export function elementTypes(graph: GraphProto, outer: ReadonlyMap<string, number> = new Map()): Map<string, number> {
  const types = new Map<string, number>(outer);
  for (const t of graph.initializer ?? []) types.set(t.name ?? '', t.data_type ?? DataType.FLOAT);
  for (const v of [...(graph.input ?? []), ...(graph.value_info ?? []), ...(graph.output ?? [])]) {
    const elem = v.type?.tensor_type?.elem_type;
    if (elem) types.set(v.name, elem);
  }
  for (const node of topologicalOrder(graph)) {
    let type: number | undefined;
    if (INT64_OUTPUT_OPS.has(node.op_type)) type = DataType.INT64;
    else if (BOOL_OUTPUT_OPS.has(node.op_type)) type = DataType.BOOL;
    else if (node.op_type === 'Cast') type = attrInt(node, 'to');
    else if (node.op_type === 'Constant') type = constantType(node);
    else if (node.op_type === 'ConstantOfShape') type = attrTensor(node, 'value')?.data_type ?? DataType.FLOAT;
    else type = types.get(node.input[TYPE_FROM_INPUT[node.op_type] ?? 0]);
    const bodies = subgraphs(node);
    for (const { graph: body } of bodies) for (const [name, t] of elementTypes(body, types)) types.set(name, t);
    for (const [i, out] of node.output.entries()) {
      if (!out || types.has(out)) continue;
      const fromBody = subgraphOutputIndex(node.op_type, i);
      const bodyOutput = fromBody === undefined ? undefined : bodies[0]?.graph.output?.[fromBody]?.name;
      types.set(out, (bodyOutput && types.get(bodyOutput)) || (secondaryOutputType(node.op_type, i) ?? type ?? DataType.FLOAT));
    }
  }
  return types;
}
