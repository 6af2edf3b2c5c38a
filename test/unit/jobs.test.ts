import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { parseNpy } from '../../src/core/npy';
import { ComputeClient } from '../../src/compute/client';
import { CancelledError } from '../../src/core/cancel';

const ROOT = path.resolve(__dirname, '../../..');
const WORKER = path.join(ROOT, 'out/src/compute/worker.js');
const MODEL = path.join(ROOT, 'sample/shapes.onnx');
const IMAGE = path.join(ROOT, 'sample/dataset/test/circle/0.png');

describe('compute worker jobs on the sample model', function () {
  let client: ComputeClient;
  let imageId: string;
  before(async () => {
    client = new ComputeClient(WORKER);
    const model = await client.call('openModel', { modelPath: MODEL, provider: 'cpu' });
    assert.strictEqual(model.name, 'shapes.onnx');
    assert.strictEqual(model.provider.name, 'cpu');
    assert.strictEqual(model.defaultCamLayer, '/block4/relu/Relu_output_0');
    assert.strictEqual(model.gradientProblem, undefined);
    assert.match(model.preprocessing.source, /sidecar/);
    imageId = (await client.call('loadImage', { modelPath: MODEL, imagePath: IMAGE })).id;
  });
  after(() => client.dispose());

  it('predicts the circle with labels from the sidecar', async () => {
    const top = await client.call('predict', { modelPath: MODEL, imageId, topK: 2 });
    assert.strictEqual(top[0].label, 'circle');
    assert.ok(top[0].probability > top[1].probability);
  });

  it('explains with Grad-CAM and its faithfulness scores, and exports PNG and .npy', async () => {
    const e = await client.call('explain', { modelPath: MODEL, imageId, method: 'gradcam', layer: 'auto', target: { kind: 'top' }, faithfulness: true });
    assert.strictEqual(e.map.width, 64);
    assert.strictEqual(e.map.values.length, 64 * 64);
    assert.ok(Math.max(...e.map.values) === 1 && Math.min(...e.map.values) === 0);
    assert.ok(e.faithfulness && e.faithfulness.insertionAuc > e.faithfulness.deletionAuc);
    const png = await client.call('exportExplanation', { explanationId: e.id, format: 'png', colormap: 'viridis', opacity: 0.5 });
    assert.deepStrictEqual(Array.from(png.bytes.subarray(1, 4)), [0x50, 0x4e, 0x47]);
    const npy = parseNpy((await client.call('exportExplanation', { explanationId: e.id, format: 'npy', colormap: 'viridis', opacity: 0.5 })).bytes);
    assert.deepStrictEqual(npy.dims, [1, 8, 8]);
  });

  it('shows every channel of a layer with statistics and Grad-CAM weights', async () => {
    const view = await client.call('activations', { modelPath: MODEL, imageId, layer: '/block4/relu/Relu_output_0', target: { kind: 'top' } });
    assert.strictEqual(view.channels.length, 64);
    assert.ok(view.channels.every((c) => typeof c.gradcamWeight === 'number' && c.map.values.length === 64));
  });

  it('cancels a long run promptly and keeps working afterwards', async () => {
    const controller = new AbortController();
    let reports = 0;
    const run = client.call(
      'explain',
      {
        modelPath: MODEL,
        imageId,
        method: 'rise',
        layer: '',
        target: { kind: 'top' },
        options: { masks: 4000, batch: 16 },
      },
      { signal: controller.signal, onProgress: () => ++reports === 2 && controller.abort() },
    );
    await assert.rejects(run, CancelledError);
    assert.strictEqual(client.pendingCount, 0);
    const top = await client.call('predict', { modelPath: MODEL, imageId, topK: 1 });
    assert.strictEqual(top[0].label, 'circle');
  });

  it('reports a corrupt model as one clear sentence', async () => {
    const bad = path.join(ROOT, 'out/corrupt.onnx');
    fs.writeFileSync(bad, Buffer.from('this is not a protobuf model at all'));
    await assert.rejects(client.call('openModel', { modelPath: bad, provider: 'cpu' }), /corrupt\.onnx: not a valid ONNX model/);
  });
});
