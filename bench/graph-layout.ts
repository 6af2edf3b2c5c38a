// The graph view's layout, timed (the tests check only the layout's correctness): ELK's layered
// layout as the compute worker runs it (src/core/graph/layout.ts) on resnet18 and on generated
// chains with skips of 500 to 5,000 nodes, next to dagre (@dagrejs/dagre, the other established
// layered-layout library, a dev dependency kept for this comparison) on the same graphs with the same
// node sizes. dagre's recursive node ordering overflows the default stack on long chains, so its
// failure is reported as such. Ratios are ELK's time over dagre's on the same graph in the same run.
import dagre from '@dagrejs/dagre';
import * as fs from 'fs';
import * as path from 'path';
import { NODE_HEIGHT, NODE_WIDTH, graphStructure, layoutGraph } from '../src/core/graph/layout';
import { GraphProto, decodeModel } from '../src/core/onnx/proto';
import { skipChain } from '../test/unit/skip-chain-model';

const ROOT = path.resolve(__dirname, '../..');
const RESNET = path.resolve(ROOT, '../shared/reference/resnet18.onnx');

async function seconds(fn: () => unknown): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

function dagreLayout(graph: GraphProto): void {
  const { nodes, edges } = graphStructure(graph);
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'TB', nodesep: 24, ranksep: 32 });
  g.setDefaultEdgeLabel(() => ({}));
  nodes.forEach((_, i) => g.setNode(`n${i}`, { width: NODE_WIDTH, height: NODE_HEIGHT }));
  for (const e of edges) g.setEdge(`n${e.from}`, `n${e.to}`);
  dagre.layout(g);
}

async function timeDagre(graph: GraphProto): Promise<number | string> {
  try {
    return await seconds(() => dagreLayout(graph));
  } catch (err) {
    return `fails: ${(err as Error).message}`;
  }
}

export async function benchGraphLayout(quick: boolean): Promise<Record<string, unknown>[]> {
  const cases: { name: string; graph: GraphProto }[] = [];
  if (fs.existsSync(RESNET)) cases.push({ name: 'resnet18', graph: decodeModel(fs.readFileSync(RESNET)).graph as GraphProto });
  for (const length of quick ? [500, 5000] : [500, 2000, 5000]) cases.push({ name: `skip chain of ${length} nodes`, graph: skipChain(length).graph as GraphProto });
  const rows: Record<string, unknown>[] = [];
  for (const { name, graph } of cases) {
    const elk = await seconds(() => layoutGraph(graph, new Map()));
    const dagreTime = await timeDagre(graph);
    rows.push({
      bench: 'graph layout',
      graph: name,
      nodes: graphStructure(graph).nodes.length,
      elkSeconds: +elk.toFixed(2),
      dagreSeconds: typeof dagreTime === 'number' ? +dagreTime.toFixed(2) : dagreTime,
      elkOverDagre: typeof dagreTime === 'number' ? +(elk / dagreTime).toFixed(2) : undefined,
    });
    console.log(JSON.stringify(rows.at(-1)));
  }
  return rows;
}
