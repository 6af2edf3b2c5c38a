// The graph view as the compute worker makes it and the webview draws it; the protocol re-exports
// these, so the core needs no import from above it.

/** Activation statistics of one node's first output for one image (src/core/graph/stats.ts). */
export interface NodeStatsView {
  mean: number;
  max: number;
  /** Fraction of values exactly zero. */
  zeroFraction: number;
  /** Channels (axis 1) of the output. */
  channels: number;
  /** Channels with no positive value anywhere. */
  dead: number;
  /** Channels at their op's bound everywhere (Sigmoid, Tanh, HardSigmoid, Clip); absent for unbounded ops. */
  saturated?: number;
  /** Mean over channels of a spatial output, min-max scaled, viridis, PNG data URL of at most 32 px a side. */
  thumbnail?: string;
}

export interface GraphNodeView {
  name: string;
  opType: string;
  /** The node's first output (absent for a graph input node, whose tensor is its name). */
  tensor: string;
  shape?: number[];
  /** Centre and size in layout units. */
  x: number;
  y: number;
  width: number;
  height: number;
  stats?: NodeStatsView;
}

/** The model as a graph laid out by ELK's layered algorithm, in the compute worker. */
export interface GraphView {
  nodes: GraphNodeView[];
  /** Edges by node index, with their route as x0, y0, x1, y1, … */
  edges: { from: number; to: number; points: number[] }[];
  width: number;
  height: number;
  /** The image the statistics are of, when one was named. */
  imageId?: string;
  notes: string[];
}
