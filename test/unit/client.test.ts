import * as assert from 'assert';
import * as path from 'path';
import { ComputeClient, WorkerCrashedError } from '../../src/core/runtime/client';
import { CancelledError } from '../../src/core/runtime/jobs';

const FAKE_WORKER = path.resolve(__dirname, '../../../test/fixtures/workers/fake-worker.js');

describe('compute client (worker thread)', () => {
  let client: ComputeClient;
  beforeEach(() => {
    client = new ComputeClient(FAKE_WORKER);
  });
  afterEach(() => client.dispose());

  it('returns a job result from the worker', async () => {
    const result = await client.call('openModel', { modelPath: 'm.onnx', provider: 'cpu' });
    assert.deepStrictEqual(result, { echo: 'm.onnx' });
  });

  it('reports progress and stops a cancelled job, leaving nothing pending', async () => {
    const controller = new AbortController();
    const seen: string[] = [];
    const call = client.call('openModel', { modelPath: 'slow', provider: 'cpu' }, {
      signal: controller.signal,
      onProgress: (_f, message) => {
        seen.push(message);
        if (seen.length === 3) controller.abort();
      },
    });
    await assert.rejects(call, CancelledError);
    assert.ok(seen.length >= 3);
    assert.strictEqual(client.pendingCount, 0);
  });

  it('fails pending jobs clearly when the worker dies, and restarts it for the next call', async () => {
    await assert.rejects(client.call('openModel', { modelPath: 'crash', provider: 'cpu' }), (err: Error) => {
      assert.ok(err instanceof WorkerCrashedError);
      assert.match(err.message, /stopped unexpectedly \(exit code 3\).*restarted/);
      return true;
    });
    assert.deepStrictEqual(await client.call('openModel', { modelPath: 'again', provider: 'cpu' }), { echo: 'again' });
  });
});
