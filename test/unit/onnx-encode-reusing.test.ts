// A variant of a model (outputs exposed, a gradient model, a sub-model) is encoded with the weights
// it shares copied from the model's own bytes: it must decode to the same model (initializers in
// another order) and run to the same numbers as the variant encoded in full. Or with those weights
// pointing into the model's bytes, which onnxruntime then reads as external data from memory.
// encodeModel itself writes the plain model as protobufjs's fromObject copy of it would encode.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as protobuf from 'protobufjs';
import { buildGradientModel } from '../../src/core/autodiff/build';
import { probeShapes } from '../../src/core/autodiff/shapes';
import { decodeModel, encodeModel, encodeModelReferencing, encodeModelReusing, GraphProto, ModelProto } from '../../src/core/onnx/proto';
import { tensorFromProto } from '../../src/core/onnx/initializers';
import { ConvModel } from '../../src/core/model';
import { createSession, run } from '../../src/core/onnx/session';
import { exposeOutputs, modelUpTo } from '../../src/core/onnx/surgery';
import { float32, Tensor } from '../../src/core/tensor';
import schema from '../../src/core/onnx/onnx.schema';

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

/** A bundled model's bytes, as decoded, and feeds for its first input (symbolic dims as 1) with values `value(i)`. */
function opened(file: string, value: (i: number) => number) {
  const bytes = new Uint8Array(fs.readFileSync(path.join(ROOT, file)));
  const source = { proto: decodeModel(bytes), bytes };
  const input = source.proto.graph?.input?.[0];
  const dims = (input?.type?.tensor_type?.shape?.dim ?? []).map((d) => (typeof d.dim_value === 'number' && d.dim_value > 0 ? d.dim_value : 1));
  const x = float32(dims);
  for (let i = 0; i < x.data.length; i++) x.data[i] = value(i);
  return { bytes, source, input, feeds: { [input?.name ?? '']: x } };
}

describe('encodeModel', () => {
  // The path encodeModel no longer takes: fromObject converts every field (a Long per int64) first.
  const ModelType = protobuf.Root.fromJSON(schema as unknown as protobuf.INamespace).lookupType('onnx.ModelProto');
  const viaFromObject = (model: ModelProto) => ModelType.encode(ModelType.fromObject(model)).finish();
  for (const file of ['sample/shapes.onnx', 'sample/shapes-det.onnx', 'sample/shapes-vit.onnx', 'sample/signal1d.onnx', 'test/models/controlflow/gated_if.onnx']) {
    it(`${file}: the decoded model and its gradient model (objects the builder made) encode to the bytes fromObject's copy does`, async () => {
      const { source, input, feeds } = opened(file, (i) => Math.sin(i * 0.11));
      const shapes = await probeShapes(source.proto, feeds);
      const gradient = buildGradientModel(source.proto, { wrt: [input?.name ?? ''], shapes, seedFrom: 'top' }).model;
      for (const [what, model] of [
        ['decoded', source.proto],
        ['gradient', gradient],
      ] as const) {
        const bytes = encodeModel(model);
        assert.ok(Buffer.from(bytes).equals(Buffer.from(viaFromObject(model))), what);
      }
    });
  }
});

describe('encoding a variant with the weights copied from its model', () => {
  for (const file of ['sample/shapes.onnx', 'test/models/densenet_like.onnx', 'test/models/bn_unfused.onnx']) {
    it(`${file}: a model with outputs exposed and a gradient model decode and run as encoded in full`, async () => {
      const { source, input, feeds } = opened(file, (i) => Math.sin(i * 0.37));

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

describe('encoding a variant whose weights point into its model', () => {
  for (const file of ['sample/shapes.onnx', 'sample/shapes-seg.onnx', 'sample/shapes-vit.onnx']) {
    it(`${file}: a gradient model and a sub-model run from the model's bytes as onnxruntime's external data, to the numbers encoded in full`, async () => {
      const { bytes, source, input, feeds } = opened(file, (i) => Math.cos(i * 0.29));
      const shapes = await probeShapes(source.proto, feeds);
      const gradient = buildGradientModel(source.proto, { wrt: [input?.name ?? ''], shapes, seedFrom: 'top' }).model;
      const layer = source.proto.graph?.node.filter((n) => n.op_type === 'Relu').pop()?.output[0] ?? '';
      for (const variant of [gradient, modelUpTo(source.proto, [layer])]) {
        const encoded = encodeModelReferencing(variant, source);
        assert.ok(encoded);
        const referencing = encoded.bytes;
        const shared = (variant.graph?.initializer ?? []).filter((t) => (t.raw_data?.length ?? 0) >= 4096);
        assert.ok(shared.length > 0, 'the variant shares large weights');
        const external = (decodeModel(Buffer.from(referencing)).graph?.initializer ?? []).filter((t) => t.data_location === 1);
        assert.deepStrictEqual(external.map((t) => t.name).sort(), shared.map((t) => t.name).sort(), 'each large one points into the model, the rest are inline');
        const sharedBytes = shared.reduce((sum, t) => sum + (t.raw_data?.length ?? 0), 0);
        assert.strictEqual(encoded.referencedBytes, sharedBytes);
        assert.ok(referencing.length < encodeModelReusing(variant, source).length - sharedBytes / 2, 'without their data');
        // From a folder with no file of that name: the weights come from the bytes given, never from disk.
        const cwd = process.cwd();
        process.chdir(fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-referencing-')));
        try {
          await assert.rejects(createSession(referencing, 'cpu'), 'without the model bytes there are no weights');
          const s = await createSession(referencing, 'cpu', { sourceWeights: bytes });
          const theirs = await outputsOf(encodeModel(variant), feeds);
          try {
            const mine = await run(s, feeds);
            for (const name of Object.keys(theirs)) assert.deepStrictEqual([...mine[name].data], [...theirs[name].data], name);
          } finally {
            await s.session.release();
          }
        } finally {
          process.chdir(cwd);
        }
      }
    });
  }

  it('leaves a model whose large weights are float_data to encodeModelReusing, which copies them', async () => {
    const proto = decodeModel(new Uint8Array(fs.readFileSync(path.join(ROOT, 'sample/shapes.onnx'))));
    const initializer = (proto.graph?.initializer ?? []).map((t) => {
      const { raw_data: _, ...rest } = t;
      return { ...rest, float_data: Array.from(tensorFromProto(t).data as Float32Array) };
    });
    const bytes = encodeModel({ ...proto, graph: { ...(proto.graph as GraphProto), initializer } });
    const source = { proto: decodeModel(bytes), bytes };
    const layer = source.proto.graph?.node.filter((n) => n.op_type === 'Relu').pop()?.output[0] ?? '';
    const variant = modelUpTo(source.proto, [layer]);
    assert.strictEqual(encodeModelReferencing(variant, source), undefined);
    const model = ConvModel.fromBytes(bytes, { provider: 'cpu' });
    const plain = ConvModel.load(path.join(ROOT, 'sample/shapes.onnx'), { provider: 'cpu' });
    try {
      const x = { dtype: 'float32' as const, dims: [1, 3, 64, 64], data: new Float32Array(3 * 64 * 64).map((_, i) => Math.sin(i)) };
      const feeds = { [model.input.name]: x };
      assert.deepStrictEqual([...(await model.runUpTo(feeds, [layer]))[layer].data], [...(await plain.runUpTo(feeds, [layer]))[layer].data]);
    } finally {
      await Promise.all([model.dispose(), plain.dispose()]);
    }
  });

  it('gives nothing to point into where the bytes are not the model as decoded', () => {
    const bytes = new Uint8Array(fs.readFileSync(path.join(ROOT, 'sample/shapes.onnx')));
    const proto = decodeModel(bytes);
    const variant = exposeOutputs(proto, [proto.graph?.node[0].output[0] ?? '']);
    assert.strictEqual(encodeModelReferencing(variant, { proto, bytes: bytes.subarray(0, bytes.length - 7) }), undefined, 'truncated bytes');
    const other = encodeModelReferencing(variant, { proto: decodeModel(bytes), bytes })?.bytes;
    assert.ok(other && !decodeModel(Buffer.from(other)).graph?.initializer?.some((t) => t.data_location === 1), 'other initializer objects: all inline');
  });
});
