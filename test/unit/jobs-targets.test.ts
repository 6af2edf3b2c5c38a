// The worker's explain job with the targets beyond a class (src/compute/job-runner.ts): a
// probability, a reference image's embedding by its id, an output element; a region target on a
// classifier's output refused in a sentence.
import * as assert from 'assert';
import * as path from 'path';
import { TargetSpec } from '../../src/protocol';
import { ComputeClient } from '../../src/compute/client';

const ROOT = path.resolve(__dirname, '../../..');
const WORKER = path.join(ROOT, 'out/src/compute/worker.js');
const MODEL = path.join(ROOT, 'sample/shapes.onnx');

describe('compute worker: explanation targets', function () {
  let client: ComputeClient;
  let circle: string;
  let square: string;
  before(async () => {
    client = new ComputeClient(WORKER);
    await client.call('openModel', { modelPath: MODEL, provider: 'cpu' });
    circle = (await client.call('loadImage', { modelPath: MODEL, imagePath: path.join(ROOT, 'sample/dataset/test/circle/0.png') })).id;
    square = (await client.call('loadImage', { modelPath: MODEL, imagePath: path.join(ROOT, 'sample/images/square.png') })).id;
  });
  after(() => client.dispose());

  const explain = (target: TargetSpec, method = 'gradcam') => client.call('explain', { modelPath: MODEL, imageId: circle, method, layer: 'auto', target });

  it('explains a probability, a similarity to another image and an output element, and names each', async () => {
    const probability = await explain({ kind: 'probability', index: 'top' });
    assert.match(probability.targetLabel, /^softmax probability of class \d$/);
    assert.deepStrictEqual(probability.target, { kind: 'probability', index: 'top' });
    const similarity = await explain({ kind: 'similarity', imageId: square }, 'saliency');
    assert.strictEqual(similarity.targetLabel, 'cosine similarity to the reference embedding');
    assert.strictEqual(similarity.map.values.length, similarity.map.width * similarity.map.height);
    const element = await explain({ kind: 'element', index: [2], output: 'logits' }, 'occlusion');
    assert.strictEqual(element.targetLabel, 'element [2]');
  });

  it('refuses a region target on a classifier output in one sentence', async () => {
    await assert.rejects(
      explain({ kind: 'region', class: 0, mask: 'predicted' }),
      /^ExplainError: a region target needs an output \[N, classes, H, W\]; output '\w+' is \[1, 4\]$/,
    );
  });
});
