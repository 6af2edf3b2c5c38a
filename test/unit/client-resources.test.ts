// What the worker holds and lets go: closing a model drops its images and kept explanations, and
// an idle worker process can be stopped (a busy one is not), the next call starting a fresh one.
import * as assert from 'assert';
import * as path from 'path';
import { ComputeClient } from '../../src/compute/client';
import { processAlive } from '../support/process';

const ROOT = path.resolve(__dirname, '../../..');
const WORKER = path.join(ROOT, 'out/src/compute/worker.js');
const MODEL = path.join(ROOT, 'sample/shapes.onnx');
const IMAGE = path.join(ROOT, 'sample/dataset/test/star/0.png');

describe('compute worker resources', function () {
  let client: ComputeClient;
  beforeEach(() => {
    client = new ComputeClient(WORKER);
  });
  afterEach(() => client.dispose());

  it('closing a model releases its images and kept explanations', async () => {
    await client.call('openModel', { modelPath: MODEL, provider: 'cpu' });
    const { id } = await client.call('loadImage', { modelPath: MODEL, imagePath: IMAGE });
    await client.call('explain', { modelPath: MODEL, imageId: id, method: 'gradcam', layer: 'auto', target: { kind: 'top' } });
    assert.deepStrictEqual(await client.call('status', {}), { models: [MODEL], images: 1, explanations: 1, datasets: 0 });
    await client.call('closeModel', { modelPath: MODEL });
    assert.deepStrictEqual(await client.call('status', {}), { models: [], images: 0, explanations: 0, datasets: 0 });
  });

  it('stops an idle worker process and starts a fresh one for the next call', async () => {
    await client.call('status', {});
    const pid = client.pid!;
    assert.ok(processAlive(pid));
    assert.strictEqual(await client.stopIfIdle(), true);
    assert.strictEqual(client.running, false);
    assert.strictEqual(processAlive(pid), false, `worker ${pid} has exited`);
    assert.strictEqual(await client.stopIfIdle(), false, 'nothing to stop');
    assert.deepStrictEqual((await client.call('status', {})).models, []);
    assert.ok(client.pid && client.pid !== pid);
  });

  it('keeps a worker that is running a job', async () => {
    const opening = client.call('openModel', { modelPath: MODEL, provider: 'cpu' });
    assert.strictEqual(await client.stopIfIdle(), false);
    assert.strictEqual((await opening).name, 'shapes.onnx');
    assert.strictEqual(client.running, true);
  });
});
