// The layer layout (src/core/explain/layout.ts): tokens with and without a class token, channels-last
// layers told from the graph or the input's size, and a sentence naming the layer wherever the
// layout cannot be told; a Grad-CAM at a channels-last layer of a small Swin-like model against the
// same computation on the gradients permuted by hand; a torchvision Swin Transformer with shifted
// windows (test/models/export_nd.py) against PyTorch's float64 gradients and Grad-CAM.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { computeGradients, seedForClass } from '../../../src/core/autodiff/gradients';
import { explain } from '../../../src/core/explain';
import { ablationValue } from '../../../src/core/explain/ablationcam';
import { gradCamRaw } from '../../../src/core/explain/gradcam';
import { layerView } from '../../../src/core/explain/layout';
import { ConvModel } from '../../../src/core/model';
import { parseNpy } from '../../../src/core/npy';
import { GraphProto, NodeProto } from '../../../src/core/onnx/proto';
import { FloatTensor, float32 } from '../../../src/core/tensor';
import { assertClose } from '../../support/reference';
import { buildModel, int, ints, node, randomTensor } from './tiny-models';

const IMAGE = [1, 3, 224, 224];

function graphOf(nodes: NodeProto[]): GraphProto {
  return { name: 'layout', node: nodes, initializer: [], input: [], output: [] };
}

function refusal(f: () => unknown, pattern: RegExp): void {
  assert.throws(f, (err: Error) => err.name === 'ExplainError' && pattern.test(err.message) && !err.message.includes('\n'));
}

describe('explain: layer layout', () => {
  it("ViT tokens: a class token and a 14×14 grid, a bare 14×14 grid, or DeiT's class and distillation tokens", () => {
    const withClass = layerView(graphOf([]), 'tokens', [1, 197, 192], IMAGE);
    assert.strictEqual(withClass.kind, 'class-token');
    assert.deepStrictEqual(withClass.dims, [1, 192, 14, 14]);
    // Canonical (d, p) is token 1 + p, feature d.
    assert.strictEqual(withClass.gather![3 * 196 + 5], (1 + 5) * 192 + 3);
    const bare = layerView(graphOf([]), 'tokens', [1, 196, 192], IMAGE);
    assert.strictEqual(bare.kind, 'tokens');
    assert.strictEqual(bare.gather![3 * 196 + 5], 5 * 192 + 3);
    const deit = layerView(graphOf([]), 'tokens', [1, 198, 192], IMAGE);
    assert.strictEqual(deit.gather![3 * 196 + 5], (2 + 5) * 192 + 3);
    assert.match(deit.note, /a class and a distillation token .* the two are dropped/);
  });

  it("a patch grid with the input's aspect ratio: 1 + 8×16 tokens for a 128×256 input", () => {
    assert.deepStrictEqual(layerView(graphOf([]), 'tokens', [1, 129, 64], [1, 3, 128, 256]).dims, [1, 64, 8, 16]);
  });

  it('refuses tokens that form no grid of the input, naming the layer and its shape', () => {
    refusal(
      () => layerView(graphOf([]), '/blocks.3/out', [1, 60, 192], IMAGE),
      /'\/blocks\.3\/out' \[1, 60, 192\] has 60 tokens, which are not h·w patches .* after 0, 1 or 2 leading tokens/,
    );
  });

  it('Swin [1, 7, 7, 384]: channels-last, from a LayerNorm over the last axis or because only that reading fits', () => {
    const norm = graphOf([node('ReduceMean', ['x'], ['mu'], [ints('axes', [-1])]), node('Sub', ['x', 'mu'], ['centred']), node('Mul', ['centred', 'gamma'], ['norm1'])]);
    const fromGraph = layerView(norm, 'norm1', [1, 7, 7, 384], IMAGE);
    assert.strictEqual(fromGraph.kind, 'channels-last');
    assert.deepStrictEqual(fromGraph.dims, [1, 384, 7, 7]);
    assert.match(fromGraph.note, /normalises or projects its last axis/);
    assert.strictEqual(fromGraph.gather![2 * 49 + 10], 10 * 384 + 2);
    const fromShape = layerView(graphOf([]), 'norm1', [1, 7, 7, 384], IMAGE);
    assert.strictEqual(fromShape.kind, 'channels-last');
    assert.match(fromShape.note, /only that reading fits the input/);
  });

  it('a CNN activation stays channels-first; an ambiguous or contradicted one is refused by name', () => {
    const conv = graphOf([node('Conv', ['x', 'w'], ['c']), node('Relu', ['c'], ['features'])]);
    assert.strictEqual(layerView(conv, 'features', [1, 7, 7, 7], IMAGE).kind, 'channels-first');
    refusal(() => layerView(graphOf([]), 'cube', [1, 7, 7, 7], IMAGE), /'cube' \[1, 7, 7, 7\] could be channels-first or channels-last/);
    refusal(() => layerView(conv, 'features', [1, 7, 7, 384], IMAGE), /'features' \[1, 7, 7, 384\] is channels-first in the graph, but its spatial sizes \[7, 384\] do not fit/);
  });

  it("a Swin block's attention or MLP output [1, 16, 16, 16], whose own ops say nothing, is channels-last from the residual sum's LayerNorm or the projection that makes it", () => {
    const image = [1, 3, 64, 64];
    // attn: a Slice (the window crop) makes it, the residual Add reads it; the sum goes to norm2's ReduceMean over the last axis.
    const residual = graphOf([
      node('Slice', ['windows', 'starts', 'ends'], ['attn']),
      node('Add', ['x', 'attn'], ['sum']),
      node('ReduceMean', ['sum'], ['mu'], [ints('axes', [-1])]),
    ]);
    const attn = layerView(residual, 'attn', [1, 16, 16, 16], image);
    assert.strictEqual(attn.kind, 'channels-last');
    assert.match(attn.note, /the graph normalises or projects its last axis/);
    // The other operand of the sum: norm1 reads x over its last axis.
    const operand = graphOf([
      node('Slice', ['windows', 'starts', 'ends'], ['attn']),
      node('Add', ['x', 'attn'], ['sum']),
      node('ReduceMean', ['x'], ['mu1'], [ints('axes', [-1])]),
    ]);
    assert.strictEqual(layerView(operand, 'attn', [1, 16, 16, 16], image).kind, 'channels-last');
    // mlp: x · W + b with a constant 2-D W.
    const projected = graphOf([node('MatMul', ['hidden', 'w'], ['proj']), node('Add', ['proj', 'b'], ['mlp'])]);
    projected.initializer = [{ name: 'w', dims: [32, 16], data_type: 1, float_data: new Array(32 * 16).fill(0) }];
    assert.strictEqual(layerView(projected, 'mlp', [1, 16, 16, 16], image).kind, 'channels-last');
    // With neither, the same shape is still refused as ambiguous.
    refusal(() => layerView(graphOf([node('Slice', ['windows', 'starts', 'ends'], ['attn'])]), 'attn', [1, 16, 16, 16], image), /could be channels-first or channels-last/);
  });

  it('refuses a layer of another rank than the input', () => {
    refusal(() => layerView(graphOf([]), 'volume', [1, 4, 2, 7, 7], IMAGE), /'volume' \[1, 4, 2, 7, 7\] cannot be laid over the input \[1, 3, 224, 224\]/);
    refusal(() => layerView(graphOf([]), 'map', [1, 8, 4, 4], [1, 2, 64]), /cannot be laid over the input/);
  });

  it('Grad-CAM and Ablation-CAM at a channels-last layer of a Swin-like model equal their definitions on the activations permuted to [N, C, h, w]', async () => {
    // Patchify 32×32 into 4×4 patches of 8 features, move features last, centre them over the last
    // axis (a LayerNorm's first half), pool over positions, linear head.
    const model = buildModel({
      nodes: [
        node('Conv', ['input', 'wp'], ['patches'], [ints('kernel_shape', [8, 8]), ints('strides', [8, 8])]),
        node('Transpose', ['patches'], ['nhwc'], [ints('perm', [0, 2, 3, 1])]),
        node('ReduceMean', ['nhwc'], ['mu'], [ints('axes', [-1])]),
        node('Sub', ['nhwc', 'mu'], ['normed']),
        node('ReduceMean', ['normed'], ['pooled'], [ints('axes', [1, 2]), int('keepdims', 0)]),
        node('MatMul', ['pooled', 'wh'], ['logits']),
      ],
      initializers: { wp: randomTensor([8, 3, 8, 8], 1, 0.2), wh: randomTensor([8, 5], 2) },
      input: [1, 3, 32, 32],
      output: [1, 5],
    });
    try {
      const input = randomTensor([1, 3, 32, 32], 3);
      const e = await explain('gradcam', { model, input, target: { kind: 'class', index: 2 }, layer: 'normed' });
      assert.deepStrictEqual(e.raw.dims, [1, 4, 4]);
      assert.deepStrictEqual(e.map.dims, [32, 32]);
      assert.ok(
        e.notes.some((n) => /channels-last/.test(n)),
        e.notes.join('\n'),
      );
      const { gradients, outputs } = await computeGradients(model, { input }, { wrt: ['normed'], seed: seedForClass([1, 5], 2) });
      const permute = (t: Float32Array) =>
        float32(
          [1, 8, 4, 4],
          Float32Array.from({ length: 128 }, (_, i) => t[(i % 16) * 8 + Math.floor(i / 16)]),
        );
      const expected = gradCamRaw(permute(outputs.normed.data as Float32Array), permute(gradients.normed.data as Float32Array));
      assertClose(e.raw.data as Float32Array, expected.data as Float32Array, 1e-5, 'Grad-CAM at the channels-last layer');
      // The score is linear in the layer: y = Σ_c mean_p(A[p, c]) · W[c, 2], so ablating channel k
      // (every position's feature k set to v) gives y_k = y − (mean_p A[p, k] − v) · W[k, 2].
      const ablation = await explain('ablationcam', { model, input, target: { kind: 'class', index: 2 }, layer: 'normed' });
      const a = permute(outputs.normed.data as Float32Array);
      const v = ablationValue(a.data);
      const wh = (model.graph.initializer ?? []).find((t) => t.name === 'wh')!;
      const w = Float32Array.from(wh.raw_data ? new Float32Array(Uint8Array.from(wh.raw_data).buffer) : wh.float_data!);
      const y = Array.from({ length: 8 }, (_, k) => (a.data.subarray(k * 16, (k + 1) * 16).reduce((s, x) => s + x, 0) / 16) * w[k * 5 + 2]).reduce((s, x) => s + x, 0);
      const weights = Array.from({ length: 8 }, (_, k) => ((a.data.subarray(k * 16, (k + 1) * 16).reduce((s, x) => s + x, 0) / 16 - v) * w[k * 5 + 2]) / y);
      const manual = Float32Array.from({ length: 16 }, (_, p) => weights.reduce((s, wk, k) => s + wk * a.data[k * 16 + p], 0));
      assertClose(ablation.raw.data as Float32Array, manual, 1e-3, 'Ablation-CAM at the channels-last layer');
    } finally {
      await model.dispose();
    }
  });
});

describe('explain: a torchvision Swin Transformer (channels-last blocks, shifted windows)', () => {
  const dir = path.resolve(__dirname, '../../../../test/models');
  const npy = (what: string) => parseNpy(new Uint8Array(fs.readFileSync(path.join(dir, `swin_small_test.${what}.npy`)))) as FloatTensor;
  const info = JSON.parse(fs.readFileSync(path.join(dir, 'swin_small_test.json'), 'utf8'));
  let model: ConvModel;
  before(() => {
    model = ConvModel.load(path.join(dir, 'swin_small_test.onnx'), { provider: 'cpu' });
  });
  after(() => model.dispose());
  const ctx = (layer?: string) => ({ model, input: npy('input'), target: { kind: 'class' as const, index: info.target as number }, layer });

  it("the last block's norm1 and the input: gradients within 1e-4 × max|ref| of PyTorch's float64 autograd", async () => {
    const { gradients, outputs } = await computeGradients(model, { input: npy('input') }, { wrt: ['input', info.targetLayer], seed: seedForClass([1, 5], info.target) });
    assertClose(outputs.logits.data as Float32Array, npy('logits').data, 1e-4, 'logits');
    assertClose(outputs[info.targetLayer].data as Float32Array, npy('target_activation').data, 1e-4, 'norm1');
    assertClose(gradients[info.targetLayer].data as Float32Array, npy('grad_target_activation').data, 1e-4, 'grad at norm1');
    assertClose(gradients.input.data as Float32Array, npy('grad_input').data, 1e-4, 'grad_input');
  });

  it("Grad-CAM at norm1 [1, 16, 16, 16] is read channels-last and equals pytorch-grad-cam's with the swin reshape_transform", async () => {
    const e = await explain('gradcam', ctx(info.targetLayer));
    assert.deepStrictEqual(e.raw.dims, [1, 16, 16]);
    assert.deepStrictEqual(e.map.dims, [64, 64]);
    assert.ok(e.notes[0].includes('read as channels-last [N, H, W, C] (the graph normalises or projects its last axis)'), e.notes[0]);
    assertClose(e.raw.data as Float32Array, npy('camraw_GradCAM').data, 1e-3, 'camraw_GradCAM');
  });

  it("Grad-CAM at the blocks' attention and MLP outputs (layout from the graph around them) equals pytorch-grad-cam's with the swin reshape_transform", async () => {
    // test/models/export_nd.py swin-inner: pytorch-grad-cam in float64 at [1, 16, 16, 16] layers
    // that fit the 64×64 input read channels-first too; before the layout followed the residual
    // sum they were refused as ambiguous.
    const inner = JSON.parse(fs.readFileSync(path.join(dir, 'swin_small_test.inner.json'), 'utf8')) as { layers: Record<string, string> };
    for (const [key, tensor] of Object.entries(inner.layers)) {
      const e = await explain('gradcam', ctx(tensor));
      assert.deepStrictEqual(e.raw.dims, [1, 16, 16], key);
      assert.ok(e.notes[0].includes('read as channels-last [N, H, W, C] (the graph normalises or projects its last axis)'), `${key}: ${e.notes[0]}`);
      assertClose(e.raw.data as Float32Array, npy(`${key}.camraw_GradCAM`).data, 1e-3, `${key} camraw_GradCAM`);
    }
  });

  it("Ablation-CAM and Score-CAM run at the channels-last layer; the auto layer is the head's permuted map", async function () {
    this.timeout(120000);
    for (const method of ['ablationcam', 'scorecam']) {
      const e = await explain(method, ctx(info.targetLayer));
      assert.deepStrictEqual(e.raw.dims, [1, 16, 16], method);
    }
    const auto = await explain('gradcam', ctx());
    assert.deepStrictEqual(auto.raw.dims, [1, 16, 16]);
    assert.match(auto.notes[0], /layer 'auto': .*\[1, 16, 16, 16\], the last spatial activation before GlobalAveragePool/);
  });
});
