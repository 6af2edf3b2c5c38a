// tensorFromProto on the storage protobufjs gives for a model read from a file: bytes fields are
// Node Buffers viewing the whole file, at any byte offset. Callers pass them as they are.
import * as assert from 'assert';
import { tensorFromProto, tensorToProto } from '../../src/core/onnx/initializers';
import { DataType, decodeModel, encodeModel } from '../../src/core/onnx/proto';

describe('onnx: tensorFromProto', () => {
  it('reads raw_data that is an unaligned view into a larger Buffer', () => {
    const values = Float32Array.of(1.5, -2.25, 3e-8);
    const file = Buffer.alloc(64, 0xff);
    Buffer.from(values.buffer).copy(file, 7);
    const raw = file.subarray(7, 7 + values.byteLength);
    const tensor = tensorFromProto({ name: 'w', dims: [3], data_type: DataType.FLOAT, raw_data: raw });
    assert.deepStrictEqual(Array.from(tensor.data as Float32Array), Array.from(values));
    assert.strictEqual(tensor.data.byteOffset, 0);
    assert.strictEqual(tensor.data.buffer.byteLength, values.byteLength, 'the values own their buffer, not the file');
  });

  it('reads back every initializer of a model decoded from a Buffer', () => {
    const weights = Float32Array.from({ length: 12 }, (_, i) => i / 7 - 0.5);
    const pads = BigInt64Array.of(0n, 0n, 1n, 2n, 0n, 0n, 1n, 2n);
    const model = {
      ir_version: 7,
      opset_import: [{ domain: '', version: 13 }],
      graph: {
        name: 'g',
        node: [{ op_type: 'Identity', input: ['w'], output: ['y'] }],
        input: [],
        output: [{ name: 'y' }],
        initializer: [tensorToProto('w', { dtype: 'float32', dims: [3, 4], data: weights }), tensorToProto('pads', { dtype: 'int64', dims: [8], data: pads })],
      },
    };
    const decoded = decodeModel(Buffer.from(encodeModel(model)));
    const [w, p] = decoded.graph!.initializer!.map((t) => tensorFromProto(t));
    assert.deepStrictEqual(w.dims, [3, 4]);
    assert.deepStrictEqual(Array.from(w.data as Float32Array), Array.from(weights));
    assert.deepStrictEqual(Array.from(p.data as BigInt64Array), Array.from(pads));
  });
});
