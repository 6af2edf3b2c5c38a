// Dataset images decoded in worker threads (dataset/decode-pool.ts) while the model runs give the
// features of decoding on the main thread, bit for bit, with the same images skipped for the same
// reasons; the pool's tensors are the main thread's tensors; a kept pool whose thread died is
// replaced.
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DecodePool, DecodePoolError } from '../../src/core/dataset/decode-pool';
import { extractFeatures } from '../../src/core/dataset/features';
import { inputPipelineFor } from '../../src/core/dataset/input';
import { ConvModel } from '../../src/core/model';
import { loadInput } from '../../src/core/preprocess/input';

const ROOT = path.resolve(__dirname, '../../..');
const MODEL = path.join(ROOT, 'sample/shapes.onnx');
const DATASET = path.join(ROOT, 'sample/dataset');
const LAYER = '/block4/relu/Relu_output_0';

describe('dataset decoding in worker threads', function () {
  this.timeout(300_000);
  let model: ConvModel;
  let data: string;

  before(() => {
    model = ConvModel.load(MODEL, { provider: 'cpu' });
    // 4 classes × 6 images, one unreadable file and one that is not a PNG at all.
    data = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-decode-pool-'));
    for (const cls of ['circle', 'square', 'star', 'triangle']) {
      fs.mkdirSync(path.join(data, cls));
      for (let i = 0; i < 6; i++) fs.copyFileSync(path.join(DATASET, 'test', cls, `${i}.png`), path.join(data, cls, `${i}.png`));
    }
    fs.writeFileSync(path.join(data, 'star', 'broken.png'), 'not a png');
    const png = fs.readFileSync(path.join(DATASET, 'test', 'circle', '0.png'));
    fs.writeFileSync(path.join(data, 'square', 'truncated.png'), png.subarray(0, png.length >> 1));
  });
  after(async () => {
    await model.dispose();
    fs.rmSync(data, { recursive: true, force: true });
  });

  it('a pool thread gives the tensor and input the main thread gives, bit for bit, and the decoder message for a bad file', async () => {
    const input = inputPipelineFor(model);
    assert.ok(input.pooled, 'the default pipeline can be decoded in a thread');
    const pool = DecodePool.start(2);
    assert.ok(pool, 'the worker file is built next to decode-pool.js');
    try {
      for (const file of [path.join(data, 'circle', '0.png'), path.join(data, 'star', '3.png')]) {
        const pooled = await pool.decode(file, input.pooled.spec, input.pooled.limits);
        const here = input.toTensor(await input.decode(file));
        assert.deepStrictEqual(pooled.dims, here.dims);
        assert.ok(Buffer.from(pooled.data.buffer).equals(Buffer.from(here.data.buffer)), `${file}: the same bytes`);
      }
      // The whole input, as `convlens explain FOLDER` loads it: tensor and the image shown, bit for bit.
      const file = path.join(data, 'triangle', '2.png');
      const inThread = await pool.loadInput(file, input.spec, model.input.shape, {});
      const onMain = loadInput(file, input.spec, model.input.shape, {});
      assert.deepStrictEqual({ ...inThread, tensor: undefined, rgb: undefined }, { ...onMain, tensor: undefined, rgb: undefined });
      assert.ok(Buffer.from(inThread.tensor.data.buffer).equals(Buffer.from(onMain.tensor.data.buffer)), 'the same tensor');
      assert.ok(onMain.rgb && inThread.rgb && Buffer.from(inThread.rgb.data.buffer).equals(Buffer.from(onMain.rgb.data.buffer)), 'the same image');
      const bad = path.join(data, 'star', 'broken.png');
      const hereError = await input.decode(bad).then(
        () => undefined,
        (err: Error) => err.message,
      );
      await assert.rejects(pool.decode(bad, input.pooled.spec, input.pooled.limits), (err: Error) => err.message === hereError);
    } finally {
      await pool.dispose();
    }
  });

  it('a pool whose thread stopped refuses work with DecodePoolError, so the caller decodes it itself, rather than waiting forever', async () => {
    const input = inputPipelineFor(model);
    const pool = DecodePool.start(1);
    assert.ok(pool && input.pooled);
    try {
      await (pool as unknown as { workers: { terminate(): Promise<number> }[] }).workers[0].terminate();
      await assert.rejects(pool.decode(path.join(data, 'circle', '0.png'), input.pooled.spec, input.pooled.limits), DecodePoolError);
    } finally {
      await pool.dispose();
    }
  });

  it('a kept pool whose thread stopped is replaced by a fresh one that decodes, so later pages are not all decoded on the calling thread', async () => {
    const input = inputPipelineFor(model);
    assert.ok(input.pooled);
    const file = path.join(data, 'circle', '0.png');
    const kept = DecodePool.keep(undefined, 1);
    assert.ok(kept, 'the worker file is built next to decode-pool.js');
    let fresh: DecodePool | undefined;
    try {
      assert.strictEqual(DecodePool.keep(kept, 1), kept, 'a working pool is kept');
      await (kept as unknown as { workers: { terminate(): Promise<number> }[] }).workers[0].terminate();
      await assert.rejects(kept.decode(file, input.pooled.spec, input.pooled.limits), DecodePoolError);
      fresh = DecodePool.keep(kept, 1);
      assert.ok(fresh && fresh !== kept, 'a fresh pool');
      // A call still holding the old pool gets DecodePoolError, not 'closed', and decodes the image itself.
      assert.ok(!kept.closed);
      await assert.rejects(kept.decode(file, input.pooled.spec, input.pooled.limits), DecodePoolError);
      const pooled = await fresh.decode(file, input.pooled.spec, input.pooled.limits);
      const here = input.toTensor(await input.decode(file));
      assert.ok(Buffer.from(pooled.data.buffer).equals(Buffer.from(here.data.buffer)), 'the fresh pool decodes as the main thread does');
      assert.strictEqual(DecodePool.keep(fresh, 1), fresh, 'and is kept in turn');
    } finally {
      await kept.dispose();
      await fresh?.dispose();
    }
  });

  it('a pool kept for the whole process (unrefWhenIdle) answers a pending request, then lets the process end without being closed', () => {
    const input = inputPipelineFor(model);
    // A process whose only work left is waiting for the thread's answer; it must print the answer and then end by itself.
    const script = `
      const { DecodePool } = require(${JSON.stringify(require.resolve('../../src/core/dataset/decode-pool'))});
      const pool = DecodePool.start(1).unrefWhenIdle();
      pool.decode(${JSON.stringify(path.join(data, 'circle', '0.png'))}, ${JSON.stringify(input.pooled?.spec)}, {})
        .then((t) => process.stdout.write('decoded ' + t.dims.join('x')));`;
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.strictEqual(out, `decoded ${[1, ...model.input.shape.slice(1)].join('x')}`);
  });

  it('features with the pool equal features decoded on the main thread, skipped images included', async () => {
    const input = inputPipelineFor(model);
    let pooledDecodes = 0;
    const decode = DecodePool.prototype.decode;
    DecodePool.prototype.decode = function (...args) {
      pooledDecodes++;
      return decode.apply(this, args);
    };
    let pooled;
    try {
      pooled = await extractFeatures(model, data, { layer: LAYER, input, batchSize: 5 });
    } finally {
      DecodePool.prototype.decode = decode;
    }
    assert.strictEqual(pooledDecodes, 26, 'every image went through the pool');
    const here = await extractFeatures(model, data, { layer: LAYER, input: { ...input, pooled: undefined }, batchSize: 5 });
    assert.deepStrictEqual(
      pooled.images.map((im) => im.relPath),
      here.images.map((im) => im.relPath),
    );
    assert.deepStrictEqual(pooled.skipped, here.skipped);
    assert.deepStrictEqual(
      pooled.skipped.map((s) => s.relPath),
      ['square/truncated.png', 'star/broken.png'],
    );
    for (const key of ['meanPooled', 'maxPooled', 'maxPosition', 'penultimateFeatures', 'logits', 'predictions'] as const) {
      assert.ok(
        Buffer.from(pooled[key].buffer, pooled[key].byteOffset, pooled[key].byteLength).equals(Buffer.from(here[key].buffer, here[key].byteOffset, here[key].byteLength)),
        `${key}: the same bytes`,
      );
    }
    assert.strictEqual(pooled.stats.modelRuns, here.stats.modelRuns);
  });
});
