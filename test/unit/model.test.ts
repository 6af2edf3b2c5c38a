import * as assert from 'assert';
import { assertClose, describeReference, loadTensor, referenceModels } from '../support/reference';

describeReference('model core on the reference models', (manifest) => {
  const modelFor = referenceModels();

  for (const c of manifest.cases) {
    it(`${c.model}/${c.image}: logits and target activation match PyTorch within 1e-3 relative`, async () => {
      const model = modelFor(c);
      const out = await model.run({ input: loadTensor(c, 'input') }, [c.target_layer_tensor]);
      assertClose(out.logits.data as Float32Array, loadTensor(c, 'logits').data, 1e-3, 'logits');
      assert.deepStrictEqual(out[c.target_layer_tensor].dims, c.tensors.target_activation);
      assertClose(out[c.target_layer_tensor].data as Float32Array, loadTensor(c, 'target_activation').data, 1e-3, 'target activation');
    });
  }

  it('summarises resnet18: inputs, opset, parameters, ops, layers with probed shapes', async () => {
    const model = modelFor(manifest.cases[0]);
    const s = model.summary();
    assert.deepStrictEqual(s.inputs, [{ name: 'input', dtype: 'float32', shape: [1, 3, 224, 224] }]);
    assert.strictEqual(s.opset, 13);
    assert.strictEqual(s.parameterCount, 11_689_512 - 9_600 + 4_800 /* BatchNorm folded into conv weights and biases */);
    assert.ok(s.opHistogram.Conv >= 20);
    const layers = await model.layers();
    const last = layers.find((l) => l.name === '/layer4/layer4.1/relu_1/Relu');
    assert.deepStrictEqual(last?.outputs[0].shape, [1, 512, 7, 7]);
    assert.strictEqual(last?.scope, 'layer4.1.relu_1');
  });
});
