import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ConvModel } from '../../src/core/model';
import { parseNpy } from '../../src/core/npy';
import { FloatTensor } from '../../src/core/tensor';
import { NodeProto } from '../../src/core/onnx/proto';
import { AttentionError, attentionLayers, attentionMaps, attentionRollout, findAttention, noAttentionReason, queryMap, tokenGrid } from '../../src/core/inside/attention';
import { assertClose } from '../support/reference';
import { SAMPLE_MODEL, describeSample } from './inside-sample';

// The hybrid and its PyTorch ground truth are made by test/models/hybrid/train_hybrid.py.
const HYBRID = path.resolve(__dirname, '../../../test/models/hybrid');
// A Uint8Array copy: parseNpy slices its argument, and a Node Buffer's slice is a view, not a copy.
const npy = (name: string) => parseNpy(new Uint8Array(fs.readFileSync(path.join(HYBRID, name)))) as FloatTensor;

describe('attention maps of a CNN–Transformer hybrid', () => {
  let model: ConvModel;
  before(() => {
    model = ConvModel.load(path.join(HYBRID, 'hybrid.onnx'), { provider: 'cpu' });
  });
  after(() => model.dispose());

  it('finds the two softmax(q kᵀ / √d) nodes, 4 heads over 65 tokens (CLS + 8×8 patches)', async () => {
    const layers = await attentionLayers(model);
    assert.deepStrictEqual(
      layers.map((l) => [l.node, l.dims, l.heads, l.layout]),
      [
        ['/layers.0/attn/Softmax', [1, 4, 65, 65], 4, 'bhtt'],
        ['/layers.1/attn/Softmax', [1, 4, 65, 65], 4, 'bhtt'],
      ],
    );
    assert.deepStrictEqual(tokenGrid(layers[0].tokens, [64, 64]), { prefix: 1, rows: 8, cols: 8 });
  });

  it('reads attention probabilities equal to PyTorch within 1e-4 relative', async () => {
    const logits = (await model.run({ input: npy('input.npy') })).logits;
    assertClose(logits.data as Float32Array, npy('logits.npy').data, 1e-4, 'logits');
    const maps = await attentionMaps(model, npy('input.npy'));
    assert.strictEqual(maps.length, 2);
    for (const [i, m] of maps.entries()) {
      const expected = npy(`attention_${i}.npy`);
      assert.deepStrictEqual([1, ...m.probabilities.dims], expected.dims);
      assertClose(m.probabilities.data, expected.data, 1e-4, `layer ${i} attention`);
    }
  });

  it('computes attention rollout (mean and max over heads) equal to PyTorch within 1e-4 relative', async () => {
    const maps = await attentionMaps(model, npy('input.npy'));
    for (const fusion of ['mean', 'max'] as const) {
      const rollout = attentionRollout(
        maps.map((m) => m.probabilities),
        fusion,
      );
      const expected = npy(`rollout_${fusion}.npy`);
      assert.deepStrictEqual([1, ...rollout.dims], expected.dims);
      assertClose(rollout.data, expected.data, 1e-4, `rollout (${fusion})`);
      // Every row of a product of row-stochastic matrices sums to 1.
      for (let r = 0; r < 65; r++) {
        const sum = rollout.data.slice(r * 65, (r + 1) * 65).reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - 1) < 1e-5, `row ${r} sums to ${sum}`);
      }
    }
  });

  it("lays the CLS token's row out on the 8×8 patch grid, per head and for the rollout", async () => {
    const [first] = await attentionMaps(model, npy('input.npy'), { layers: ['/layers.0/attn/Softmax'] });
    const grid = tokenGrid(65, [64, 64]);
    const head2 = queryMap(first.probabilities, grid, { head: 2 });
    assert.deepStrictEqual(head2.dims, [8, 8]);
    // Head 2, query 0 (CLS), keys 1..64 of the ground truth.
    const expected = npy('attention_0.npy').data.slice((2 * 65 + 0) * 65 + 1, (2 * 65 + 0) * 65 + 65);
    assertClose(head2.data, expected, 1e-4, 'CLS row of head 2');
    assert.throws(() => queryMap(first.probabilities, grid, { head: 4 }), /head 4 does not exist; the layer has 4 heads/);

    const maps = await attentionMaps(model, npy('input.npy'));
    const rolloutCls = queryMap(attentionRollout(maps.map((m) => m.probabilities)), grid);
    assert.deepStrictEqual(rolloutCls.dims, [8, 8]);
    assertClose(rolloutCls.data, npy('rollout_mean.npy').data.slice(1, 65), 1e-4, 'CLS row of the rollout');
  });

  it('says which layers are attention when asked for another', async () => {
    await assert.rejects(
      attentionMaps(model, npy('input.npy'), { layers: ['/stem/stem.0/Conv_output_0'] }),
      /is not an attention layer; the model's are '\/layers.0\/attn\/Softmax_output_0', '\/layers.1\/attn\/Softmax_output_0'/,
    );
  });
});

describeSample('attention in a plain CNN', () => {
  it('finds none and says so', async () => {
    const cnn = ConvModel.load(SAMPLE_MODEL, { provider: 'cpu' });
    try {
      assert.deepStrictEqual(await attentionLayers(cnn), []);
      await assert.rejects(attentionMaps(cnn, { dtype: 'float32', dims: [1, 3, 64, 64], data: new Float32Array(3 * 64 * 64) }), AttentionError);
    } finally {
      await cnn.dispose();
    }
  });
});

describe('finding attention in a graph', () => {
  // q, k, v come from Linear layers (MatMul with a weight); scores = MatMul(q, Transpose(k)).
  const node = (op_type: string, input: string[], output: string, attribute: NodeProto['attribute'] = []): NodeProto => ({
    op_type,
    input,
    output: [output],
    name: output,
    attribute,
  });
  const linear = (name: string) => node('MatMul', ['x', `${name}.w`], name);
  const graphWith = (nodes: NodeProto[]) => ({
    node: [linear('q'), linear('k'), linear('v'), node('Transpose', ['k'], 'kt'), ...nodes],
    initializer: ['q.w', 'k.w', 'v.w', 'scale', 'head.w'].map((name) => ({ name, dims: [1], data_type: 1, float_data: [1] })),
    input: [{ name: 'x' }],
    output: [],
  });

  it('accepts [B·heads, T, T] probabilities behind a Mul scale and a mask Add, and counts heads per image', () => {
    const graph = graphWith([
      node('MatMul', ['q', 'kt'], 'scores'),
      node('Mul', ['scores', 'scale'], 'scaled'),
      node('Add', ['scaled', 'mask'], 'masked'),
      node('Softmax', ['masked'], 'p', [{ name: 'axis', i: -1 }]),
      node('MatMul', ['p', 'v'], 'out'),
    ]);
    const shapes = new Map([
      ['x', [2, 50, 64]],
      ['p', [16, 50, 50]],
    ]);
    assert.deepStrictEqual(
      findAttention(graph, shapes).map((l) => [l.tensor, l.layout, l.heads, l.tokens]),
      [['p', 'flat', 8, 50]],
    );
  });

  it("rejects a softmax over a Linear layer's output (square as it is) and one over another axis", () => {
    const graph = graphWith([
      node('MatMul', ['q', 'head.w'], 'logits'),
      node('Softmax', ['logits'], 'probs'),
      node('MatMul', ['q', 'kt'], 'scores'),
      node('Softmax', ['scores'], 'columns', [{ name: 'axis', i: 2 }]),
    ]);
    const shapes = new Map([
      ['x', [1, 50, 64]],
      ['probs', [1, 50, 50]],
      ['columns', [1, 4, 50, 50]],
    ]);
    assert.deepStrictEqual(findAttention(graph, shapes), []);
  });

  it('says why no attention is shown: none found, or fused into nodes that do not output their weights', () => {
    const plain = graphWith([node('MatMul', ['q', 'head.w'], 'logits')]);
    assert.strictEqual(noAttentionReason(plain, 'cnn.onnx'), 'cnn.onnx has no self-attention: no Softmax over a product of queries and keys was found in its graph');
    const fused = graphWith([
      { ...node('MultiHeadAttention', ['q', 'k', 'v'], 'mha1'), domain: 'com.microsoft' },
      { ...node('MultiHeadAttention', ['mha1', 'k', 'v'], 'mha2'), domain: 'com.microsoft' },
      node('Attention', ['mha2', 'k', 'v'], 'onnx_attention'),
    ]);
    assert.strictEqual(
      noAttentionReason(fused, 'vit.onnx'),
      "vit.onnx computes its attention inside 3 fused nodes (com.microsoft.MultiHeadAttention, Attention, e.g. 'mha1'), which do not output their attention weights; export the model without attention fusion to see them",
    );
  });

  it("averages every query's row with query 'mean' (for models without a CLS token)", () => {
    // 2 heads over 4 tokens (a 2×2 grid, no prefix); head 0 is zero, head 1 holds (j + 1)·(r + 1) at row r, column j.
    const p = { dtype: 'float32' as const, dims: [2, 4, 4], data: Float32Array.from({ length: 32 }, (_, i) => (i >= 16 ? ((i % 4) + 1) * (Math.floor((i % 16) / 4) + 1) : 0)) };
    const mean = queryMap(p, { prefix: 0, rows: 2, cols: 2 }, { head: 1, query: 'mean' });
    // Column j's mean over rows of (j + 1)·(r + 1), r = 0..3, is (j + 1)·2.5.
    assert.deepStrictEqual(Array.from(mean.data), [2.5, 5, 7.5, 10]);
  });
});

describe('token grids', () => {
  it('finds the prefix and the grid from the token count and the aspect ratio', () => {
    assert.deepStrictEqual(tokenGrid(196, [224, 224]), { prefix: 0, rows: 14, cols: 14 });
    assert.deepStrictEqual(tokenGrid(197, [224, 224]), { prefix: 1, rows: 14, cols: 14 });
    assert.deepStrictEqual(tokenGrid(198, [224, 224]), { prefix: 2, rows: 14, cols: 14 });
    assert.deepStrictEqual(tokenGrid(1 + 8 * 16, [128, 256]), { prefix: 1, rows: 8, cols: 16 });
    assert.throws(() => tokenGrid(61, [64, 64]), /61 tokens do not form a grid/);
  });
});
