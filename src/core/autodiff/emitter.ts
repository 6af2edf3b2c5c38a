// Emits the nodes and constants of a backward graph: unique names, constants of the right element
// type, and the few ops whose form changed between opsets 11 and 21 (axes as attribute or input).
import { AttributeProto, AttributeType, DataType, GraphProto, NodeProto, TensorProto } from '../onnx/proto';
import { tensorToProto } from '../onnx/initializers';
import { Tensor } from '../tensor';

const utf8 = new TextEncoder();

/** Attribute constructors: ONNX attributes must carry their type. */
export const attr = {
  int: (name: string, i: number): AttributeProto => ({ name, type: AttributeType.INT, i }),
  ints: (name: string, ints: readonly number[]): AttributeProto => ({ name, type: AttributeType.INTS, ints: [...ints] }),
  float: (name: string, f: number): AttributeProto => ({ name, type: AttributeType.FLOAT, f }),
  string: (name: string, s: string): AttributeProto => ({ name, type: AttributeType.STRING, s: utf8.encode(s) }),
  tensor: (name: string, t: TensorProto): AttributeProto => ({ name, type: AttributeType.TENSOR, t }),
  graph: (name: string, g: GraphProto): AttributeProto => ({ name, type: AttributeType.GRAPH, g }),
};

/** Largest int64 ONNX Slice accepts as "to the end". */
export const INT64_MAX = 9223372036854775807n;
/** Smallest int64: a reversed Slice's end that reaches index 0. */
export const INT64_MIN = -9223372036854775808n;

export class Emitter {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private scope = 'grad';
  private readonly constants = new Map<string, string>();
  private readonly shapes = new Map<string, string>();

  /** `used`: every name already in the model, so new names never collide with them. */
  constructor(
    readonly opset: number,
    private readonly used: Set<string>,
  ) {}

  /** Names the following nodes after the forward node they differentiate. */
  setScope(scope: string): void {
    this.scope = scope;
  }

  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Adds a node; returns its output names. */
  emit(op: string, inputs: string[], attributes: AttributeProto[] = [], outputCount = 1): string[] {
    const name = this.fresh(`${this.scope}/${op}`);
    const output = Array.from({ length: outputCount }, (_, i) => this.fresh(`${name}_output_${i}`));
    this.nodes.push({ name, op_type: op, input: inputs, output, attribute: attributes });
    return output;
  }

  /** Adds a single-output node; returns its output name. */
  op(op: string, inputs: string[], attributes: AttributeProto[] = []): string {
    return this.emit(op, inputs, attributes)[0];
  }

  private constant(key: string, tensor: Tensor): string {
    let name = this.constants.get(key);
    if (!name) {
      name = this.fresh(`grad/const_${this.constants.size}`);
      this.initializers.push(tensorToProto(name, tensor));
      this.constants.set(key, name);
    }
    return name;
  }

  /** A constant tensor, e.g. a kernel made at build time. */
  constantTensor(tensor: Tensor): string {
    const name = this.fresh(`${this.scope}/weight`);
    this.initializers.push(tensorToProto(name, tensor));
    return name;
  }

  /** A 1-D int64 constant. */
  ints(values: readonly (number | bigint)[]): string {
    return this.constant(`i64[${values.join(',')}]`, { dtype: 'int64', dims: [values.length], data: BigInt64Array.from(values.map((v) => BigInt(v))) });
  }

  /** A 0-D int64 constant. */
  int(value: number): string {
    return this.constant(`i64(${value})`, { dtype: 'int64', dims: [], data: BigInt64Array.of(BigInt(value)) });
  }

  /** A 0-D constant of a floating-point element type (float16 and bfloat16 through a Cast). */
  scalar(value: number, type: number): string {
    if (type === DataType.DOUBLE) return this.constant(`f64(${value})`, { dtype: 'float64', dims: [], data: Float64Array.of(value) });
    const f32 = this.constant(`f32(${value})`, { dtype: 'float32', dims: [], data: Float32Array.of(value) });
    if (type === DataType.FLOAT) return f32;
    return this.cached(`cast(${value},${type})`, () => this.op('Cast', [f32], [attr.int('to', type)]));
  }

  /** A constant float tensor of the given element type. */
  floats(values: readonly number[], dims: number[], type: number): string {
    const key = `f${type}[${dims}](${values.join(',')})`;
    if (type === DataType.DOUBLE) return this.constant(key, { dtype: 'float64', dims, data: Float64Array.from(values) });
    const f32 = this.constant(`f32${key}`, { dtype: 'float32', dims, data: Float32Array.from(values) });
    return type === DataType.FLOAT ? f32 : this.cached(`cast${key}`, () => this.op('Cast', [f32], [attr.int('to', type)]));
  }

  private cached(key: string, make: () => string): string {
    let name = this.constants.get(key);
    if (!name) {
      name = make();
      this.constants.set(key, name);
    }
    return name;
  }

  /** Shape(x), emitted once per tensor. */
  shape(x: string): string {
    let name = this.shapes.get(x);
    if (!name) {
      name = this.op('Shape', [x]);
      this.shapes.set(x, name);
    }
    return name;
  }

  /** Shape(x)[begin:end] as a 1-D int64 tensor. */
  shapeSlice(x: string, begin: number, end?: number): string {
    return this.op('Slice', [this.shape(x), this.ints([begin]), this.ints([end ?? INT64_MAX])]);
  }

  /** Shape(x)[axis] as a 0-D int64 tensor. */
  dim(x: string, axis: number): string {
    return this.op('Gather', [this.shape(x), this.int(axis)]);
  }

  reshapeLike(x: string, like: string): string {
    return this.op('Reshape', [x, this.shape(like)]);
  }

  reduce(op: 'ReduceSum' | 'ReduceMean' | 'ReduceMax' | 'ReduceMin' | 'ReduceProd', x: string, axes: readonly number[], keepdims: boolean): string {
    // Axes moved from attribute to input at opset 13 for ReduceSum, at 18 for the others.
    const axesAsInput = this.opset >= (op === 'ReduceSum' ? 13 : 18);
    const keep = attr.int('keepdims', keepdims ? 1 : 0);
    return axesAsInput ? this.op(op, [x, this.ints(axes)], [keep]) : this.op(op, [x], [attr.ints('axes', axes), keep]);
  }

  /** ReduceSum over axes given by an int64 tensor computed at run time (opset ≥ 13 only). */
  reduceSumDynamic(x: string, axes: string): string {
    return this.op('ReduceSum', [x, axes], [attr.int('keepdims', 1), attr.int('noop_with_empty_axes', 1)]);
  }

  unsqueeze(x: string, axes: readonly number[]): string {
    return this.opset >= 13 ? this.op('Unsqueeze', [x, this.ints(axes)]) : this.op('Unsqueeze', [x], [attr.ints('axes', axes)]);
  }

  squeeze(x: string, axes: readonly number[]): string {
    return this.opset >= 13 ? this.op('Squeeze', [x, this.ints(axes)]) : this.op('Squeeze', [x], [attr.ints('axes', axes)]);
  }

  /** Zeros with the shape of `like`. */
  zerosLike(like: string, type: number): string {
    return this.filled(this.shape(like), 0, type);
  }

  /** A tensor of the given run-time shape (1-D int64 tensor) filled with one value. */
  filled(shape: string, value: number, type: number): string {
    const proto =
      type === DataType.DOUBLE
        ? tensorToProto('value', { dtype: 'float64', dims: [1], data: Float64Array.of(value) })
        : tensorToProto('value', { dtype: 'float32', dims: [1], data: Float32Array.of(value) });
    const out = this.op('ConstantOfShape', [shape], [attr.tensor('value', proto)]);
    return type === DataType.DOUBLE || type === DataType.FLOAT ? out : this.op('Cast', [out], [attr.int('to', type)]);
  }

  /**
   * One-hot encoding [indices = k] of int64 `indices` (rank r) as a float `type`, with the new axis
   * of length `depth` (0-D int64) inserted at `axis`, followed by r - axis axes. Equal + Cast
   * rather than OneHot, whose onnxruntime kernels lack double and some type combinations.
   */
  oneHot(indices: string, depth: string, axis: number, rank: number, type: number): string {
    const positions = this.op('Range', [this.int(0), depth, this.int(1)]);
    const after = rank - axis;
    const shaped = after > 0 ? this.op('Reshape', [positions, this.ints([-1, ...new Array(after).fill(1)])]) : positions;
    return this.op('Cast', [this.op('Equal', [this.unsqueeze(indices, [axis]), shaped])], [attr.int('to', type)]);
  }

  /** The sum of gradient contributions (one node for any number). */
  sum(terms: string[]): string {
    return terms.length === 1 ? terms[0] : this.op('Sum', terms);
  }
}
