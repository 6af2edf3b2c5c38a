// Reading tensor values out of TensorProto (raw, typed-field and external storage) and writing
// float tensors back as initializers.
import * as fs from 'fs';
import * as path from 'path';
import { DataType, OnnxFormatError, TensorProto } from './proto';
import { DType, Tensor, TypedArray, sizeOf } from '../tensor';

const DTYPE_OF: Partial<Record<number, DType>> = {
  [DataType.FLOAT]: 'float32', [DataType.DOUBLE]: 'float64', [DataType.INT64]: 'int64',
  [DataType.INT32]: 'int32', [DataType.UINT8]: 'uint8', [DataType.INT8]: 'int8', [DataType.BOOL]: 'bool',
};
export const DATA_TYPE_OF: Record<DType, DataType> = {
  float32: DataType.FLOAT, float64: DataType.DOUBLE, int64: DataType.INT64, int32: DataType.INT32,
  uint8: DataType.UINT8, int8: DataType.INT8, bool: DataType.BOOL,
};
const BYTES: Record<DType, number> = { float32: 4, float64: 8, int64: 8, int32: 4, uint8: 1, int8: 1, bool: 1 };

export function dtypeOf(dataType: number | undefined): DType | undefined {
  return DTYPE_OF[dataType ?? 0];
}

function fromBytes(dtype: DType, bytes: Uint8Array, length: number): TypedArray {
  const copy = Uint8Array.prototype.slice.call(bytes, 0, length * BYTES[dtype]);
  switch (dtype) {
    case 'float32': return new Float32Array(copy.buffer, 0, length);
    case 'float64': return new Float64Array(copy.buffer, 0, length);
    case 'int64': return new BigInt64Array(copy.buffer, 0, length);
    case 'int32': return new Int32Array(copy.buffer, 0, length);
    case 'int8': return new Int8Array(copy.buffer, 0, length);
    default: return copy;
  }
}

function fromFields(dtype: DType, t: TensorProto): TypedArray {
  switch (dtype) {
    case 'float32': return Float32Array.from(t.float_data ?? []);
    case 'float64': return Float64Array.from(t.double_data ?? []);
    case 'int64': return BigInt64Array.from((t.int64_data ?? []).map((v) => BigInt(v)));
    case 'int32': return Int32Array.from(t.int32_data ?? []);
    case 'int8': return Int8Array.from(t.int32_data ?? []);
    default: return Uint8Array.from(t.int32_data ?? []);
  }
}

/**
 * Resolves an external-data location against the model's folder; refuses paths that leave it,
 * so a model file cannot make us read arbitrary files.
 */
export function externalDataPath(modelDir: string, location: string): string {
  const resolved = path.resolve(modelDir, location);
  const relative = path.relative(modelDir, resolved);
  if (relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new OnnxFormatError(`external data path '${location}' points outside the model's folder`);
  }
  return resolved;
}

function readExternal(t: TensorProto, modelDir: string | undefined, byteLength: number): Uint8Array {
  const entries = Object.fromEntries((t.external_data ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  if (!entries.location) throw new OnnxFormatError(`tensor '${t.name}' is stored externally but names no location`);
  if (!modelDir) throw new OnnxFormatError(`tensor '${t.name}' is stored externally; load the model from a file path`);
  const file = externalDataPath(modelDir, entries.location);
  const offset = Number(entries.offset ?? 0);
  const length = entries.length !== undefined ? Number(entries.length) : byteLength;
  if (length < byteLength) throw new OnnxFormatError(`external data of '${t.name}' is shorter than its shape needs`);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    throw new OnnxFormatError(`external data file '${entries.location}' of tensor '${t.name}' cannot be read`);
  }
  try {
    const out = new Uint8Array(byteLength);
    const read = fs.readSync(fd, out, 0, byteLength, offset);
    if (read < byteLength) throw new OnnxFormatError(`external data file '${entries.location}' is truncated`);
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

export function tensorFromProto(t: TensorProto, modelDir?: string): Tensor {
  const dtype = dtypeOf(t.data_type);
  if (!dtype) throw new OnnxFormatError(`tensor '${t.name}' has unsupported data type ${t.data_type}`);
  const dims = (t.dims ?? []).map(Number);
  const length = sizeOf(dims);
  if (!Number.isSafeInteger(length) || length < 0) throw new OnnxFormatError(`tensor '${t.name}' has an invalid shape`);
  const byteLength = length * BYTES[dtype];
  let data: TypedArray;
  if (t.data_location === 1) {
    data = fromBytes(dtype, readExternal(t, modelDir, byteLength), length);
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
