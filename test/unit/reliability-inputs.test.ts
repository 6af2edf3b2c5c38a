// Bad inputs through the real compute worker, each with the sentence it must be reported with:
// unreadable files, truncated PNG/JPEG, a decompression bomb (refused from its declared size),
// .npy arrays of the wrong channel count, dtype or shape, NaN/Inf inputs (refused with a count), a model whose batch
// cannot be made dynamic (explained one input at a time), and cancelled runs (nothing leaks).
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { explain } from '../../src/core/explain';
import { ConvModel } from '../../src/core/model';
import { formatNpy } from '../../src/core/npy';
import { AttributeType, DataType, encodeModel, ModelProto, TensorProto } from '../../src/core/onnx/proto';
import { ComputeClient } from '../../src/compute/client';
import { CancelledError } from '../../src/core/cancel';
import { Tensor } from '../../src/core/tensor';
import { buildModel, int, node } from './explain/tiny-models';
import { pngChunk } from './image-fixtures';

const ROOT = path.resolve(__dirname, '../../..');
const WORKER = path.join(ROOT, 'out/src/compute/worker.js');
const MODEL = path.join(ROOT, 'sample/shapes.onnx');
const IMAGES = path.join(ROOT, 'test/fixtures/images');

/** A valid-CRC PNG of a few dozen bytes whose header declares width × height RGB pixels. */
function pngBomb(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', zlib.deflateSync(Buffer.alloc(64))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

function floatTensor(dims: number[], value: (i: number) => number): Tensor {
  const size = dims.reduce((a, b) => a * b, 1);
  return { dtype: 'float32', dims, data: Float32Array.from({ length: size }, (_, i) => value(i)) };
}

function initializer(name: string, t: Tensor): TensorProto {
  const data = t.data as Float32Array | BigInt64Array;
  return { name, dims: t.dims, data_type: t.dtype === 'int64' ? DataType.INT64 : DataType.FLOAT, raw_data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/**
 * input [1,3,8,8] → Conv(4, 3×3, pad 1) → Relu → Reshape to [1, -1] → MatMul → logits [1,2]: with
 * a batch of two the Reshape yields [1, 512] and the MatMul fails. The shape is computed (a Concat
 * of [1] and [-1]), not a constant, so the probe does not free the Reshape
 * (withBatchFreedReshapes), and the batch cannot be made dynamic.
 */
function fixedBatchModel(): ModelProto {
  const value = (i: number) => Math.sin(i * 0.7) * 0.3;
  const tensorType = (dims: number[]) => ({ tensor_type: { elem_type: DataType.FLOAT, shape: { dim: dims.map((d) => ({ dim_value: d })) } } });
  return {
    ir_version: 8,
    opset_import: [{ domain: '', version: 13 }],
    producer_name: 'reliability-inputs.test',
    graph: {
      name: 'fixed_batch',
      input: [{ name: 'input', type: tensorType([1, 3, 8, 8]) }],
      output: [{ name: 'logits', type: tensorType([1, 2]) }],
      initializer: [
        initializer('conv.weight', floatTensor([4, 3, 3, 3], value)),
        initializer(
          'conv.bias',
          floatTensor([4], () => 0.1),
        ),
        { name: 'one', dims: [1], data_type: DataType.INT64, raw_data: new Uint8Array(BigInt64Array.of(1n).buffer) },
        { name: 'rest', dims: [1], data_type: DataType.INT64, raw_data: new Uint8Array(BigInt64Array.of(-1n).buffer) },
        initializer(
          'fc.weight',
          floatTensor([256, 2], (i) => value(i + 7)),
        ),
      ],
      node: [
        {
          name: 'conv',
          op_type: 'Conv',
          input: ['input', 'conv.weight', 'conv.bias'],
          output: ['conv_out'],
          attribute: [{ name: 'pads', type: AttributeType.INTS, ints: [1, 1, 1, 1] }],
        },
        { name: 'relu', op_type: 'Relu', input: ['conv_out'], output: ['relu_out'] },
        { name: 'flat_shape', op_type: 'Concat', input: ['one', 'rest'], output: ['flat_shape'], attribute: [{ name: 'axis', type: AttributeType.INT, i: 0 }] },
        { name: 'flatten', op_type: 'Reshape', input: ['relu_out', 'flat_shape'], output: ['flat'] },
        { name: 'fc', op_type: 'MatMul', input: ['flat', 'fc.weight'], output: ['logits'] },
      ],
    },
  };
}

describe('reliability: bad inputs are reported with one clear sentence', function () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-inputs-'));
  let client: ComputeClient;
  const write = (name: string, bytes: Uint8Array) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytes);
    return file;
  };
  const load = (imagePath: string) => client.call('loadImage', { modelPath: MODEL, imagePath });

  before(async () => {
    client = new ComputeClient(WORKER);
    await client.call('openModel', { modelPath: MODEL, provider: 'cpu' });
  });
  after(async () => {
    await client.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an unreadable file: missing, or a folder', async () => {
    await assert.rejects(load(path.join(dir, 'missing.png')), /image file ".*missing\.png" not found$/);
    fs.mkdirSync(path.join(dir, 'folder.png'));
    await assert.rejects(load(path.join(dir, 'folder.png')), /folder\.png/);
  });

  it('a truncated PNG and a truncated JPEG', async () => {
    const png = fs.readFileSync(path.join(IMAGES, 'pattern.png'));
    await assert.rejects(load(write('cut.png', png.subarray(0, Math.floor(png.length / 2)))), /cut\.png is a (truncated|corrupt) PNG/);
    const jpeg = fs.readFileSync(path.join(IMAGES, 'baseline.jpg'));
    await assert.rejects(load(write('cut.jpg', jpeg.subarray(0, jpeg.length - 100))), /cut\.jpg is a truncated JPEG: the image data has no end marker/);
  });

  it('a decompression bomb is refused from its declared size, before decoding', async () => {
    const bomb = write('bomb.png', pngBomb(100000, 100000));
    assert.ok(fs.statSync(bomb).size < 200);
    await assert.rejects(load(bomb), /bomb\.png declares 100000×100000 pixels \(10000 megapixels\), over the limit of \d+ megapixels/);
  });

  it('a 1-channel .npy for a 3-channel model', async () => {
    const npy = write('gray.npy', formatNpy(floatTensor([1, 1, 64, 64], () => 0.5)));
    await assert.rejects(load(npy), /gray\.npy has shape \[1, 1, 64, 64\] but the model expects \[\w+, 3, 64, 64\]/);
  });

  it('a .npy of the wrong dtype (int64) or shape', async () => {
    const ints = write('ints.npy', formatNpy({ dtype: 'int64', dims: [1, 3, 64, 64], data: new BigInt64Array(3 * 64 * 64) }));
    await assert.rejects(load(ints), /ints\.npy holds int64 values; a tensor input must be float32 \(or float64\)/);
    const small = write('small.npy', formatNpy(floatTensor([1, 3, 32, 32], () => 0)));
    await assert.rejects(load(small), /small\.npy has shape \[1, 3, 32, 32\] but the model expects \[\w+, 3, 64, 64\]/);
  });

  it('refuses NaN or Inf in an input with a count, and keeps working', async () => {
    const nan = write('nan.npy', formatNpy(floatTensor([1, 3, 64, 64], (i) => (i % 97 === 0 ? NaN : i % 89 === 0 ? Infinity : 0.1))));
    await assert.rejects(load(nan), /nan\.npy contains 127 NaN and 137 infinite values \(of 12288\); the model needs finite inputs/);
    assert.deepStrictEqual(await client.call('methods', {}).then((m) => m.length > 0), true, 'the worker still answers');
  });

  it('says so when the model outputs NaN for an input, with a count', async () => {
    // logits = log(input) (flattened): NaN where the input is negative.
    const model = buildModel({
      nodes: [node('Log', ['input'], ['logs']), node('Flatten', ['logs'], ['logits'], [int('axis', 1)])],
      initializers: {},
      input: ['N', 1, 2, 2],
      output: ['N', 4],
    });
    const modelPath = write('log.onnx', model.bytes);
    await model.dispose();
    try {
      await client.call('openModel', { modelPath, provider: 'cpu' });
      const { id } = await client.call('loadImage', { modelPath, imagePath: write('negative.npy', formatNpy(floatTensor([1, 1, 2, 2], (i) => (i === 3 ? -1 : 1)))) });
      await assert.rejects(
        client.call('predict', { modelPath, imageId: id, topK: 2 }),
        /the model's output for this input contains 1 NaN values \(of 4\): a layer overflows or divides by zero/,
      );
    } finally {
      await client.call('closeModel', { modelPath });
    }
  });

  it('refuses an explanation whose attributions are not finite, naming the method and the count', async () => {
    // logits = √input (flattened): finite at 0, but the gradient 1/(2√x) there is infinite.
    const model = buildModel({
      nodes: [node('Sqrt', ['input'], ['root']), node('Flatten', ['root'], ['logits'], [int('axis', 1)])],
      initializers: {},
      input: ['N', 1, 2, 2],
      output: ['N', 4],
    });
    try {
      const input = floatTensor([1, 1, 2, 2], (i) => (i === 0 ? 0 : 1));
      const ctx = { model, input, target: { kind: 'class' as const, index: 0 } };
      await assert.rejects(
        explain('saliency', ctx),
        /Saliency \(input gradient\) gave 1 infinite values \(of 4\): the model's outputs or gradients are not finite for this input and target/,
      );
      const occlusion = await explain('occlusion', ctx, { window: [1], strides: [1] });
      assert.ok(Array.from(occlusion.raw.data as Float32Array).every(Number.isFinite), 'gradient-free methods still explain it');
    } finally {
      await model.dispose();
    }
  });

  describe('a model whose batch cannot be made dynamic', () => {
    const modelPath = path.join(dir, 'fixed-batch.onnx');
    let imageId: string;
    before(async () => {
      fs.writeFileSync(modelPath, encodeModel(fixedBatchModel()));
      await client.call('openModel', { modelPath, provider: 'cpu' });
      const input = write('fixed-input.npy', formatNpy(floatTensor([1, 3, 8, 8], (i) => Math.cos(i * 0.31))));
      imageId = (await client.call('loadImage', { modelPath, imagePath: input })).id;
    });
    after(() => client.call('closeModel', { modelPath }));

    it('is detected: supportsBatch() is false, and its shapes are probed as declared', async () => {
      const model = ConvModel.load(modelPath, { provider: 'cpu' });
      try {
        assert.strictEqual(await model.supportsBatch(), false);
        // The probe at batches 1 and 2 failed; the one at the declared batch found every shape.
        assert.strictEqual(await model.probedBatchShapes(), undefined);
        assert.deepStrictEqual((await model.probeShapes()).get('relu_out'), [1, 4, 8, 8]);
      } finally {
        await model.dispose();
      }
    });

    for (const method of ['scorecam', 'occlusion']) {
      it(`${method} still explains it, one input at a time`, async () => {
        const e = await client.call('explain', { modelPath, imageId, method, layer: method === 'scorecam' ? 'relu_out' : '', target: { kind: 'top' } });
        assert.strictEqual(e.map.width * e.map.height, e.map.values.length);
        assert.ok(e.map.values.every(Number.isFinite));
        assert.ok(new Set(e.map.values).size > 1, 'the map is not constant');
      });
    }

    it('a cancelled run leaves nothing pending; closeModel releases the model; dispose ends the worker', async () => {
      const controller = new AbortController();
      const run = client.call(
        'explain',
        { modelPath, imageId, method: 'rise', layer: '', target: { kind: 'top' }, options: { masks: 20000, batch: 1 } },
        {
          signal: controller.signal,
          onProgress: () => controller.abort(),
        },
      );
      await assert.rejects(run, CancelledError);
      assert.strictEqual(client.pendingCount, 0);
      assert.strictEqual((await client.call('predict', { modelPath, imageId, topK: 1 })).length, 1);
      await client.call('closeModel', { modelPath });
      await assert.rejects(client.call('predict', { modelPath, imageId, topK: 1 }), /the model fixed-batch\.onnx is not open/);
      const pid = client.pid!;
      await client.dispose();
      assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the worker process is gone');
      await client.call('openModel', { modelPath: MODEL, provider: 'cpu' }); // a fresh worker for the tests after this one
    });
  });
});
