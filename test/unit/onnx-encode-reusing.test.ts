// A variant of a model (outputs exposed, a gradient model, a sub-model) is encoded with the weights
// it shares copied from the model's own bytes: it must decode to the same model (initializers in
// another order) and run to the same numbers as the variant encoded in full.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { buildGradientModel } from '../../src/core/autodiff/build';
import { probeShapes } from '../../src/core/autodiff/shapes';
import { decodeModel, encodeModel, encodeModelReusing, ModelProto } from '../../src/core/onnx/proto';
import { createSession, run } from '../../src/core/onnx/session';
import { exposeOutputs } from '../../src/core/onnx/surgery';
import { float32, Tensor } from '../../src/core/tensor';

const ROOT = path.resolve(__dirname, '../../..');

function byName<T extends { name?: string | null }>(list: T[] | undefined): Map<string, T> {
  return new Map((list ?? []).map((t) => [t.name ?? '', t]));
}

/** The variant as its bytes decode: the same graph as `variant`, initializers compared by name. */
function assertSameModel(bytes: Uint8Array, variant: ModelProto): void {
  // Both read from a Buffer, so their bytes fields decode as the same type.
  const decoded = decodeModel(Buffer.from(bytes));
  const full = decodeModel(Buffer.from(encodeModel(variant)));
  assert.deepStrictEqual(decoded.graph?.node, full.graph?.node);
  assert.deepStrictEqual(decoded.graph?.input, full.graph?.input);
  assert.deepStrictEqual(decoded.graph?.output, full.graph?.output);
  assert.deepStrictEqual(decoded.opset_import, full.opset_import);
  const [mine, theirs] = [byName(decoded.graph?.initializer), byName(full.graph?.initializer)];
  assert.deepStrictEqual([...mine.keys()].sort(), [...theirs.keys()].sort());
  for (const [name, t] of theirs) assert.deepStrictEqual(mine.get(name), t, name);
}

async function outputsOf(bytes: Uint8Array, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const s = await createSession(bytes, 'cpu');
  try {
    return await run(s, feeds);
  } finally {
    await s.session.release();
  }
}

describe('encoding a variant with the weights copied from its model', () => {
  for (const file of ['sample/shapes.onnx', 'test/models/densenet_like.onnx', 'test/models/bn_unfused.onnx']) {
    it(`${file}: a model with outputs exposed and a gradient model decode and run as encoded in full`, async () => {
      const bytes = new Uint8Array(fs.readFileSync(path.join(ROOT, file)));
      const source = { proto: decodeModel(bytes), bytes };
      const input = source.proto.graph?.input?.[0];
      const dims = (input?.type?.tensor_type?.shape?.dim ?? []).map((d) => (typeof d.dim_value === 'number' && d.dim_value > 0 ? d.dim_value : 1));
      const x = float32(dims);
      for (let i = 0; i < x.data.length; i++) x.data[i] = Math.sin(i * 0.37);
      const feeds = { [input?.name ?? '']: x };

      const hidden = source.proto.graph?.node.filter((n) => n.op_type === 'Relu').map((n) => n.output[0]) ?? [];
      const exposed = exposeOutputs(source.proto, hidden.slice(0, 3));
      const shapes = await probeShapes(source.proto, feeds);
      const gradient = buildGradientModel(source.proto, { wrt: [input?.name ?? ''], shapes, seedFrom: 'top' }).model;
      for (const variant of [exposed, gradient]) {
        const reused = encodeModelReusing(variant, source);
        assert.ok(!Buffer.from(reused).equals(Buffer.from(encodeModel(variant))), 'the shared weights were copied, not encoded again');
        assert.ok(reused.length < encodeModel(variant).length + 16, 'the weights are in it once');
        assertSameModel(reused, variant);
        const [mine, theirs] = [await outputsOf(reused, feeds), await outputsOf(encodeModel(variant), feeds)];
        assert.deepStrictEqual(Object.keys(mine).sort(), Object.keys(theirs).sort());
        for (const name of Object.keys(theirs)) assert.deepStrictEqual([...mine[name].data], [...theirs[name].data], name);
      }
    });
  }

  it('encodes in full what it cannot copy: a model whose bytes are not its own, or no shared weight', () => {
    const bytes = new Uint8Array(fs.readFileSync(path.join(ROOT, 'sample/shapes.onnx')));
    const proto = decodeModel(bytes);
    const variant = exposeOutputs(proto, [proto.graph?.node[0].output[0] ?? '']);
    assert.deepStrictEqual(encodeModelReusing(variant, { proto, bytes: bytes.subarray(0, bytes.length - 7) }), encodeModel(variant), 'truncated bytes');
    assert.deepStrictEqual(encodeModelReusing(variant, { proto: decodeModel(bytes), bytes }), encodeModel(variant), 'other initializer objects');
  });
});
