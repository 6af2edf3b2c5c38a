// Reading tensor values out of TensorProto (raw, typed-field and external storage) and writing
// float tensors back as initializers.
import * as path from 'path';
import { FileReadError, readFileChecked } from '../files';
import { DataType, GraphProto, ModelProto, OnnxFormatError, TensorProto } from './proto';
import { DType, Tensor, TypedArray, sizeOf } from '../tensor';

const DTYPE_OF: Partial<Record<number, DType>> = {
  [DataType.FLOAT]: 'float32',
  [DataType.DOUBLE]: 'float64',
  [DataType.INT64]: 'int64',
  [DataType.INT32]: 'int32',
  [DataType.UINT8]: 'uint8',
  [DataType.INT8]: 'int8',
  [DataType.BOOL]: 'bool',
};
export const DATA_TYPE_OF: Record<DType, DataType> = {
  float32: DataType.FLOAT,
  float64: DataType.DOUBLE,
  int64: DataType.INT64,
  int32: DataType.INT32,
  uint8: DataType.UINT8,
  int8: DataType.INT8,
  bool: DataType.BOOL,
};
const BYTES: Record<DType, number> = { float32: 4, float64: 8, int64: 8, int32: 4, uint8: 1, int8: 1, bool: 1 };

export function dtypeOf(dataType: number | undefined): DType | undefined {
  return DTYPE_OF[dataType ?? 0];
}

/** A data type's name for display: our DType where we compute with it, else ONNX's own name (float16, string…). */
export function dtypeName(dataType: number | undefined): string {
  const known = dtypeOf(dataType);
  if (known) return known;
  const onnxName = dataType ? (DataType as unknown as Record<number, string | undefined>)[dataType] : undefined;
  return onnxName?.toLowerCase() ?? 'unknown';
}

function fromBytes(dtype: DType, bytes: Uint8Array, length: number): TypedArray {
  const copy = Uint8Array.prototype.slice.call(bytes, 0, length * BYTES[dtype]);
  switch (dtype) {
    case 'float32':
      return new Float32Array(copy.buffer, 0, length);
    case 'float64':
      return new Float64Array(copy.buffer, 0, length);
    case 'int64':
      return new BigInt64Array(copy.buffer, 0, length);
    case 'int32':
      return new Int32Array(copy.buffer, 0, length);
    case 'int8':
      return new Int8Array(copy.buffer, 0, length);
    default:
      return copy;
  }
}

function fromFields(dtype: DType, t: TensorProto): TypedArray {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(t.float_data ?? []);
    case 'float64':
      return Float64Array.from(t.double_data ?? []);
    case 'int64':
      return BigInt64Array.from((t.int64_data ?? []).map((v) => BigInt(v)));
    case 'int32':
      return Int32Array.from(t.int32_data ?? []);
    case 'int8':
      return Int8Array.from(t.int32_data ?? []);
    default:
      return Uint8Array.from(t.int32_data ?? []);
  }
}

/** The most bytes a model may hold, weights included: protobuf's 2 GiB limit on one message. */
export const MAX_MODEL_BYTES = 2 ** 31 - 1;
const MODEL_LIMIT_HINT = 'protobuf, the format of ONNX, holds at most 2 GiB in one model';

/**
 * The external data files a model names, read once each: only regular files inside the model's
 * folder (symlinks resolved), together within MAX_MODEL_BYTES.
 */
class ExternalDataFiles {
  private readonly files = new Map<string, Uint8Array>();
  private total = 0;

  constructor(private readonly modelDir: string) {}

  read(location: string, tensorName: string | undefined): Uint8Array {
    let bytes = this.files.get(location);
    if (!bytes) {
      try {
        bytes = readFileChecked(
          path.resolve(this.modelDir, location),
          {
            what: 'external data file',
            namedBy: `tensor ${JSON.stringify(tensorName ?? '')}`,
            maxBytes: MAX_MODEL_BYTES - this.total,
            limitHint: MODEL_LIMIT_HINT,
            inside: { folder: this.modelDir, name: "the model's folder" },
          },
          location,
        );
      } catch (err) {
        if (err instanceof FileReadError) throw new OnnxFormatError(err.message);
        throw err;
      }
      this.total += bytes.length;
      this.files.set(location, bytes);
    }
    return bytes;
  }
}

function readExternal(t: TensorProto, files: ExternalDataFiles | undefined, byteLength: number): Uint8Array {
  const entries = Object.fromEntries((t.external_data ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  if (!entries.location) throw new OnnxFormatError(`tensor '${t.name}' is stored externally but names no location`);
  if (!files) throw new OnnxFormatError(`tensor '${t.name}' is stored externally; load the model from a file path`);
  const offset = Number(entries.offset ?? 0);
  const length = entries.length !== undefined ? Number(entries.length) : byteLength;
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length)) {
    throw new OnnxFormatError(`tensor '${t.name}' has an invalid external data offset or length`);
  }
  if (length < byteLength) throw new OnnxFormatError(`external data of '${t.name}' is shorter than its shape needs`);
  const file = files.read(entries.location, t.name);
  if (offset + byteLength > file.length) throw new OnnxFormatError(`external data file ${JSON.stringify(entries.location)} is too short for tensor '${t.name}'`);
  // A view, not a copy: the file's bytes are held once while the model is inlined.
  return file.subarray(offset, offset + byteLength);
}

/**
 * The model with every externally stored tensor (initializers, Constant values, subgraphs) read
 * into raw_data, so sessions, gradient graphs and sub-models built from it need no files.
 * The same object when nothing is external.
 */
export function inlineExternalData(model: ModelProto, modelDir: string): ModelProto {
  const files = new ExternalDataFiles(modelDir);
  let changed = false;
  const inlineTensor = (t: TensorProto): TensorProto => {
    if (t.data_location !== 1) return t;
    changed = true;
    const dtype = dtypeOf(t.data_type);
    if (!dtype) throw new OnnxFormatError(`tensor '${t.name}' has unsupported data type ${t.data_type}`);
    const byteLength = elementCount(t) * BYTES[dtype];
    if (!Number.isSafeInteger(byteLength) || byteLength < 0) throw new OnnxFormatError(`tensor '${t.name}' has an invalid shape`);
    return { ...t, raw_data: readExternal(t, files, byteLength), data_location: 0, external_data: [] };
  };
  const inlineGraph = (graph: GraphProto): GraphProto => ({
    ...graph,
    initializer: (graph.initializer ?? []).map(inlineTensor),
    node: graph.node.map((node) => ({
      ...node,
      attribute: node.attribute?.map((a) => ({
        ...a,
        t: a.t && inlineTensor(a.t),
        tensors: a.tensors?.map(inlineTensor),
        g: a.g && inlineGraph(a.g),
        graphs: a.graphs?.map(inlineGraph),
      })),
    })),
  });
  const graph = model.graph && inlineGraph(model.graph);
  return changed ? { ...model, graph } : model;
}

/** The tensor's values; an externally stored one is read from `modelDir` under ExternalDataFiles' rules. */
export function tensorFromProto(t: TensorProto, modelDir?: string): Tensor {
  const dtype = dtypeOf(t.data_type);
  if (!dtype) throw new OnnxFormatError(`tensor '${t.name}' has unsupported data type ${t.data_type}`);
  const dims = (t.dims ?? []).map(Number);
  const length = sizeOf(dims);
  if (!Number.isSafeInteger(length) || length < 0) throw new OnnxFormatError(`tensor '${t.name}' has an invalid shape`);
  const byteLength = length * BYTES[dtype];
  let data: TypedArray;
  if (t.data_location === 1) {
    data = fromBytes(dtype, readExternal(t, modelDir === undefined ? undefined : new ExternalDataFiles(modelDir), byteLength), length);
  } else if (t.raw_data && t.raw_data.length > 0) {
    if (t.raw_data.length < byteLength) throw new OnnxFormatError(`tensor '${t.name}' has less data than its shape needs`);
    data = fromBytes(dtype, t.raw_data, length);
  } else {
    data = fromFields(dtype, t);
    if (data.length !== length) throw new OnnxFormatError(`tensor '${t.name}' has ${data.length} values, its shape needs ${length}`);
  }
  return { dtype, dims, data };
}

export function tensorToProto(name: string, tensor: Tensor): TensorProto {
  const raw = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  return { name, dims: [...tensor.dims], data_type: DATA_TYPE_OF[tensor.dtype], raw_data: raw.slice() };
}

/** Number of elements a TensorProto declares, whatever its storage. */
export function elementCount(t: TensorProto): number {
  return sizeOf((t.dims ?? []).map(Number));
}
