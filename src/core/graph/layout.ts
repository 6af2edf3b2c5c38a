// The model as a drawable graph: one node per ONNX node (Constant nodes left out, as Netron does)
// and per graph input, an edge from the producer of each tensor a node reads, laid out top-down by
// ELK's layered algorithm (elkjs, Eclipse Layout Kernel compiled to JavaScript). ELK was picked over
// dagre by measurement (`npm run bench`): dagre's recursive ordering overflows the stack on a
// 2,000-node chain, ELK lays out 5,000 nodes. ELK runs here, in the compute worker, because the
// webview's CSP has no worker-src and a layout on its thread would freeze the view. The options
// trade crossing quality for speed: CNN graphs are mostly chains.
import ELK from 'elkjs/lib/elk.bundled.js';
import type { ElkNode } from 'elkjs/lib/elk-api';
import type { GraphNodeView, GraphView } from './types';
import { indexGraph, nodeLabel } from '../onnx/graph';
import { GraphProto } from '../onnx/proto';

/** Graphs over this many nodes are refused: their layout would take minutes. */
export const MAX_GRAPH_NODES = 20_000;
export const NODE_WIDTH = 220;
export const NODE_HEIGHT = 64;

const LAYOUT_OPTIONS = {
  'elk.algorithm': 'layered',
  'elk.direction': 'DOWN',
  // Measured about twice as fast as ELK's defaults on a 5,000-node chain with skips (bench/graph-layout.ts):
  // layers by longest path, one sweep of crossing reduction, simple placement, nodes kept in file order.
  'elk.layered.layering.strategy': 'LONGEST_PATH',
  'elk.layered.thoroughness': '1',
  'elk.layered.crossingMinimization.greedySwitch.type': 'OFF',
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  'elk.layered.nodePlacement.strategy': 'SIMPLE',
  'elk.layered.compaction.postCompaction.strategy': 'NONE',
  'elk.layered.edgeRouting': 'POLYLINE',
  'elk.separateConnectedComponents': 'false',
  'elk.spacing.nodeNode': '24',
  // Skip edges keep clear of the nodes they pass.
  'elk.spacing.edgeNode': '20',
  'elk.layered.spacing.nodeNodeBetweenLayers': '32',
};

export class GraphTooLargeError extends Error {}

/** Nodes (graph inputs first, then the graph's nodes in file order) and edges by index, before layout. */
export interface GraphStructure {
  nodes: { name: string; opType: string; tensor: string }[];
  edges: { from: number; to: number }[];
}

export function graphStructure(graph: GraphProto): GraphStructure {
  const { graphInputs } = indexGraph(graph);
  const nodes: GraphStructure['nodes'] = graphInputs.map((name) => ({ name, opType: 'Input', tensor: name }));
  const producerIndex = new Map<string, number>(graphInputs.map((name, i) => [name, i]));
  const shown = graph.node.filter((n) => n.op_type !== 'Constant');
  for (const node of shown) {
    for (const out of node.output) if (out) producerIndex.set(out, nodes.length);
    nodes.push({ name: nodeLabel(node), opType: node.op_type, tensor: node.output.find((o) => o) ?? '' });
  }
  if (nodes.length > MAX_GRAPH_NODES) {
    throw new GraphTooLargeError(`the graph has ${nodes.length.toLocaleString('en-US')} nodes, more than the ${MAX_GRAPH_NODES.toLocaleString('en-US')} the graph view lays out`);
  }
  const edges: GraphStructure['edges'] = [];
  const seen = new Set<string>();
  shown.forEach((node, k) => {
    const to = graphInputs.length + k;
    for (const input of node.input) {
      const from = input ? producerIndex.get(input) : undefined;
      if (from === undefined || from === to || seen.has(`${from}>${to}`)) continue;
      seen.add(`${from}>${to}`);
      edges.push({ from, to });
    }
  });
  return { nodes, edges };
}

/** The graph laid out, with each node's probed shape where `shapes` has one; no statistics. */
export async function layoutGraph(graph: GraphProto, shapes: Map<string, number[]>): Promise<GraphView> {
  const structure = graphStructure(graph);
  const elk = new ELK();
  const input: ElkNode = {
    id: 'graph',
    layoutOptions: LAYOUT_OPTIONS,
    children: structure.nodes.map((_, i) => ({ id: `n${i}`, width: NODE_WIDTH, height: NODE_HEIGHT })),
    edges: structure.edges.map((e, i) => ({ id: `e${i}`, sources: [`n${e.from}`], targets: [`n${e.to}`] })),
  };
  const laid = await elk.layout(input);
  const placed = laid.children ?? [];
  const nodes: GraphNodeView[] = structure.nodes.map((n, i) => {
    const p = placed[i];
    const view: GraphNodeView = { ...n, x: (p.x ?? 0) + NODE_WIDTH / 2, y: (p.y ?? 0) + NODE_HEIGHT / 2, width: NODE_WIDTH, height: NODE_HEIGHT };
    const shape = shapes.get(n.tensor);
    if (shape) view.shape = shape;
    return view;
  });
  const routed = laid.edges ?? [];
  const edges = structure.edges.map((e, i) => {
    const section = routed[i].sections?.[0];
    const points = section ? [section.startPoint, ...(section.bendPoints ?? []), section.endPoint].flatMap((p) => [round(p.x), round(p.y)]) : [];
    return { ...e, points };
  });
  return { nodes, edges, width: laid.width ?? 0, height: laid.height ?? 0, notes: [] };
}

const round = (v: number) => Math.round(v * 10) / 10;
