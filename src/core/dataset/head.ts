// The classifier head and the features it reads (the "penultimate" features). From the first graph
// output we walk back through ops that do not mix features (bias Add, Softmax, Flatten, Reshape,
// global pooling, ...) to the last linear map: a Gemm, a MatMul, or a 1×1 Conv (SqueezeNet's
// classifier). The head's data input is the penultimate tensor; when it still has spatial
// dimensions the features are its global average (what the pooling after it computes).
import { attrInts, indexGraph } from '../onnx/graph';
import { GraphProto } from '../onnx/proto';
import { DatasetError } from './errors';

const PASS_THROUGH = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Identity',
  'Softmax',
  'LogSoftmax',
  'Sigmoid',
  'Flatten',
  'Reshape',
  'Squeeze',
  'Unsqueeze',
  'Dropout',
  'Relu',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'ReduceMean',
  'Cast',
  'Transpose',
]);

export interface ClassifierHead {
  /** The output the head produces (the first graph output). */
  output: string;
  /** The tensor the head reads. */
  penultimate: string;
  /** Op type of the head. */
  opType: string;
}

export function findClassifierHead(graph: GraphProto): ClassifierHead {
  const output = graph.output?.[0]?.name;
  if (!output) throw new DatasetError('the model has no outputs');
  const { producer, initializers } = indexGraph(graph);
  const isData = (name: string) => !!name && !initializers.has(name) && producer.get(name)?.op_type !== 'Constant';
  const dataInput = (inputs: string[]) => inputs.find(isData);
  let tensor = output;
  for (let steps = 0; steps < 64; steps++) {
    const node = producer.get(tensor);
    if (!node) break;
    const input = dataInput(node.input);
    if (!input) break;
    const isPointwiseConv = node.op_type === 'Conv' && (attrInts(node, 'kernel_shape') ?? []).every((k) => k === 1);
    if (node.op_type === 'Gemm' || node.op_type === 'MatMul' || isPointwiseConv) {
      return { output, penultimate: input, opType: node.op_type };
    }
    if (!PASS_THROUGH.has(node.op_type)) break;
    tensor = input;
  }
  throw new DatasetError(`cannot find the classifier head (a Gemm, MatMul or 1×1 Conv) before output '${output}'; name the penultimate tensor explicitly`);
}
