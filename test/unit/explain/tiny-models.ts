// Tiny ONNX models built in code for the explanation tests: models whose answers are known
// (linear in the input, blind to part of the input, a small CNN with a linear head).
import { ConvModel } from '../../../src/core/model';
import { tensorToProto } from '../../../src/core/onnx/initializers';
import { AttributeProto, AttributeType, DataType, NodeProto, ValueInfoProto, encodeModel } from '../../../src/core/onnx/proto';
import { FloatTensor, Tensor, float32 } from '../../../src/core/tensor';
import { Random } from '../../../src/core/random';

export const ints = (name: string, values: number[]): AttributeProto => ({ name, type: AttributeType.INTS, ints: values });
export const int = (name: string, value: number): AttributeProto => ({ name, type: AttributeType.INT, i: value });

export function node(op: string, inputs: string[], outputs: string[], attribute: AttributeProto[] = [], name = outputs[0]): NodeProto {
  return { op_type: op, input: inputs, output: outputs, attribute, name };
}

function info(name: string, dims: (number | string)[]): ValueInfoProto {
  return {
    name,
    type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
  };
}

export function buildModel(spec: {
  nodes: NodeProto[];
  initializers: Record<string, Tensor>;
  input: (number | string)[];
  /** The dims of the one output, 'logits'; or `outputs`, several by name. */
  output?: (number | string)[];
  outputs?: Record<string, (number | string)[]>;
  /** The opset (13 unless said). */
  opset?: number;
}): ConvModel {
  const bytes = encodeModel({
    ir_version: 8,
    opset_import: [{ domain: '', version: spec.opset ?? 13 }],
    producer_name: 'convlens-tests',
    graph: {
      name: 'tiny',
      node: spec.nodes,
      initializer: Object.entries(spec.initializers).map(([name, t]) => tensorToProto(name, t)),
      input: [info('input', spec.input)],
      output: spec.outputs ? Object.entries(spec.outputs).map(([name, dims]) => info(name, dims)) : [info('logits', spec.output ?? [])],
    },
  });
  return ConvModel.fromBytes(bytes, { provider: 'cpu' });
}

export function randomTensor(dims: number[], seed: number, scale = 1): FloatTensor {
  const r = new Random(seed);
  const t = float32(dims);
  for (let i = 0; i < t.data.length; i++) t.data[i] = scale * (2 * r.next() - 1);
  return t;
}

/**
 * logits[n, k] = Σ_e weights[k, e] · input[n, e] + bias[k] over the flattened [C, H, W] input.
 * `batch: 'fixed'` pins the batch at 1 for good: a Reshape to [1, -1] computed by a Concat, which
 * the probe does not free (withBatchFreedReshapes frees constant shapes only), so the model runs
 * one input at a time.
 */
export function linearModel(weights: Tensor, chw: number[], options: { batch?: 'dynamic' | 'fixed'; bias?: Tensor } = {}): ConvModel {
  const [classes] = weights.dims;
  const fixed = options.batch === 'fixed';
  const flatten = fixed
    ? [node('Concat', ['one', 'rest'], ['shape'], [int('axis', 0)]), node('Reshape', ['input', 'shape'], ['flat'])]
    : [node('Flatten', ['input'], ['flat'], [int('axis', 1)])];
  const int64 = (v: bigint): Tensor => ({ dtype: 'int64', dims: [1], data: BigInt64Array.of(v) });
  return buildModel({
    nodes: [...flatten, node('Gemm', ['flat', 'W', 'b'], ['logits'], [int('transB', 1)])],
    initializers: { W: weights, b: options.bias ?? float32([classes]), ...(fixed ? { one: int64(1n), rest: int64(-1n) } : {}) },
    input: [fixed ? 1 : 'N', ...chw],
    output: [fixed ? 1 : 'N', classes],
  });
}

/** A small CNN: Conv 3×3 (pad 1) → Relu → Conv 3×3 → Relu (the 'features') → GlobalAveragePool → Flatten → Gemm. */
export function tinyCnn(seed: number, channels = [3, 6, 8], classes = 4, side = 16): ConvModel {
  const [c0, c1, c2] = channels;
  return buildModel({
    nodes: [
      node('Conv', ['input', 'w1', 'b1'], ['conv1'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]),
      node('Relu', ['conv1'], ['relu1']),
      node('Conv', ['relu1', 'w2', 'b2'], ['conv2'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), ints('strides', [2, 2])]),
      node('Relu', ['conv2'], ['features']),
      node('GlobalAveragePool', ['features'], ['pooled']),
      node('Flatten', ['pooled'], ['flat'], [int('axis', 1)]),
      node('Gemm', ['flat', 'fc', 'fcb'], ['logits'], [int('transB', 1)]),
    ],
    initializers: {
      w1: randomTensor([c1, c0, 3, 3], seed, 0.5),
      b1: randomTensor([c1], seed + 1, 0.1),
      w2: randomTensor([c2, c1, 3, 3], seed + 2, 0.3),
      b2: randomTensor([c2], seed + 3, 0.1),
      fc: randomTensor([classes, c2], seed + 4, 1),
      fcb: randomTensor([classes], seed + 5, 0.1),
    },
    input: ['N', c0, side, side],
    output: ['N', classes],
  });
}

/**
 * A CNN with a skip connection around the layer 'features': logits = Gemm(GAP(Relu(conv2(features) + conv3(input)))),
 * features = Relu(conv1(input)). The part after 'features' needs conv3(input), computed without it.
 */
export function skipCnn(seed: number, classes = 3, side = 12): ConvModel {
  return buildModel({
    nodes: [
      node('Conv', ['input', 'w1'], ['conv1'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]),
      node('Relu', ['conv1'], ['features']),
      node('Conv', ['features', 'w2'], ['conv2'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]),
      node('Conv', ['input', 'w3'], ['skip'], [ints('kernel_shape', [1, 1])]),
      node('Add', ['conv2', 'skip'], ['sum']),
      node('Relu', ['sum'], ['act']),
      node('GlobalAveragePool', ['act'], ['pooled']),
      node('Flatten', ['pooled'], ['flat'], [int('axis', 1)]),
      node('Gemm', ['flat', 'fc'], ['logits'], [int('transB', 1)]),
    ],
    initializers: {
      w1: randomTensor([5, 3, 3, 3], seed, 0.5),
      w2: randomTensor([4, 5, 3, 3], seed + 1, 0.4),
      w3: randomTensor([4, 3, 1, 1], seed + 2, 0.5),
      fc: randomTensor([classes, 4], seed + 3, 1),
    },
    input: ['N', 3, side, side],
    output: ['N', classes],
  });
}
