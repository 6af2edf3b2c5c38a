// The on-disk cache of built models (src/core/autodiff/cache.ts): entries found again under their
// key, refused when corrupt, truncated or stored under another key, the least recently used evicted
// over the size limit; and through ConvModel, a reopened model whose gradients and probed shapes
// come from the cache with the same numbers as when they were built.
import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as v8 from 'v8';
import * as vm from 'vm';
import { computeGradients, seedForClass } from '../../src/core/autodiff/gradients';
import { BuiltModelCache } from '../../src/core/autodiff/cache';
import * as ort from 'onnxruntime-node';
import { ModelContext } from '../../src/core/context';
import { explainImages } from '../../src/core/dataset/explain-images';
import { explain } from '../../src/core/explain';
import { ConvModel, MAX_PERSISTED_MODEL_BYTES } from '../../src/core/model';
import { run } from '../../src/core/onnx/session';
import { DataType, encodeModel } from '../../src/core/onnx/proto';
import { modelUpTo } from '../../src/core/onnx/surgery';
import { parseNpy } from '../../src/core/npy';
import { Tensor } from '../../src/core/tensor';
import { entryFiles, headerOf } from '../support/cache-entries';
import { assertClose } from '../support/reference';

const MODEL = path.resolve(__dirname, '../../../test/models/bn_unfused.onnx');
const INPUT = path.resolve(__dirname, '../../../test/models/bn_unfused.input.npy');

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-model-cache-'));
}

describe('built-model cache on disk', () => {
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('finds an entry under its key with its body and meta, and nothing under another key', () => {
    const cache = new BuiltModelCache(dir);
    const body = Uint8Array.from([1, 2, 3, 250]);
    cache.write('model A|gradient', body, { seed: 'seed_in' });
    const hit = cache.read('model A|gradient');
    assert.deepStrictEqual(hit && [...hit.body], [1, 2, 3, 250]);
    assert.deepStrictEqual(hit?.meta, { seed: 'seed_in' });
    assert.strictEqual(cache.read('model B|gradient'), undefined);
  });

  it('refuses and deletes an entry whose body changed, was cut short, or that holds another key', () => {
    const cache = new BuiltModelCache(dir);
    cache.write('key', new Uint8Array(64).fill(7), null);
    const [file] = entryFiles(dir);
    const whole = fs.readFileSync(file);

    const flipped = Buffer.from(whole);
    flipped[flipped.length - 1] ^= 1;
    fs.writeFileSync(file, flipped);
    assert.strictEqual(cache.read('key'), undefined, 'a changed byte');
    assert.strictEqual(fs.existsSync(file), false, 'the corrupt entry is deleted');

    fs.writeFileSync(file, whole.subarray(0, whole.length - 10));
    assert.strictEqual(cache.read('key'), undefined, 'a truncated entry');

    fs.writeFileSync(file, Buffer.from('not an entry at all'));
    assert.strictEqual(cache.read('key'), undefined, 'garbage');

    // Another key's entry copied to this key's file name: a foreign entry.
    cache.write('other key', new Uint8Array(64).fill(7), null);
    const other = entryFiles(dir)[0];
    fs.copyFileSync(other, file);
    assert.strictEqual(cache.read('key'), undefined, 'a foreign entry');
    assert.ok(cache.read('other key'), 'the other key still finds its own entry');
  });

  it('evicts the least recently used entries when the folder grows over its limit', () => {
    const cache = new BuiltModelCache(dir, 3000);
    const old = new Date(Date.now() - 60_000);
    cache.write('first', new Uint8Array(1000), null);
    cache.write('second', new Uint8Array(1000), null);
    for (const file of entryFiles(dir)) fs.utimesSync(file, old, old);
    assert.ok(cache.read('first'), 'reading marks the first entry as used now');
    cache.write('third', new Uint8Array(1000), null);
    assert.ok(cache.read('first'), 'recently used: kept');
    assert.ok(cache.read('third'), 'just written: kept');
    assert.strictEqual(cache.read('second'), undefined, 'least recently used: evicted');
    assert.ok(entryFiles(dir).reduce((sum, f) => sum + fs.statSync(f).size, 0) <= 3000);
  });
});

describe('ConvModel with a cache folder', () => {
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function gradientsOnce(cacheDir = dir): Promise<{ grad: Tensor; shapes: Map<string, number[]> }> {
    const model = ConvModel.load(MODEL, { provider: 'cpu', cacheDir });
    try {
      const input = parseNpy(fs.readFileSync(INPUT));
      const seed = seedForClass([1, 10], 8);
      const result = await computeGradients(model, { input }, { wrt: ['input'], seed });
      return { grad: result.gradients.input, shapes: await model.probeShapes() };
    } finally {
      await model.dispose();
    }
  }

  it('a reopened model reads its gradient session and probed shapes from the cache, with the same numbers', async () => {
    const built = await gradientsOnce();
    const files = entryFiles(dir);
    const keyOf = (file: string) => JSON.parse(JSON.parse(headerOf(file)).key) as { variant?: string; probe?: string };
    // The shape probe ran batch 2 as well: no forward session was started to learn whether batches run.
    assert.deepStrictEqual(
      files.map((file) => keyOf(file).variant).filter((v) => v && !v.startsWith('gradient|')),
      [],
      'no forward session is stored',
    );
    const probe = files.find((file) => keyOf(file).probe === 'shapes+batch+freed/2');
    assert.ok(probe, 'the probe is stored');
    const meta = JSON.parse(headerOf(probe)).meta as { batchTried: boolean; batchShapes?: [string, number[]][] };
    assert.strictEqual(meta.batchTried, true);
    assert.deepStrictEqual(new Map(meta.batchShapes).get('input'), [2, ...parseNpy(fs.readFileSync(INPUT)).dims.slice(1)], 'with the shapes at batch 2');
    assert.ok(files.length >= 2, `the probe and the gradient session are stored (${files.length} entries)`);
    const old = new Date(Date.now() - 3_600_000);
    for (const file of files) fs.utimesSync(file, old, old);
    const inodes = files.map((file) => fs.statSync(file).ino);

    const reopened = await gradientsOnce();
    assert.deepStrictEqual([...reopened.grad.data], [...built.grad.data], 'gradients identical to the built ones');
    assert.deepStrictEqual(reopened.shapes, built.shapes);
    // A valid hit marks its entry as used and leaves the file in place (a rebuilt entry is a new
    // file renamed over it): every entry the gradients need was read back rather than rebuilt.
    files.forEach((file, i) => {
      const stat = fs.statSync(file);
      assert.ok(stat.mtimeMs > old.getTime(), `${path.basename(file)} was used`);
      assert.strictEqual(stat.ino, inodes[i], `${path.basename(file)} was not rewritten`);
    });
    assert.strictEqual(entryFiles(dir).length, files.length, 'and nothing new was built');
  });

  it('a corrupt entry is built again and replaced, with the same numbers', async () => {
    const built = await gradientsOnce();
    for (const file of entryFiles(dir)) {
      const bytes = fs.readFileSync(file);
      bytes[bytes.length - 1] ^= 0xff;
      fs.writeFileSync(file, bytes);
    }
    const rebuilt = await gradientsOnce();
    assert.deepStrictEqual([...rebuilt.grad.data], [...built.grad.data]);
    const cache = new BuiltModelCache(dir);
    const valid = entryFiles(dir).filter((file) => {
      const bytes = fs.readFileSync(file);
      const header = JSON.parse(bytes.toString('utf8', 8, 8 + bytes.readUInt32LE(4))) as { key: string };
      return cache.read(header.key) !== undefined;
    });
    assert.strictEqual(valid.length, entryFiles(dir).length, 'every entry was rewritten whole');
  });

  it('a session read from the cache keeps the bytes onnxruntime reads its weights from: the same numbers after garbage collection', async () => {
    // y = x + w with a 16 MB w: Add reads its initializer in place at every run (Conv and MatMul
    // repack theirs when the session starts), and buffers this large go back to the system when
    // freed, so bytes collected while the session lives would be read as other data.
    const [rows, cols] = [2048, 2048];
    const w = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.001));
    const matrix = { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: [{ dim_value: rows }, { dim_value: cols }] } } };
    const file = path.join(dir, 'add.onnx');
    fs.writeFileSync(
      file,
      encodeModel({
        ir_version: 8,
        opset_import: [{ domain: '', version: 13 }],
        graph: {
          name: 'add',
          node: [{ op_type: 'Add', name: 'add', input: ['x', 'w'], output: ['y'], attribute: [] }],
          initializer: [{ name: 'w', data_type: DataType.FLOAT, dims: [rows, cols], raw_data: new Uint8Array(w.buffer) }],
          input: [{ name: 'x', type: matrix }],
          output: [{ name: 'y', type: matrix }],
        },
      }),
    );
    const x = { dtype: 'float32' as const, dims: [rows, cols], data: Float32Array.from({ length: rows * cols }, (_, i) => Math.cos(i)) };
    const expected = Float32Array.from(w, (v, i) => v + x.data[i]);
    const cacheDir = path.join(dir, 'cache');
    const built = ConvModel.load(file, { provider: 'cpu', cacheDir });
    await built.run({ x });
    await built.dispose();
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const model = ConvModel.load(file, { provider: 'cpu', cacheDir });
    try {
      for (let round = 0; round < 3; round++) {
        gc();
        const junk = Array.from({ length: 8 }, (_, i) => new Float32Array(rows * cols).fill(i + 1));
        gc();
        const y = (await model.run({ x })).y.data as Float32Array;
        assert.ok(
          y.every((v, i) => v === expected[i]),
          `round ${round}: x + w (${junk.length} buffers allocated meanwhile)`,
        );
      }
    } finally {
      await model.dispose();
    }
    assert.ok(
      entryFiles(cacheDir).some((f) => (JSON.parse(JSON.parse(headerOf(f)).key) as { variant?: string }).variant),
      'the session came from the cache',
    );
  });

  it("a file's entries are keyed by its identity, with nothing hashed, and any write to the file makes them miss; bytes without a file by their sha256", async () => {
    const file = path.join(dir, 'model.onnx');
    fs.copyFileSync(MODEL, file);
    const cacheDir = path.join(dir, 'cache');
    const input = parseNpy(fs.readFileSync(INPUT));
    const seed = seedForClass([1, 10], 3);
    /** Opens the file, computes its gradients, and gives its content key and the stored sessions' model keys. */
    const open = async (): Promise<{ key: string; stored: string[] }> => {
      const model = ConvModel.load(file, { provider: 'cpu', cacheDir });
      try {
        await computeGradients(model, { input }, { wrt: ['input'], seed });
        await model.writesFinished();
        const keys = entryFiles(cacheDir).map((f) => JSON.parse(JSON.parse(headerOf(f)).key) as { model: string; variant?: string });
        return { key: model.contentKey, stored: keys.filter((k) => k.variant).map((k) => k.model) };
      } finally {
        await model.dispose();
      }
    };
    const first = await open();
    assert.ok(first.key.startsWith('file ') && first.key.includes(file), first.key);
    assert.deepStrictEqual(first.stored, [first.key], 'one gradient session, under the identity');
    assert.deepStrictEqual(await open(), first, 'reopened unchanged: the same key, and its entry was found (nothing new stored)');
    // Rewriting the same bytes changes the file's ctime: another identity, so the entries miss.
    fs.writeFileSync(file, fs.readFileSync(file));
    const rewritten = await open();
    assert.notStrictEqual(rewritten.key, first.key);
    assert.deepStrictEqual(rewritten.stored.sort(), [first.key, rewritten.key].sort(), 'built again under the new identity');
    const bytes = fs.readFileSync(file);
    const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
    assert.strictEqual(ConvModel.fromBytes(bytes, { cacheDir }).contentKey, `sha256 ${sha256}`, 'bytes without a file are hashed');
  });

  it('keeps no session of a model over MAX_PERSISTED_MODEL_BYTES, whose optimised form onnxruntime writes slowly, and still runs it', async () => {
    // relu(x [1, 1024] · W [1024, n]): the smallest n whose weights pass the limit, and a small one;
    // run as it is and with 'h' exposed, a variant whose weights point into the model's bytes.
    const linear = (n: number) =>
      encodeModel({
        ir_version: 8,
        opset_import: [{ domain: '', version: 13 }],
        graph: {
          name: 'linear',
          node: [
            { op_type: 'MatMul', input: ['x', 'w'], output: ['h'], name: 'matmul' },
            { op_type: 'Relu', input: ['h'], output: ['y'], name: 'relu' },
          ],
          initializer: [{ name: 'w', dims: [1024, n], data_type: DataType.FLOAT, raw_data: new Uint8Array(4096 * n) }],
          input: [{ name: 'x', type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: [{ dim_value: 1 }, { dim_value: 1024 }] } } } }],
          output: [{ name: 'y', type: { tensor_type: { elem_type: DataType.FLOAT } } }],
        },
      });
    const storedAfterRun = async (bytes: Uint8Array): Promise<number> => {
      const cacheDir = tempDir();
      const model = ConvModel.fromBytes(bytes, { provider: 'cpu', cacheDir });
      try {
        const x = { dtype: 'float32' as const, dims: [1, 1024], data: new Float32Array(1024).fill(1) };
        const { y } = await model.run({ x });
        const { h } = await model.run({ x }, ['h']);
        assert.strictEqual(y.dims[1], bytes.length > MAX_PERSISTED_MODEL_BYTES ? Math.ceil(MAX_PERSISTED_MODEL_BYTES / 4096) : 16);
        assert.deepStrictEqual(h.dims, y.dims);
        await model.writesFinished();
        return entryFiles(cacheDir).filter((f) => (JSON.parse(JSON.parse(headerOf(f)).key) as { variant?: string }).variant).length;
      } finally {
        await model.dispose();
        fs.rmSync(cacheDir, { recursive: true, force: true });
      }
    };
    assert.strictEqual(await storedAfterRun(linear(16)), 2, 'a small model keeps its sessions');
    const large = linear(Math.ceil(MAX_PERSISTED_MODEL_BYTES / 4096));
    assert.ok(large.length > MAX_PERSISTED_MODEL_BYTES);
    assert.strictEqual(await storedAfterRun(large), 0, 'a large one keeps none, its variant included');
  });

  it('a tensor exposed in the base session is run there: one session for the outputs alone and with the layer, the same numbers', async () => {
    const input = parseNpy(fs.readFileSync(INPUT));
    const plain = ConvModel.load(MODEL, { provider: 'cpu' });
    const model = ConvModel.load(MODEL, { provider: 'cpu', cacheDir: dir });
    try {
      const layer = plain.graph.node.find((n) => n.op_type === 'Relu')?.output[0] as string;
      model.exposeInBaseSession([layer]);
      const outputs = await model.run({ input });
      const withLayer = await model.run({ input }, [layer]);
      assert.deepStrictEqual(Object.keys(outputs), Object.keys(await plain.run({ input })), 'a plain run gives the graph outputs only');
      const expected = await plain.run({ input }, [layer]);
      for (const name of Object.keys(expected)) assert.deepStrictEqual([...withLayer[name].data], [...expected[name].data], name);
    } finally {
      await Promise.all([model.dispose(), plain.dispose()]);
    }
    const variants = entryFiles(dir)
      .map((f) => (JSON.parse(JSON.parse(headerOf(f)).key) as { variant?: string }).variant)
      .filter(Boolean);
    assert.strictEqual(variants.length, 1, `one session was made: ${variants.join(', ')}`);
    assert.ok(variants[0]?.startsWith('expose:'));
  });

  it('runUpTo computes tensors with the nodes they depend on only, as the whole model does; with the base session exposing them, it makes no other', async () => {
    const input = parseNpy(fs.readFileSync(INPUT));
    const plain = ConvModel.load(MODEL, { provider: 'cpu' });
    const layer = plain.graph.node.find((n) => n.op_type === 'Relu')?.output[0] as string;
    const variantsIn = (cacheDir: string) =>
      entryFiles(cacheDir)
        .map((f) => (JSON.parse(JSON.parse(headerOf(f)).key) as { variant?: string }).variant)
        .filter(Boolean);
    try {
      const part = modelUpTo(plain.proto, [layer]);
      assert.ok(plain.graph.node.some((n) => n.op_type === 'Gemm') && !part.graph?.node.some((n) => n.op_type === 'Gemm'), 'the head is left out');
      assert.ok((part.graph?.initializer?.length ?? 0) < (plain.graph.initializer?.length ?? 0), "and the head's weights");
      assert.deepStrictEqual(
        part.graph?.output?.map((o) => o.name),
        [layer],
        'whose one output is the layer',
      );
      const expected = (await plain.run({ input }, [layer]))[layer].data as Float32Array;
      const alone = ConvModel.load(MODEL, { provider: 'cpu', cacheDir: dir });
      try {
        const got = (await alone.runUpTo({ input }, [layer]))[layer].data as Float32Array;
        // A session of part of the graph may fuse its last ops otherwise than the whole model's.
        assertClose(got, expected, 1e-6, layer);
      } finally {
        await alone.dispose();
      }
      assert.deepStrictEqual(
        variantsIn(dir).map((v) => v?.split(':')[0]),
        ['upto'],
        'a session of the part before the layer',
      );
      const panelDir = path.join(dir, 'panel');
      const panel = ConvModel.load(MODEL, { provider: 'cpu', cacheDir: panelDir });
      try {
        panel.exposeInBaseSession([layer]);
        await panel.baseSession();
        assert.deepStrictEqual([...(await panel.runUpTo({ input }, [layer]))[layer].data], [...(await panel.run({ input }, [layer]))[layer].data]);
      } finally {
        await panel.dispose();
      }
      assert.deepStrictEqual(
        variantsIn(panelDir).map((v) => v?.split(':')[0]),
        ['expose'],
        'the base session ran it',
      );
    } finally {
      await plain.dispose();
    }
  });

  it('a session for one run is made with basic optimisations and not stored; the next request starts the full session, which replaces it, stored, once made', async () => {
    const input = parseNpy(fs.readFileSync(INPUT));
    const variants = () => entryFiles(dir).map((f) => (JSON.parse(JSON.parse(headerOf(f)).key) as { variant?: string }).variant);
    const model = ConvModel.load(MODEL, { provider: 'cpu', cacheDir: dir });
    const request = (once: boolean) => model.builtSession('whole', async () => ({ proto: model.proto, meta: 'names' }), { persist: true, once });
    try {
      const first = await request(true);
      assert.strictEqual(first.session.forOneRun, true, 'basic optimisations');
      assert.strictEqual(first.meta, 'names');
      const expected = await first.session.session.run({ input: new ort.Tensor('float32', input.data as Float32Array, input.dims) });
      await model.writesFinished();
      assert.deepStrictEqual(variants(), [], 'nothing stored');
      // The next request gets the first session while the full one is made; a run in flight when
      // it replaces the first one keeps that session until the run ends.
      const second = await request(true);
      assert.strictEqual(second.session, first.session);
      const inFlight = run(second.session, { input });
      await model.writesFinished();
      const during = await inFlight;
      assert.deepStrictEqual(variants(), ['whole'], 'the full session was stored');
      const third = await request(true);
      assert.notStrictEqual(third.session, first.session);
      assert.strictEqual(third.session.forOneRun, undefined, 'the full session');
      assert.strictEqual(third.meta, 'names', 'with the meta of the first build, which it reused');
      await new Promise((resolve) => setImmediate(resolve));
      await assert.rejects(run(first.session, { input }), 'the first session was released');
      const full = await run(third.session, { input });
      assert.strictEqual((await request(false)).session, third.session, 'later requests, once or not, get the full session');
      // Two sets of kernels: a few float32 roundings apart of the largest magnitude.
      for (const name of Object.keys(expected)) {
        assertClose(during[name].data as Float32Array, expected[name].data as Float32Array, 1e-5, name);
        assertClose(full[name].data as Float32Array, expected[name].data as Float32Array, 1e-5, name);
      }
    } finally {
      await model.dispose();
    }
    const reopened = ConvModel.load(MODEL, { provider: 'cpu', cacheDir: dir });
    try {
      const hit = await reopened.builtSession('whole', async () => assert.fail('built again rather than read from the cache'), { persist: true, once: true });
      assert.strictEqual(hit.session.forOneRun, undefined, 'a stored session serves a request for one run');
    } finally {
      await reopened.dispose();
    }
  });

  it('Grad-CAM, saliency, Eigen-CAM and Ablation-CAM run their sessions once; Integrated Gradients builds the full session at once', async () => {
    const input = parseNpy(fs.readFileSync(INPUT));
    const target = { kind: 'class', index: 3 } as const;
    const stored = () =>
      entryFiles(dir)
        .map((f) => (JSON.parse(JSON.parse(headerOf(f)).key) as { variant?: string }).variant?.split(/[|:]/)[0])
        .filter(Boolean)
        .sort();
    const model = ConvModel.load(MODEL, { provider: 'cpu', cacheDir: dir });
    try {
      for (const method of ['gradcam', 'saliency', 'eigencam', 'ablationcam']) await explain(method, { model, input, target });
      await model.writesFinished();
      // Ablation-CAM's ablations run batch after batch in the network after the layer: that one is full.
      assert.deepStrictEqual(stored(), ['after'], 'no session run once is stored');
      await explain('integrated-gradients', { model, input, target }, { steps: 8 });
      await model.writesFinished();
      // Its completeness check scores the input and the baseline in its own gradient runs: no forward session.
      assert.deepStrictEqual(stored(), ['after', 'gradient'], "Integrated Gradients' session is stored");
      for (const method of ['gradcam', 'eigencam', 'ablationcam']) await explain(method, { model, input, target });
      await model.writesFinished();
      assert.deepStrictEqual(stored(), ['after', 'expose', 'gradient', 'gradient', 'upto'], 'second calls have their full sessions built and stored');
    } finally {
      await model.dispose();
    }
  });

  it('a model about to explain many inputs builds a session asked for one run in full at once, and stores it', async () => {
    const input = parseNpy(fs.readFileSync(INPUT));
    const model = ConvModel.load(MODEL, { provider: 'cpu', cacheDir: dir });
    try {
      model.explainsManyInputs();
      const first = await model.builtSession('whole', async () => ({ proto: model.proto, meta: null }), { persist: true, once: true });
      assert.strictEqual(first.session.forOneRun, undefined, 'the full session');
      await run(first.session, { input });
      await model.writesFinished();
      assert.strictEqual(entryFiles(dir).filter((f) => headerOf(f).includes('whole')).length, 1, 'stored');
      assert.strictEqual((await model.builtSession('whole', async () => assert.fail('built again'), { persist: true, once: true })).session, first.session);
    } finally {
      await model.dispose();
    }
    // A folder of images (convlens explain FOLDER, Explain all) says so: its first Grad-CAM stores the full session.
    const ctx = ModelContext.open(path.resolve(__dirname, '../../../sample/shapes.onnx'), { provider: 'cpu', cacheDir: dir });
    try {
      const images = ['0.png', '1.png'].map((f) => ({ file: path.resolve(__dirname, '../../../sample/dataset/test/circle', f), relPath: f }));
      for await (const item of explainImages(ctx, images, { method: 'gradcam', target: { kind: 'class', index: 'top' } })) {
        assert.strictEqual(item.error, undefined, item.error);
        await ctx.model.writesFinished();
        assert.ok(
          entryFiles(dir).some((f) => headerOf(f).includes('gradient|')),
          `the gradient session is stored after ${item.image.relPath}`,
        );
      }
    } finally {
      await ctx.dispose();
    }
  });

  it('a cache folder that cannot be made only means building: the numbers are those of a model without one', async () => {
    const blocker = path.join(dir, 'a-file');
    fs.writeFileSync(blocker, 'not a folder');
    const unusable = await gradientsOnce(path.join(blocker, 'cache'));
    const model = ConvModel.load(MODEL, { provider: 'cpu' });
    try {
      const input = parseNpy(fs.readFileSync(INPUT));
      const plain = await computeGradients(model, { input }, { wrt: ['input'], seed: seedForClass([1, 10], 8) });
      assert.deepStrictEqual([...unusable.grad.data], [...plain.gradients.input.data]);
    } finally {
      await model.dispose();
    }
  });
});
