// A dense tensor in C order: the one array type the core passes around (inputs, activations,
// gradients, maps), convertible to and from onnxruntime tensors and .npy files.
export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'uint8' | 'int8' | 'bool';

export type TypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Int8Array;

export interface Tensor<T extends TypedArray = TypedArray> {
  dtype: DType;
  dims: number[];
  data: T;
}

export type FloatTensor = Tensor<Float32Array>;

export function sizeOf(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export function float32(dims: number[], data?: Float32Array | number[]): FloatTensor {
  const size = sizeOf(dims);
  const array = data instanceof Float32Array ? data : data ? Float32Array.from(data) : new Float32Array(size);
  if (array.length !== size) {
    throw new Error(`tensor data has ${array.length} values but shape [${dims.join(',')}] needs ${size}`);
  }
  return { dtype: 'float32', dims: [...dims], data: array };
}

/**
 * `f` of each element, into a new Float32Array (or Uint8Array), by a plain loop: V8's
 * Float32Array.from with a map function walks a typed array through the iterator protocol, a
 * hundred times slower (60 ms against 0.6 for a 341×256 RGB image, on every image preprocessed).
 */
export function mapToFloat32(src: ArrayLike<number>, f: (v: number, i: number) => number): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f(src[i], i);
  return out;
}

/** As mapToFloat32, into a Uint8Array (each value stored as Uint8Array stores it, modulo 256 after truncation). */
export function mapToUint8(src: ArrayLike<number>, f: (v: number, i: number) => number): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f(src[i], i);
  return out;
}

/** Whether `a` is defined and has exactly the dims `b` has. */
export function sameDims(a: readonly number[] | undefined, b: readonly number[]): boolean {
  return a !== undefined && a.length === b.length && a.every((d, i) => d === b[i]);
}

export function formatShape(dims: readonly (number | string)[]): string {
  return `[${dims.join(', ')}]`;
}

/** Index of the largest value of a 1-D slice. */
export function argmax(values: ArrayLike<number>, offset = 0, length = values.length - offset): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (values[offset + i] > values[offset + best]) best = i;
  return best;
}

export function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]));
  return m;
}

/** 'N NaN and M infinite values (of T)' when there are any, else undefined. */
export function nonFinite(values: ArrayLike<number>): string | undefined {
  let nan = 0;
  let infinite = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== v) nan++;
    else if (v === Infinity || v === -Infinity) infinite++;
  }
  if (nan + infinite === 0) return undefined;
  return [nan ? `${nan} NaN` : '', infinite ? `${infinite} infinite` : ''].filter(Boolean).join(' and ') + ` values (of ${values.length})`;
}
