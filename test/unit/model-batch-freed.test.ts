// Models exported with the batch traced as a number (`b, c, h, w = x.size()`, then `x.view(b, ...)`)
// pin it at 1 in their Reshapes' constant shapes. The probe frees those Reshapes where the freed
// model gives the declared shapes at batch 1 and independent rows at batch 2, so batched methods
// run batches; where freeing breaks the model it runs one input at a time, as declared.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { computeGradients } from '../../src/core/autodiff/gradients';
import { explain } from '../../src/core/explain';
import { usableBatchSize } from '../../src/core/explain/forward';
import { ConvModel } from '../../src/core/model';
import { createSession, run } from '../../src/core/onnx/session';
import { withBatchFreedReshapes } from '../../src/core/onnx/surgery';
import { AttributeType, encodeModel } from '../../src/core/onnx/proto';
import { Tensor, float32 } from '../../src/core/tensor';
import { entryFiles, headerOf } from '../support/cache-entries';
import { buildModel, int, ints, node, randomTensor } from './explain/tiny-models';

const [C, SIDE, CLASSES] = [4, 6, 3];
const shape = (values: number[]): Tensor => ({ dtype: 'int64', dims: [values.length], data: BigInt64Array.from(values.map(BigInt)) });

/**
 * ShuffleNet's channel shuffle as exported with the batch traced as 1: Conv → Reshape to the
 * constant [1, 2, C/2, H, W] → Transpose → Reshape to [1, C, H, W] (a Constant node) → Relu →
 * GlobalAveragePool → Flatten → Gemm.
 */
function shuffleModel(): ConvModel {
  const back = {
    name: 'value',
    type: AttributeType.TENSOR,
    t: { name: 'back', dims: [4], data_type: 7, raw_data: new Uint8Array(BigInt64Array.of(1n, BigInt(C), BigInt(SIDE), BigInt(SIDE)).buffer) },
  };
  return buildModel({
    nodes: [
      node('Conv', ['input', 'w1', 'b1'], ['conv'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]),
      node('Reshape', ['conv', 'split'], ['grouped']),
      node('Transpose', ['grouped'], ['swapped'], [ints('perm', [0, 2, 1, 3, 4])]),
      node('Constant', [], ['back'], [back]),
      node('Reshape', ['swapped', 'back'], ['shuffled']),
      node('Relu', ['shuffled'], ['features']),
      node('GlobalAveragePool', ['features'], ['pooled']),
      node('Flatten', ['pooled'], ['flat'], [int('axis', 1)]),
      node('Gemm', ['flat', 'fc', 'fcb'], ['logits'], [int('transB', 1)]),
    ],
    initializers: {
      w1: randomTensor([C, 3, 3, 3], 1, 0.5),
      b1: randomTensor([C], 2, 0.2),
      split: shape([1, 2, C / 2, SIDE, SIDE]),
      fc: randomTensor([CLASSES, C], 3, 1),
      fcb: randomTensor([CLASSES], 4, 0.1),
    },
    input: [1, 3, SIDE, SIDE],
    output: [1, CLASSES],
  });
}

/** Two inputs stacked as a batch, and each alone. */
function inputs(): { batch: Tensor; rows: Tensor[] } {
  const rows = [randomTensor([1, 3, SIDE, SIDE], 11, 1), randomTensor([1, 3, SIDE, SIDE], 12, 1)];
  const data = new Float32Array(2 * rows[0].data.length);
  rows.forEach((r, i) => data.set(r.data as Float32Array, i * r.data.length));
  return { batch: float32([2, 3, SIDE, SIDE], data), rows };
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.strictEqual(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= 1e-5 * (1 + Math.abs(expected[i])), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

describe('a batch pinned by Reshapes to constant shapes', () => {
  it('frees both Reshapes (an initializer and a Constant node) and nothing else', () => {
    const freed = withBatchFreedReshapes(shuffleModel().proto);
    assert.ok(freed, 'the Reshapes are freed');
    assert.deepStrictEqual(freed.inputs, ['conv', 'swapped'], 'the data inputs of the freed Reshapes');
    const reshapes = freed.model.graph?.node.filter((n) => n.op_type === 'Reshape') ?? [];
    assert.deepStrictEqual(
      reshapes.map((n) => n.input[1]),
      ['split/batch', 'back/batch'],
    );
    const values = (name: string) => Array.from(new BigInt64Array(Uint8Array.from(freed.model.graph?.initializer?.find((t) => t.name === name)?.raw_data ?? []).buffer), Number);
    assert.deepStrictEqual(values('split/batch'), [0, 2, C / 2, SIDE, SIDE]);
    assert.deepStrictEqual(values('back/batch'), [0, C, SIDE, SIDE]);
    assert.strictEqual(withBatchFreedReshapes(freed.model), undefined, 'nothing is left to free');
  });

  it('leaves a Reshape whose constant shape holds less data than its dims say as it is, without throwing', () => {
    const proto = shuffleModel().proto;
    const split = proto.graph?.initializer?.find((t) => t.name === 'split');
    assert.ok(split?.raw_data);
    split.raw_data = split.raw_data.slice(0, 8);
    const freed = withBatchFreedReshapes(proto);
    assert.deepStrictEqual(freed?.inputs, ['swapped'], 'only the Reshape with a well-formed shape is freed');
  });

  it('runs batches once freed: each row of a batch is what that input gives alone, outputs and gradients', async () => {
    const model = shuffleModel();
    try {
      assert.strictEqual(await model.supportsBatch(), true);
      assert.deepStrictEqual((await model.probedBatchShapes())?.get('grouped'), [2, 2, C / 2, SIDE, SIDE]);
      const { batch, rows } = inputs();
      const seed = float32(
        [2, CLASSES],
        Float32Array.from({ length: 2 * CLASSES }, (_, i) => (i % CLASSES === 1 ? 1 : 0)),
      );
      const together = await model.run({ input: batch });
      const gradients = await computeGradients(model, { input: batch }, { wrt: ['input'], seed });
      for (const [i, row] of rows.entries()) {
        const alone = await model.run({ input: row });
        assertClose((together.logits.data as Float32Array).subarray(i * CLASSES, (i + 1) * CLASSES), alone.logits.data as Float32Array, `logits of row ${i}`);
        const rowSeed = float32(
          [1, CLASSES],
          Float32Array.from({ length: CLASSES }, (_, k) => (k === 1 ? 1 : 0)),
        );
        const own = await computeGradients(model, { input: row }, { wrt: ['input'], seed: rowSeed });
        const n = row.data.length;
        assertClose((gradients.gradients.input.data as Float32Array).subarray(i * n, (i + 1) * n), own.gradients.input.data as Float32Array, `gradient of row ${i}`);
      }
    } finally {
      await model.dispose();
    }
  });

  it('keeps that answer in the disk cache: a reopened model batches without probing again', async () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-batch-freed-'));
    const file = path.join(cacheDir, 'shuffle.onnx');
    fs.writeFileSync(file, encodeModel(shuffleModel().proto));
    try {
      for (let open = 0; open < 2; open++) {
        const model = ConvModel.load(file, { provider: 'cpu', cacheDir });
        try {
          assert.strictEqual(await model.supportsBatch(), true, `open ${open}`);
          const { batch, rows } = inputs();
          const together = await model.run({ input: batch });
          const alone = await model.run({ input: rows[1] });
          assertClose((together.logits.data as Float32Array).subarray(CLASSES), alone.logits.data as Float32Array, `open ${open}`);
        } finally {
          await model.dispose();
        }
      }
    } finally {
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it('runs one input on the freed model before its rows are checked, as the declared model; batches wait for the check, which the disk cache keeps', async () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-batch-freed-'));
    const file = path.join(cacheDir, 'shuffle.onnx');
    const bytes = encodeModel(shuffleModel().proto);
    fs.writeFileSync(file, bytes);
    const rowChecks = () => entryFiles(cacheDir).filter((f) => (JSON.parse(JSON.parse(headerOf(f)).key) as { probe?: string }).probe === 'freed rows');
    const declared = await createSession(bytes, 'cpu');
    const model = ConvModel.load(file, { provider: 'cpu', cacheDir });
    try {
      const { rows } = inputs();
      const out = await model.run({ input: rows[0] });
      const logit = async (input: Tensor) => ((await run(declared, { input })).logits.data as Float32Array)[1];
      assert.deepStrictEqual(
        [...(out.logits.data as Float32Array)],
        [...((await run(declared, { input: rows[0] })).logits.data as Float32Array)],
        "the declared model's logits, bit for bit",
      );
      const seed = float32(
        [1, CLASSES],
        Float32Array.from({ length: CLASSES }, (_, k) => (k === 1 ? 1 : 0)),
      );
      const { gradients } = await computeGradients(model, { input: rows[0] }, { wrt: ['input'], seed, once: true });
      // Central differences of the declared model's logit 1, at a few input elements (the model is
      // piecewise linear, and no ReLU changes side within ±1e-3 here, so they are exact but for rounding).
      const x = rows[0].data as Float32Array;
      for (const i of [0, 17, 50, 101]) {
        const moved = (by: number) =>
          float32(
            rows[0].dims,
            x.map((v, k) => (k === i ? v + by : v)),
          );
        const expected = ((await logit(moved(1e-3))) - (await logit(moved(-1e-3)))) / 2e-3;
        const actual = (gradients.input.data as Float32Array)[i];
        assert.ok(Math.abs(actual - expected) <= 2e-3 * (1 + Math.abs(expected)), `∂logit/∂x[${i}]: ${actual} vs ${expected}`);
      }
      await model.writesFinished();
      assert.strictEqual(rowChecks().length, 0, 'no rows were checked for one input');
      assert.strictEqual(await model.supportsBatch(), true);
      await model.writesFinished();
      assert.deepStrictEqual(
        rowChecks().map((f) => JSON.parse(headerOf(f)).meta),
        [true],
        'the check is stored',
      );
    } finally {
      await model.dispose();
      await declared.session.release();
    }
    const reopened = ConvModel.load(file, { provider: 'cpu', cacheDir });
    try {
      assert.strictEqual(await reopened.supportsBatch(), true, 'read back');
    } finally {
      await reopened.dispose();
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it('keeps a freed model whose rows mix at batch 2 from batches: one input runs as declared, a batch runs row by row', async () => {
    // x [1, 2, 3] → Transpose to [2, 1, 3] → Reshape [-1, 6] → Reshape [1, 2, 3] (freed) → × scale.
    // At batch 1 that is x × scale; at batch 2 the first Reshape's rows hold the same channel of
    // both inputs, so the freed model mixes them.
    const scale = randomTensor([1, 2, 3], 9, 1);
    const model = buildModel({
      nodes: [
        node('Transpose', ['input'], ['swapped'], [ints('perm', [1, 0, 2])]),
        node('Reshape', ['swapped', 'flat_shape'], ['flat']),
        node('Reshape', ['flat', 'back_shape'], ['back']),
        node('Mul', ['back', 'scale'], ['logits']),
      ],
      initializers: { flat_shape: shape([-1, 6]), back_shape: shape([1, 2, 3]), scale },
      input: [1, 2, 3],
      output: [1, 2, 3],
    });
    try {
      const rows = [randomTensor([1, 2, 3], 21, 1), randomTensor([1, 2, 3], 22, 1)];
      const alone = await model.run({ input: rows[0] });
      assertClose(
        alone.logits.data as Float32Array,
        Float32Array.from(rows[0].data as Float32Array, (v, i) => v * (scale.data as Float32Array)[i]),
        'x × scale',
      );
      assert.strictEqual(await model.supportsBatch(), false, 'its rows are not independent');
      assert.strictEqual(await usableBatchSize(model, 8), 1);
      const batch = float32([2, 2, 3], Float32Array.from([...(rows[0].data as Float32Array), ...(rows[1].data as Float32Array)]));
      const { gradients } = await computeGradients(model, { input: batch }, { wrt: ['input'], seed: float32([2, 2, 3], new Float32Array(12).fill(1)) });
      // ∂ Σ(x × scale) / ∂x = scale, in each row; the mixed batch would permute it.
      for (const i of [0, 1]) assertClose((gradients.input.data as Float32Array).subarray(6 * i, 6 * (i + 1)), scale.data as Float32Array, `gradient of row ${i}`);
    } finally {
      await model.dispose();
    }
  });

  it("runs Ablation-CAM's ablations in batches through a head pinned by `x.view(b, -1)`, with the CAM of running them one at a time", async () => {
    // conv → Relu ('features') → Reshape to the constant [1, -1] → Gemm: the head after the layer is pinned.
    const model = buildModel({
      nodes: [
        node('Conv', ['input', 'w1', 'b1'], ['conv'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]),
        node('Relu', ['conv'], ['features']),
        node('Reshape', ['features', 'flat_shape'], ['flat']),
        node('Gemm', ['flat', 'fc'], ['logits'], [int('transB', 1)]),
      ],
      initializers: { w1: randomTensor([C, 3, 3, 3], 6, 0.5), b1: randomTensor([C], 7, 0.2), flat_shape: shape([1, -1]), fc: randomTensor([CLASSES, C * SIDE * SIDE], 8, 0.3) },
      input: [1, 3, SIDE, SIDE],
      output: [1, CLASSES],
    });
    try {
      const ctx = { model, input: inputs().rows[0], target: { kind: 'class' as const, index: 2 }, layer: 'features' };
      const batched = await explain('ablationcam', ctx, { batch: 4 });
      assert.ok(!batched.notes.some((n) => n.includes('does not take a batch')), batched.notes.join('; '));
      const single = await explain('ablationcam', ctx, { batch: 1 });
      assertClose(batched.raw.data as Float32Array, single.raw.data as Float32Array, 'ablationcam');
    } finally {
      await model.dispose();
    }
  });

  it('is left pinned where freeing changes the model at batch 1: a Reshape of a tensor whose first dimension is not the batch', async () => {
    // [1, 3, 6, 6] → Transpose → [3, 1, 6, 6] → Reshape [1, -1]: freed, it would copy the 3.
    const model = buildModel({
      nodes: [
        node('Transpose', ['input'], ['swapped'], [ints('perm', [1, 0, 2, 3])]),
        node('Reshape', ['swapped', 'flat_shape'], ['flat']),
        node('Gemm', ['flat', 'fc'], ['logits'], [int('transB', 1)]),
      ],
      initializers: { flat_shape: shape([1, -1]), fc: randomTensor([CLASSES, 3 * SIDE * SIDE], 5, 0.1) },
      input: [1, 3, SIDE, SIDE],
      output: [1, CLASSES],
    });
    try {
      assert.strictEqual(await model.supportsBatch(), false);
      assert.strictEqual(await model.probedBatchShapes(), undefined);
      const { rows } = inputs();
      const out = await model.run({ input: rows[0] });
      assert.deepStrictEqual(out.logits.dims, [1, CLASSES]);
    } finally {
      await model.dispose();
    }
  });
});
