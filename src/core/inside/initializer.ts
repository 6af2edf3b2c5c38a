// Reading an initializer's values. protobufjs decodes bytes fields of a model read from a file as
// Node Buffers that are views into the whole file, and a Buffer's slice() is another view; copying
// raw_data into a plain Uint8Array first makes tensorFromProto's slice().buffer hold only this tensor.
import { tensorFromProto } from '../onnx/initializers';
import { TensorProto } from '../onnx/proto';
import { Tensor } from '../tensor';

export function initializerValue(t: TensorProto, modelDir?: string): Tensor {
  return tensorFromProto(t.raw_data ? { ...t, raw_data: new Uint8Array(t.raw_data) } : t, modelDir);
}
