// The 'auto' CAM layer of a dense output (src/core/explain/layer.ts denseAutoLayer): a segmentation
// model has no pooling before its output, so walking back along first inputs ended in whatever
// pooling lay on that path: a squeeze-and-excitation's (torchvision's DeepLabV3 and LR-ASPP on
// MobileNetV3 chose an SE block's input deep in the backbone) or an encoder's MaxPool (the sample
// U-Net chose enc3, not its bottleneck). Found by test/models/check_other_models.py (issue #13).
import * as assert from 'assert';
import * as path from 'path';
import { explain } from '../../../src/core/explain';
import { resolveLayer } from '../../../src/core/explain/layer';
import { ConvModel } from '../../../src/core/model';
import { float32 } from '../../../src/core/tensor';
import { buildModel, ints, node, randomTensor } from './tiny-models';

/**
 * input [1, 3, 16, 16] → Conv 3×3 stride 2 → Relu ('feat' [1, 8, 8, 8]) → squeeze-and-excitation
 * (GlobalAveragePool → 1×1 Conv → Sigmoid: 'scale' [1, 8, 1, 1]; 'excited' = scale · feat, the scale
 * first as torchvision writes it) → 1×1 Conv to 4 class maps → Resize ×2 → logits [1, 4, 16, 16].
 */
function denseWithExcitation(): ConvModel {
  return buildModel({
    nodes: [
      node('Conv', ['input', 'w1', 'b1'], ['conv1'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), ints('strides', [2, 2])]),
      node('Relu', ['conv1'], ['feat']),
      node('GlobalAveragePool', ['feat'], ['squeezed']),
      node('Conv', ['squeezed', 'wse', 'bse'], ['se'], [ints('kernel_shape', [1, 1])]),
      node('Sigmoid', ['se'], ['scale']),
      node('Mul', ['scale', 'feat'], ['excited']),
      node('Conv', ['excited', 'wc', 'bc'], ['classes'], [ints('kernel_shape', [1, 1])]),
      node('Resize', ['classes', '', 'scales'], ['logits']),
    ],
    initializers: {
      w1: randomTensor([8, 3, 3, 3], 1, 0.5),
      b1: randomTensor([8], 2, 0.1),
      wse: randomTensor([8, 8, 1, 1], 3, 0.5),
      bse: randomTensor([8], 4, 0.1),
      wc: randomTensor([4, 8, 1, 1], 5, 1),
      bc: randomTensor([4], 6, 0.1),
      scales: float32([4], Float32Array.from([1, 1, 2, 2])),
    },
    input: [1, 3, 16, 16],
    output: [1, 4, 16, 16],
  });
}

describe("explain: the 'auto' layer of a dense (segmentation) output", () => {
  it("is the class-map convolution's input at the coarsest resolution, not the squeeze-and-excitation's pooled input", async () => {
    const model = denseWithExcitation();
    try {
      const choice = await resolveLayer(model, 'auto', 'logits');
      assert.strictEqual(choice.tensor, 'excited');
      assert.deepStrictEqual(choice.dims, [1, 8, 8, 8]);
      assert.match(choice.note, /the input of the 1×1 convolution 'classes' that makes the class maps, the last activation at the coarsest resolution \(8×8\)/);
      const input = randomTensor([1, 3, 16, 16], 7);
      const e = await explain('gradcam', { model, input, target: { kind: 'region', class: 2, mask: 'predicted' } });
      assert.strictEqual(e.layer, 'excited');
      assert.deepStrictEqual(e.raw.dims, [1, 8, 8]);
    } finally {
      await model.dispose();
    }
  });

  it('the sample U-Net (sample/shapes-seg.onnx): its bottleneck, the one 8×8 map', async () => {
    const model = ConvModel.load(path.resolve(__dirname, '../../../../sample/shapes-seg.onnx'), { provider: 'cpu' });
    try {
      const choice = await resolveLayer(model, 'auto', model.summary().outputs[0].name);
      assert.strictEqual(choice.tensor, '/bottleneck/relu/Relu_output_0');
      assert.deepStrictEqual(choice.dims, [1, 48, 8, 8]);
    } finally {
      await model.dispose();
    }
  });

  it('a classifier keeps the activation before its global pooling', async () => {
    const model = buildModel({
      nodes: [
        node('Conv', ['input', 'w1'], ['features'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]),
        node('GlobalAveragePool', ['features'], ['pooled']),
        node('Flatten', ['pooled'], ['flat']),
        node('Gemm', ['flat', 'fc'], ['logits'], []),
      ],
      initializers: { w1: randomTensor([6, 3, 3, 3], 1), fc: randomTensor([6, 4], 2) },
      input: [1, 3, 8, 8],
      output: [1, 4],
    });
    try {
      const choice = await resolveLayer(model, 'auto', 'logits');
      assert.strictEqual(choice.tensor, 'features');
      assert.match(choice.note, /the last spatial activation before GlobalAveragePool/);
    } finally {
      await model.dispose();
    }
  });
});
