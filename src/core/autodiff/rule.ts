// The contract between the backward-graph builder and the per-op gradient rules.
//
// A rule receives the gradient flowing into each output of one forward node (as tensor names in the
// graph being built) and returns, for each input of the node, the name of the tensor holding the
// gradient with respect to that input (vector-Jacobian product), or undefined where none is needed
// or the gradient is zero. Rules only emit nodes; they never run anything.
import { GraphProto, NodeProto } from '../onnx/proto';
import { Tensor } from '../tensor';
import { Emitter } from './emitter';

export interface RuleContext {
  readonly node: NodeProto;
  /** Emits nodes and constants of the backward graph. */
  readonly emit: Emitter;
  /** Opset of the default ONNX domain, which every emitted node must respect. */
  readonly opset: number;
  /** Gradient flowing into each output of the node; undefined where none flows. */
  readonly dy: readonly (string | undefined)[];
  /**
   * Whether each input needs a gradient (lies on a path from a wrt tensor to the output): the
   * node's listed inputs, then its implicit ones (onnx/graph allInputs); the rule returns its
   * gradients in the same order.
   */
  readonly wants: readonly boolean[];
  /** Element type (DataType) of the node's floating-point data, for constants. */
  readonly dtype: number;
  /** Dims of a forward tensor as probed at build time; use for ranks and structural sizes only. */
  dims(name: string): number[];
  /** Element type (DataType) of a forward tensor. */
  elemType(name: string): number;
  rank(name: string): number;
  /** Records the dims a new tensor has at the probed size, so dims()/unbroadcast() accept it. */
  setDims(name: string, dims: readonly number[]): void;
  /** 0-D constant of the node's element type. */
  scalar(value: number): string;
  /** Value of a forward tensor that is an initializer or a Constant output; undefined otherwise. */
  constant(name: string): Tensor | undefined;
  /** Name of the node's output `index`, adding that output to the forward node if it has none. */
  forwardOutput(index: number): string;
  /**
   * Sums `grad` (shaped like tensor `gradLike`, forward or given dims by setDims) over the axes where `target` was broadcast,
   * then reshapes it to `target`'s shape.
   */
  unbroadcast(grad: string, gradLike: string, target: string): string;
  /**
   * The backward graph of one of the node's subgraphs (e.g. an If branch), built with the same
   * rules: no inputs, one output per `wrt` outer-scope tensor holding Σ_k dy[k] · ∂ output_k / ∂ wrt
   * (zeros where the subgraph does not read it); `dy` are outer-scope gradients of its outputs.
   */
  differentiateSubgraph(body: GraphProto, dy: readonly (string | undefined)[], wrt: readonly string[]): GraphProto;
  /** Throws UnsupportedGradientError for this node, naming what is not supported. */
  unsupported(detail: string): never;
}

export type GradientRule = (ctx: RuleContext) => (string | undefined)[];

/** Rules that replace the built-in rule of an op type, e.g. `{ Relu: guidedRelu }`. */
export type RuleOverrides = Readonly<Record<string, GradientRule>>;

export class UnsupportedGradientError extends Error {
  constructor(
    readonly opType: string,
    readonly nodeName: string,
    readonly detail?: string,
  ) {
    super(`gradient of op '${opType}' (node ${nodeName}) is not supported${detail ? `: ${detail}` : ''}`);
    this.name = 'UnsupportedGradientError';
  }
}

/** A request that cannot be differentiated: unknown or non-float tensors, unsupported opset. */
export class GradientRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GradientRequestError';
  }
}
