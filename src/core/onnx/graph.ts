// Read-only views of an ONNX graph: attributes, producers and consumers, topological order.
import { AttributeProto, GraphProto, ModelProto, NodeProto, ValueInfoProto } from './proto';

const utf8 = new TextDecoder();

function attribute(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}

export function attrInt(node: NodeProto, name: string, fallback: number): number;
export function attrInt(node: NodeProto, name: string): number | undefined;
export function attrInt(node: NodeProto, name: string, fallback?: number): number | undefined {
  const a = attribute(node, name);
  return a?.i !== undefined ? Number(a.i) : fallback;
}

export function attrFloat(node: NodeProto, name: string, fallback: number): number;
export function attrFloat(node: NodeProto, name: string): number | undefined;
export function attrFloat(node: NodeProto, name: string, fallback?: number): number | undefined {
  const a = attribute(node, name);
  return a?.f !== undefined ? a.f : fallback;
}

export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = attribute(node, name);
  return a?.ints ? a.ints.map(Number) : undefined;
}

export function attrFloats(node: NodeProto, name: string): number[] | undefined {
  return attribute(node, name)?.floats;
}

export function attrString(node: NodeProto, name: string, fallback: string): string;
export function attrString(node: NodeProto, name: string): string | undefined;
export function attrString(node: NodeProto, name: string, fallback?: string): string | undefined {
  const a = attribute(node, name);
  return a?.s !== undefined ? utf8.decode(a.s) : fallback;
}

export function attrTensor(node: NodeProto, name: string) {
  return attribute(node, name)?.t;
}

/**
 * Whether a node holds a subgraph. Few do, and every walk over a graph asks this of each node
 * (through allInputs): answering it without building lists keeps those walks cheap.
 */
function holdsSubgraphs(node: NodeProto): boolean {
  for (const a of node.attribute ?? []) if (a.g || (a.graphs && a.graphs.length > 0)) return true;
  return false;
}

/** The subgraphs a node holds (If's branches, Loop's and Scan's body), by attribute name. */
export function subgraphs(node: NodeProto): { attribute: string; graph: GraphProto }[] {
  if (!holdsSubgraphs(node)) return [];
  const found: { attribute: string; graph: GraphProto }[] = [];
  for (const a of node.attribute ?? []) {
    if (a.g) found.push({ attribute: a.name, graph: a.g });
    (a.graphs ?? []).forEach((g, i) => found.push({ attribute: `${a.name}[${i}]`, graph: g }));
  }
  return found;
}

/**
 * Outer-scope tensors a node's subgraphs read (at any depth), in first-use order: inputs of the
 * node just as its listed inputs are, though ONNX does not list them.
 */
export function implicitInputs(node: NodeProto): string[] {
  if (!holdsSubgraphs(node)) return [];
  const read = new Set<string>();
  for (const { graph } of subgraphs(node)) {
    const defined = new Set([...(graph.input ?? []).map((v) => v.name), ...(graph.initializer ?? []).map((t) => t.name ?? ''), ...graph.node.flatMap((n) => n.output)]);
    const uses = [...graph.node.flatMap((n) => [...n.input, ...implicitInputs(n)]), ...(graph.output ?? []).map((v) => v.name)];
    for (const name of uses) if (name && !defined.has(name)) read.add(name);
  }
  return [...read];
}

/** A node's listed inputs followed by its implicit ones (see implicitInputs); its own list where it has none. */
export function allInputs(node: NodeProto): readonly string[] {
  if (!holdsSubgraphs(node)) return node.input;
  const listed = new Set(node.input);
  return [...node.input, ...implicitInputs(node).filter((name) => !listed.has(name))];
}

/** The opset version the model imports for the default ONNX domain. */
export function onnxOpset(model: ModelProto): number {
  const entry = model.opset_import?.find((o) => !o.domain || o.domain === 'ai.onnx');
  return Number(entry?.version ?? 0);
}

export function dimsOf(info: ValueInfoProto): (number | string)[] | undefined {
  const shape = info.type?.tensor_type?.shape;
  if (!shape) return undefined;
  return (shape.dim ?? []).map((d) => (d.dim_value !== undefined ? Number(d.dim_value) : (d.dim_param ?? '?')));
}

export interface GraphIndex {
  producer: Map<string, NodeProto>;
  /** The nodes that read each tensor, those that read it inside a subgraph (If, Loop) included. */
  consumers: Map<string, NodeProto[]>;
  initializers: Set<string>;
  graphInputs: string[];
}

export function indexGraph(graph: GraphProto): GraphIndex {
  const producer = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const node of graph.node) {
    for (const out of node.output) if (out) producer.set(out, node);
    for (const input of allInputs(node)) {
      if (!input) continue;
      const list = consumers.get(input);
      if (list) list.push(node);
      else consumers.set(input, [node]);
    }
  }
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const graphInputs = (graph.input ?? []).map((v) => v.name).filter((n) => !initializers.has(n));
  return { producer, consumers, initializers, graphInputs };
}

/** Nodes in an order where every node follows the producers of its inputs (implicit ones too); throws on a cycle. */
export function topologicalOrder(graph: GraphProto): NodeProto[] {
  const { producer } = indexGraph(graph);
  // A node that reads outer-scope tensors in its subgraphs comes after their producers too.
  const implicit = new Map<NodeProto, readonly string[]>();
  const inputsOf = (node: NodeProto) => {
    let inputs = implicit.get(node);
    if (!inputs) implicit.set(node, (inputs = allInputs(node)));
    return inputs;
  };
  const state = new Map<NodeProto, 1 | 2>();
  const order: NodeProto[] = [];
  for (const start of graph.node) {
    if (state.has(start)) continue;
    const stack: [NodeProto, number][] = [[start, 0]];
    state.set(start, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const [node, i] = top;
      const inputs = inputsOf(node);
      if (i < inputs.length) {
        top[1]++;
        const dep = producer.get(inputs[i]);
        if (!dep) continue;
        const s = state.get(dep);
        if (s === 1) throw new Error(`the graph has a cycle through node '${dep.name || dep.op_type}'`);
        if (s === undefined) {
          state.set(dep, 1);
          stack.push([dep, 0]);
        }
      } else {
        state.set(node, 2);
        order.push(node);
        stack.pop();
      }
    }
  }
  return order;
}

export function nodeLabel(node: NodeProto): string {
  return node.name || `${node.op_type}(${node.output[0] ?? ''})`;
}
