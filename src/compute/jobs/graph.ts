// The graph job of the compute worker: the model laid out as a graph (src/core/graph/layout.ts),
// kept per open model since a large layout takes seconds, and for a named image each node's
// activation statistics and thumbnail (src/core/graph/stats.ts), computed group by group within the
// activation limit.
import type { GraphView, NodeStatsView } from '../../protocol';
import { layoutGraph } from '../../core/graph/layout';
import { NodeStats, StatsTarget, graphStats, outputBounds } from '../../core/graph/stats';
import { colorize } from '../../core/image/colormap';
import { ConvModel } from '../../core/model';
import { JobHandlers } from '../jobs';
import { WorkerState, pngDataUrl, scaled01 } from './state';

const layouts = new WeakMap<ConvModel, Promise<GraphView>>();

function layoutOf(model: ConvModel): Promise<GraphView> {
  let layout = layouts.get(model);
  if (!layout) {
    layout = (async () => {
      // Probed shapes leave out the graph's inputs: they show their declared shape when it is concrete.
      const shapes = new Map(await model.probeShapes().catch(() => new Map<string, number[]>()));
      for (const { name, shape } of model.summary().inputs) if (shape.every((d) => typeof d === 'number')) shapes.set(name, shape as number[]);
      return layoutGraph(model.graph, shapes);
    })();
    layouts.set(model, layout);
    layout.catch(() => layouts.delete(model));
  }
  return layout;
}

const round = (v: number) => Math.round(v * 1e4) / 1e4;

function statsView(s: NodeStats): NodeStatsView {
  const view: NodeStatsView = { mean: round(s.mean), max: round(s.max), zeroFraction: round(s.zeroFraction), channels: s.channels, dead: s.dead };
  if (s.saturated !== undefined) view.saturated = s.saturated;
  if (s.thumbnail) {
    const { width, height, values } = s.thumbnail;
    view.thumbnail = pngDataUrl(colorize(scaled01(values), width, height, 'viridis'), width, height);
  }
  return view;
}

export function graphJobs(state: WorkerState): JobHandlers<'graph'> {
  return {
    async graph({ modelPath, imageId }, job) {
      const { model } = state.contextFor(modelPath);
      job.progress(0, 'laying out the graph');
      const layout = await layoutOf(model);
      if (!imageId) return layout;
      const image = state.imageFor(imageId);
      const producers = new Map(model.graph.node.map((n) => [n.output[0], n]));
      const targets: StatsTarget[] = layout.nodes
        .filter((n) => n.opType !== 'Input' && producers.has(n.tensor))
        .map((n) => ({ tensor: n.tensor, bounds: outputBounds(producers.get(n.tensor)!, model.graph) }));
      const { stats, skipped } = await graphStats(model, { [model.input.name]: image.tensor }, targets, { signal: job.signal, progress: (f, m) => job.progress(0.1 + 0.9 * f, m) });
      const nodes = layout.nodes.map((n) => {
        const s = stats.get(n.tensor);
        return s ? { ...n, stats: statsView(s) } : n;
      });
      const overLimit = [...skipped.values()].filter((reason) => reason.includes('limit')).length;
      const notes = overLimit > 0 ? [`${overLimit} layers have no statistics: each one's activations alone are over the activation memory limit.`] : [];
      return { ...layout, nodes, imageId, notes };
    },
  };
}
