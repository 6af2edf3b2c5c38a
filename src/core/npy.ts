// The NumPy .npy format (version 1.0/2.0/3.0), what Python users already have for tensors.
import { isValidDim } from './limits';
import { DType, Tensor, TypedArray, sizeOf } from './tensor';

const MAGIC = '\x93NUMPY';

const DESCR_TO_DTYPE: Record<string, DType> = {
  '<f4': 'float32',
  '<f8': 'float64',
  '<i8': 'int64',
  '<i4': 'int32',
  '|u1': 'uint8',
  '|i1': 'int8',
  '|b1': 'bool',
};
const DTYPE_TO_DESCR: Record<DType, string> = Object.fromEntries(Object.entries(DESCR_TO_DTYPE).map(([descr, dtype]) => [dtype, descr])) as Record<DType, string>;

export class NpyFormatError extends Error {}

function arrayFor(dtype: DType, buffer: ArrayBuffer, offset: number, length: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer, offset, length);
    case 'float64':
      return new Float64Array(buffer, offset, length);
    case 'int64':
      return new BigInt64Array(buffer, offset, length);
    case 'int32':
      return new Int32Array(buffer, offset, length);
    case 'int8':
      return new Int8Array(buffer, offset, length);
    default:
      return new Uint8Array(buffer, offset, length);
  }
}

const BYTES: Record<DType, number> = { float32: 4, float64: 8, int64: 8, int32: 4, uint8: 1, int8: 1, bool: 1 };

export interface NpyHeader {
  dtype: DType;
  dims: number[];
  /** Offset of the data after the header. */
  dataStart: number;
}

/** The dtype and shape a .npy file declares, read without touching its data (for size checks). */
export function readNpyHeader(bytes: Uint8Array): NpyHeader {
  if (bytes.length < 10 || String.fromCharCode(...bytes.subarray(0, 6)) !== MAGIC) {
    throw new NpyFormatError('not a .npy file (the NumPy magic header is missing)');
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  if (headerStart + headerLength > bytes.length) throw new NpyFormatError('truncated .npy header');
  const header = new TextDecoder().decode(bytes.subarray(headerStart, headerStart + headerLength));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new NpyFormatError(`unreadable .npy header: ${header.trim()}`);
  if (fortran === 'True') throw new NpyFormatError('Fortran-ordered .npy arrays are not supported: save with np.ascontiguousarray');
  const dtype = DESCR_TO_DTYPE[descr];
  if (!dtype) throw new NpyFormatError(`unsupported .npy dtype '${descr}' (supported: ${Object.keys(DESCR_TO_DTYPE).join(', ')})`);
  const dimTexts = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const dims = dimTexts.map(Number);
  const bad = dims.findIndex((d) => !isValidDim(d));
  if (bad >= 0) throw new NpyFormatError(`the .npy header declares dimension '${dimTexts[bad]}', not a size (a whole number from 0 to 2^53)`);
  return { dtype, dims, dataStart: headerStart + headerLength };
}

export function parseNpy(bytes: Uint8Array): Tensor {
  const { dtype, dims, dataStart } = readNpyHeader(bytes);
  const length = sizeOf(dims);
  if (bytes.length - dataStart < length * BYTES[dtype]) {
    throw new NpyFormatError(`truncated .npy data: shape (${dims.join(', ')}) needs ${length * BYTES[dtype]} bytes, file has ${bytes.length - dataStart}`);
  }
  // Copy so the typed array is aligned whatever the header length was (Buffer.slice would only
  // make a view into Node's shared pool).
  const copy = Uint8Array.prototype.slice.call(bytes, dataStart, dataStart + length * BYTES[dtype]);
  return { dtype, dims, data: arrayFor(dtype, copy.buffer, 0, length) };
}

export function formatNpy(tensor: Tensor): Uint8Array {
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(', ')})`;
  let header = `{'descr': '${DTYPE_TO_DESCR[tensor.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const data = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  const out = new Uint8Array(10 + header.length + data.length);
  out.set(
    [...MAGIC].map((c) => c.charCodeAt(0)),
    0,
  );
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(data, 10 + header.length);
  return out;
}
