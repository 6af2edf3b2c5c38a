// Reverse-mode differentiation of an ONNX graph into a new ONNX graph.
//
// Formula: for a scalar L = <seed, y> with y the chosen output, the builder emits, in reverse
// topological order, one vector-Jacobian product per forward node that lies on a path from a wrt
// tensor to y: dL/dx_i = rule(node)(dL/dy_k), summing the contributions of every consumer of a
// tensor. The seed is a graph input shaped like y, so one model serves any class, mix of classes
// or batch of seeds. Reference: the reverse mode of automatic differentiation as in PyTorch's
// autograd (Paszke et al., 2017) and Griewank & Walther, "Evaluating Derivatives" (2008), ch. 3;
// the per-op rules follow PyTorch's derivatives.yaml for the same ops.
import { allInputs, attrTensor, indexGraph, nodeLabel, onnxOpset, subgraphs, topologicalOrder } from '../onnx/graph';
import { tensorFromProto } from '../onnx/initializers';
import { DataType, GraphProto, ModelProto, NodeProto, ValueInfoProto } from '../onnx/proto';
import { UnknownTensorError, cloneModel, nearNames, tensorNames } from '../onnx/surgery';
import { elementTypes } from '../onnx/types';
import { concreteInputDims } from '../model';
import { Tensor } from '../tensor';
import { Emitter, attr } from './emitter';
import { upgradeToOpset11 } from './upgrade';
import { defaultRules } from './registry';
import { GradientRequestError, GradientRule, RuleContext, RuleOverrides, UnsupportedGradientError } from './rule';

export type ShapeMap = ReadonlyMap<string, readonly number[]>;

export interface GradientRequest {
  /** Tensors to differentiate with respect to: graph inputs and/or intermediate tensors. */
  wrt: readonly string[];
  /** The output to differentiate; default: the first graph output. */
  output?: string;
  /** Rules replacing the built-in rule of an op type, e.g. `{ Relu: guidedRelu }`. */
  overrides?: RuleOverrides;
  /**
   * Dims of the model's tensors from one forward run (see probeShapes): rules use them for ranks
   * and for structural sizes only, so the gradient model still runs at other input sizes.
   */
  shapes: ShapeMap;
  /**
   * Dims of the same tensors at batch 2, for models with a dynamic batch: a size-1 axis that both
   * operands of a broadcast share is known to track the batch when both grow to 2 there, so no
   * reduction is built for it (otherwise it is decided at run time from the shapes).
   */
  batchShapes?: ShapeMap;
  /**
   * 'input' (default): the seed is a graph input. 'top': the seed is computed in the graph, one-hot
   * at each row's largest output value (the first on ties, as ArgMax), so the gradients are those
   * of each row's top score and no forward pass is needed to find the class first.
   */
  seedFrom?: 'input' | 'top';
}

export interface GradientModel {
  /** The model with the seed as an extra input and the gradients as extra outputs. */
  model: ModelProto;
  /** The differentiated output. */
  output: string;
  /** Name of the seed input: dL/d(output), shaped like the output; with seedFrom 'top', the computed seed. */
  seed: string;
  /** wrt tensor → name of the output holding its gradient. */
  gradients: Record<string, string>;
  /** Outputs of the gradient model: the original outputs, the differentiated output and intermediate wrt tensors, the gradients. */
  outputs: string[];
}

// Secondary outputs that are integer or bool whatever the input type, which onnx/types.ts (it
// gives them the first input's type) does not know.
const NON_FLOAT_OUTPUTS: Record<string, Record<number, number>> = {
  TopK: { 1: DataType.INT64 },
  Unique: { 1: DataType.INT64, 2: DataType.INT64, 3: DataType.INT64 },
  Dropout: { 1: DataType.BOOL },
};

function tensorTypes(graph: GraphProto): Map<string, number> {
  const types = elementTypes(graph);
  for (const node of graph.node) {
    for (const [index, type] of Object.entries(NON_FLOAT_OUTPUTS[node.op_type] ?? {})) {
      const name = node.output[Number(index)];
      if (name) types.set(name, type);
    }
  }
  return types;
}

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);

// Ops whose outputs are constant almost everywhere in their float inputs, or that only read shapes:
// no gradient flows through them (PyTorch also gives zero gradients for these).
const NON_DIFFERENTIABLE = new Set([
  'Shape',
  'Size',
  'ArgMax',
  'ArgMin',
  'Equal',
  'Less',
  'Greater',
  'LessOrEqual',
  'GreaterOrEqual',
  'Not',
  'And',
  'Or',
  'Xor',
  'IsNaN',
  'IsInf',
  'NonZero',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'ConstantOfShape',
  'EyeLike',
  'RandomNormalLike',
  'RandomUniformLike',
  'Bernoulli',
  'Multinomial',
  'OneHot',
  'Range',
]);

export function buildGradientModel(original: ModelProto, request: GradientRequest): GradientModel {
  // Rules emit opset-11 ops at least; older models (opset 7–10) are converted first.
  const model = upgradeToOpset11(original);
  const opset = onnxOpset(model);
  const copy = cloneModel(model);
  const graph = copy.graph as GraphProto;
  const types = tensorTypes(graph);
  const names = tensorNames(graph);
  const output = request.output ?? graph.output?.[0]?.name;
  if (!output) throw new GradientRequestError('the model has no output to differentiate');
  const wrt = [...new Set(request.wrt)];
  if (wrt.length === 0) throw new GradientRequestError('no tensor to differentiate with respect to was given');
  for (const name of [output, ...wrt]) {
    if (!names.has(name)) throw new UnknownTensorError(name, nearNames(name, names));
    if (!FLOAT_TYPES.has(types.get(name) ?? DataType.FLOAT)) {
      throw new GradientRequestError(`tensor '${name}' is not floating-point, so it has no gradient`);
    }
  }

  const order = topologicalOrder(graph);
  const active = activeTensors(order, wrt, [output], types);
  const constants = constantValues(graph);
  const shapes = completeShapes(graph, request.shapes);
  const batchShapes = request.batchShapes && completeShapes(graph, request.batchShapes, 2);
  const used = new Set([...names, ...(graph.initializer ?? []).map((t) => t.name ?? ''), ...graph.node.map((n) => n.name ?? ''), ...subgraphNames(graph)]);
  const emit = new Emitter(opset, used);
  const replaced = new Map<NodeProto, NodeProto>();
  const seed = emit.fresh('gradient_seed');
  const outputRank = shapes.get(output)?.length;
  if (outputRank === undefined) throw new GradientRequestError(`the shape of output '${output}' is unknown: probe the model's shapes first`);
  const outputType = types.get(output) ?? DataType.FLOAT;
  const seedInputs = request.seedFrom === 'top' ? [] : [valueInfo(seed, outputType, outputRank, 'seed')];
  if (request.seedFrom === 'top') emitTopSeed(emit, output, seed, outputRank, outputType);
  const contributions = new Map<string, string[]>([[output, [seed]]]);
  const state: BuildState = { emit, opset, types, shapes, batchShapes, constants, replaced, overrides: request.overrides, used };
  backward(order, active, contributions, state);

  emit.setScope('grad');
  const gradients: Record<string, string> = {};
  const outputs: ValueInfoProto[] = (graph.output ?? []).map((o) => ({ name: o.name, type: { tensor_type: { elem_type: o.type?.tensor_type?.elem_type } } }));
  const graphInputs = new Set(indexGraph(graph).graphInputs);
  const listed = new Set(outputs.map((o) => o.name));
  for (const name of [output, ...wrt]) {
    if (!graphInputs.has(name) && !listed.has(name)) {
      outputs.push(valueInfo(name, types.get(name) ?? DataType.FLOAT));
      listed.add(name);
    }
  }
  for (const name of wrt) {
    gradients[name] = gradientOutput(emit, name, contributions.get(name), types.get(name) ?? DataType.FLOAT, 'grad');
    outputs.push(valueInfo(gradients[name], types.get(name) ?? DataType.FLOAT));
  }

  graph.node = [...graph.node.map((n) => replaced.get(n) ?? n), ...emit.nodes];
  graph.initializer = [...(graph.initializer ?? []), ...emit.initializers];
  graph.input = [...relaxedInputs(graph), ...seedInputs];
  graph.output = outputs;
  graph.value_info = [];
  return { model: copy, output, seed, gradients, outputs: outputs.map((o) => o.name) };
}

/**
 * The reverse sweep over `order`: one vector-Jacobian product per node on an active path, each
 * input's gradient terms appended to `contributions` (summed where they are used).
 */
function backward(order: NodeProto[], active: Set<string>, contributions: Map<string, string[]>, state: BuildState): void {
  const { emit } = state;
  for (const node of [...order].reverse()) {
    const dy = node.output.map((o) => (o && active.has(o) ? contributions.get(o) : undefined));
    if (dy.every((d) => !d)) continue;
    const inputs = allInputs(node);
    const wants = inputs.map((i) => !!i && active.has(i) && differentiableEdge(node, i, state.types));
    if (!wants.some(Boolean)) continue;
    const label = nodeLabel(node);
    emit.setScope(`${label}/grad`);
    const dyNames = dy.map((d) => (d ? emit.sum(d) : undefined));
    // Rules are keyed by standard op type; an op of another domain (e.g. com.microsoft) has none.
    const standard = !node.domain || node.domain === 'ai.onnx';
    const rule = standard ? (state.overrides?.[node.op_type] ?? defaultRules[node.op_type]) : undefined;
    if (!rule) throw new UnsupportedGradientError(node.op_type, label);
    const dx = rule(ruleContext(node, { ...state, dy: dyNames, wants }));
    inputs.forEach((input, k) => {
      if (!wants[k] || !dx[k]) return;
      const list = contributions.get(input);
      if (list) list.push(dx[k] as string);
      else contributions.set(input, [dx[k] as string]);
    });
  }
}

/**
 * The backward graph of subgraph `body` (an If branch): no inputs; one output per `wrt` tensor of
 * the outer scope, Σ over the body's outputs of dy_k · ∂ output_k / ∂ wrt (zeros where the body
 * does not read it). It recomputes the body's forward nodes, whose tensors are not visible from
 * a sibling subgraph; `dy` and `wrt` are outer-scope tensors, read as implicit inputs.
 */
function differentiateSubgraph(body: GraphProto, dy: readonly (string | undefined)[], wrt: readonly string[], outer: BuildState): GraphProto {
  const order = topologicalOrder(body);
  const outputs = (body.output ?? []).map((o) => o.name);
  const seeded = outputs.filter((_, k) => dy[k]);
  const contributions = new Map<string, string[]>();
  outputs.forEach((o, k) => {
    if (dy[k]) contributions.set(o, [...(contributions.get(o) ?? []), dy[k] as string]);
  });
  const emit = new Emitter(outer.opset, outer.used);
  const constants = new Map([...outer.constants, ...constantValues(body)]);
  const replaced = new Map<NodeProto, NodeProto>();
  const state: BuildState = { ...outer, emit, constants, replaced };
  backward(order, activeTensors(order, [...wrt], seeded, outer.types), contributions, state);
  emit.setScope(`${body.name || 'branch'}/grad`);
  const gradOutputs = wrt.map((name) => {
    const type = outer.types.get(name) ?? DataType.FLOAT;
    return valueInfo(gradientOutput(emit, name, contributions.get(name), type, `${body.name || 'branch'}/grad`), type);
  });
  return {
    name: `${body.name || 'branch'}_grad`,
    node: [...body.node.map((n) => replaced.get(n) ?? n), ...emit.nodes],
    initializer: [...(body.initializer ?? []), ...emit.initializers],
    input: [],
    output: gradOutputs,
  };
}

/**
 * A new tensor holding the sum of `terms` (zeros shaped like `name` when there are none): an
 * output must be its own tensor, and a subgraph output must be defined inside the subgraph.
 */
function gradientOutput(emit: Emitter, name: string, terms: string[] | undefined, type: number, scope: string): string {
  const total = terms ? emit.sum(terms) : emit.zerosLike(name, type);
  const gradName = emit.fresh(`${name}_grad`);
  emit.nodes.push({ name: emit.fresh(`${scope}/${name}_grad`), op_type: 'Identity', input: [total], output: [gradName], attribute: [] });
  return gradName;
}

/** Names defined inside subgraphs (any depth): a new name must not collide with them either. */
function subgraphNames(graph: GraphProto): string[] {
  return graph.node.flatMap((node) =>
    subgraphs(node).flatMap(({ graph: body }) => [
      ...body.node.flatMap((n) => [...n.output, n.name ?? '']),
      ...(body.initializer ?? []).map((t) => t.name ?? ''),
      ...(body.input ?? []).map((v) => v.name),
      ...subgraphNames(body),
    ]),
  );
}

/** seed = one-hot of ArgMax over each row of the output (flattened after the batch axis), shaped like the output. */
function emitTopSeed(emit: Emitter, output: string, seed: string, rank: number, type: number): void {
  if (rank < 2) throw new GradientRequestError(`a 'top' seed needs an output with a batch axis and scores, but '${output}' has ${rank} dimension${rank === 1 ? '' : 's'}`);
  emit.setScope('grad/top_seed');
  const rows = rank === 2 ? output : emit.op('Reshape', [output, emit.ints([0, -1])]);
  const top = emit.op('ArgMax', [rows], [attr.int('axis', 1), attr.int('keepdims', 0)]);
  const oneHot = emit.oneHot(top, emit.dim(rows, 1), 1, 1, type);
  const shaped = rank === 2 ? oneHot : emit.reshapeLike(oneHot, output);
  emit.nodes.push({ name: emit.fresh('grad/top_seed/Identity'), op_type: 'Identity', input: [shaped], output: [seed], attribute: [] });
}

function valueInfo(name: string, elemType: number, rank?: number, dimPrefix = name): ValueInfoProto {
  const shape = rank === undefined ? undefined : { dim: Array.from({ length: rank }, (_, i) => ({ dim_param: `${dimPrefix}_d${i}` })) };
  return { name, type: { tensor_type: { elem_type: elemType, ...(shape ? { shape } : {}) } } };
}

/** Real inputs get symbolic dims so the same gradient model runs on other batch and image sizes. */
function relaxedInputs(graph: GraphProto): ValueInfoProto[] {
  const { initializers } = indexGraph(graph);
  return (graph.input ?? []).map((v) => {
    const dims = v.type?.tensor_type?.shape?.dim;
    if (initializers.has(v.name) || !dims) return v;
    const dim = dims.map((d, i) => (i === 1 && dims.length === 4 && d.dim_value !== undefined ? d : { dim_param: `${v.name}_d${i}` }));
    return { ...v, type: { ...v.type, tensor_type: { ...v.type!.tensor_type, shape: { dim } } } };
  });
}

function isFloat(name: string, types: Map<string, number>): boolean {
  return FLOAT_TYPES.has(types.get(name) ?? DataType.FLOAT);
}

function differentiableEdge(node: NodeProto, input: string, types: Map<string, number>): boolean {
  return !NON_DIFFERENTIABLE.has(node.op_type) && isFloat(input, types);
}

/**
 * Tensors on a differentiable path from a wrt tensor to an output: reachable forward from wrt
 * (through float edges of differentiable ops) and backward from the outputs. Shape computations
 * (Shape, Cast to int, Gather on shapes, ...) fall outside, so nothing is differentiated there.
 * A node's implicit inputs (outer-scope tensors its subgraphs read) count as its inputs, so a path
 * through an If, Loop or Scan is differentiated or refused, never dropped.
 */
function activeTensors(order: NodeProto[], wrt: string[], outputs: string[], types: Map<string, number>): Set<string> {
  const forward = new Set(wrt);
  for (const node of order) {
    if (allInputs(node).some((input) => input && forward.has(input) && differentiableEdge(node, input, types))) {
      for (const out of node.output) if (out && isFloat(out, types)) forward.add(out);
    }
  }
  const reaching = new Set(outputs);
  for (const node of [...order].reverse()) {
    if (!node.output.some((o) => reaching.has(o))) continue;
    for (const input of allInputs(node)) if (input && differentiableEdge(node, input, types)) reaching.add(input);
  }
  return new Set([...forward].filter((t) => reaching.has(t)));
}

function constantValues(graph: GraphProto): Map<string, () => Tensor> {
  const values = new Map<string, () => Tensor>();
  for (const t of graph.initializer ?? []) values.set(t.name ?? '', () => tensorFromProto(t));
  for (const node of graph.node) {
    const t = node.op_type === 'Constant' ? attrTensor(node, 'value') : undefined;
    if (t) values.set(node.output[0], () => tensorFromProto(t));
  }
  return values;
}

/** Probed dims plus those of initializers, and graph inputs' declared dims (symbolic ones as the probe would make them, at `batch`). */
function completeShapes(graph: GraphProto, probed: ShapeMap, batch = 1): Map<string, readonly number[]> {
  const shapes = new Map(probed);
  for (const t of graph.initializer ?? []) if (!shapes.has(t.name ?? '')) shapes.set(t.name ?? '', (t.dims ?? []).map(Number));
  for (const v of graph.input ?? []) {
    const dims = v.type?.tensor_type?.shape?.dim;
    if (!shapes.has(v.name) && dims) {
      const concrete = concreteInputDims(dims.map((d) => (d.dim_value !== undefined ? Number(d.dim_value) : (d.dim_param ?? '?'))));
      shapes.set(
        v.name,
        concrete.map((d, i) => (i === 0 && dims[0].dim_value === undefined ? batch : d)),
      );
    }
  }
  return shapes;
}

interface BuildState {
  emit: Emitter;
  opset: number;
  types: Map<string, number>;
  shapes: Map<string, readonly number[]>;
  batchShapes: Map<string, readonly number[]> | undefined;
  constants: Map<string, () => Tensor>;
  replaced: Map<NodeProto, NodeProto>;
  overrides: RuleOverrides | undefined;
  /** Every name in the model and the gradient graph so far, subgraphs included. */
  used: Set<string>;
}

interface NodeState extends BuildState {
  dy: (string | undefined)[];
  wants: boolean[];
}

function ruleContext(node: NodeProto, s: NodeState): RuleContext {
  const label = nodeLabel(node);
  const dataInput = allInputs(node).find((i, k) => s.wants[k]) ?? node.input[0];
  const dtype = s.types.get(dataInput) ?? DataType.FLOAT;
  const dims = (name: string): number[] => {
    const d = s.shapes.get(name);
    if (!d) throw new GradientRequestError(`the shape of tensor '${name}' (node ${label}) is unknown: probe the model's shapes first`);
    return [...d];
  };
  const ctx: RuleContext = {
    node,
    emit: s.emit,
    opset: s.opset,
    dy: s.dy,
    wants: s.wants,
    dtype,
    elemType: (name) => s.types.get(name) ?? DataType.FLOAT,
    dims,
    rank: (name) => dims(name).length,
    setDims: (name, d) => s.shapes.set(name, [...d]),
    scalar: (value) => s.emit.scalar(value, dtype),
    constant: (name) => s.constants.get(name)?.(),
    forwardOutput(index) {
      const current = s.replaced.get(node) ?? node;
      if (current.output[index]) return current.output[index];
      const extended = { ...current, output: [...current.output] };
      while (extended.output.length <= index) extended.output.push('');
      extended.output[index] = s.emit.fresh(`${node.output[0]}_out${index}`);
      s.replaced.set(node, extended);
      return extended.output[index];
    },
    unbroadcast: (grad, gradLike, target) => unbroadcast(ctx, grad, gradLike, target, s.batchShapes),
    differentiateSubgraph: (body, dy, wrt) => differentiateSubgraph(body, dy, wrt, s),
    unsupported(detail) {
      throw new UnsupportedGradientError(node.op_type, label, detail);
    },
  };
  return ctx;
}

/**
 * Reduces a gradient shaped like `gradLike` to the shape of `target` (numpy broadcasting undone):
 * ReduceSum over the axes where target had size 1 or did not exist, then Reshape to Shape(target).
 * Axes where both had size 1 when probed are ambiguous: the size 1 may be structural (target stays
 * 1) or may track the other operand (e.g. the batch size). The batch-2 probe settles those that
 * both grow; the others are decided at run time (opset ≥ 13).
 */
function unbroadcast(ctx: RuleContext, grad: string, gradLike: string, target: string, batchShapes: ShapeMap | undefined): string {
  const { emit } = ctx;
  const g = ctx.dims(gradLike);
  const t = ctx.dims(target);
  const lead = g.length - t.length;
  const g2 = batchShapes?.get(gradLike);
  const t2 = batchShapes?.get(target);
  const bothGrow = (i: number) => !!g2 && !!t2 && g2.length === g.length && t2.length === t.length && t2[i] > 1 && t2[i] === g2[lead + i];
  const axes = Array.from({ length: lead }, (_, i) => i);
  let ambiguous = false;
  t.forEach((d, i) => {
    if (d === 1 && g[lead + i] !== 1) axes.push(lead + i);
    else if (d === 1 && !bothGrow(i)) ambiguous = true;
  });
  if (ambiguous && ctx.opset >= 13) {
    const targetShape = lead > 0 ? emit.op('Concat', [emit.ints(new Array(lead).fill(1)), emit.shape(target)], [attr.int('axis', 0)]) : emit.shape(target);
    const differs = emit.op('Not', [emit.op('Equal', [targetShape, emit.shape(grad)])]);
    const dynamicAxes = emit.op('Reshape', [emit.op('NonZero', [differs]), emit.ints([-1])]);
    return emit.reshapeLike(emit.reduceSumDynamic(grad, dynamicAxes), target);
  }
  // Before opset 13 ReduceSum takes static axes only: sizes that were both 1 are taken to track each other.
  if (axes.length === 0) return grad;
  return emit.reshapeLike(emit.reduce('ReduceSum', grad, axes, true), target);
}

export type { GradientRule, RuleOverrides };
