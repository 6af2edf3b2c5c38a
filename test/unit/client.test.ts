import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as path from 'path';
import { ComputeClient, WorkerCrashedError } from '../../src/compute/client';
import { CancelledError } from '../../src/core/cancel';
import { processAlive } from '../support/process';

const FAKE_WORKER = path.resolve(__dirname, '../../../test/fixtures/workers/fake-worker.js');
const REAL_WORKER = path.resolve(__dirname, '../../src/compute/worker.js');
const CLIENT_MODULE = path.resolve(__dirname, '../../src/compute/client.js');

describe('compute client (child process)', () => {
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
    const call = client.call(
      'openModel',
      { modelPath: 'slow', provider: 'cpu' },
      {
        signal: controller.signal,
        onProgress: (_f, message) => {
          seen.push(message);
          if (seen.length === 3) controller.abort();
        },
      },
    );
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

  it('contains a native crash (SIGSEGV) of the worker: the host lives, the call says why, the next call works', async () => {
    await client.call('openModel', { modelPath: 'warm', provider: 'cpu' });
    const crashedPid = client.pid;
    await assert.rejects(client.call('openModel', { modelPath: 'segfault', provider: 'cpu' }), (err: Error) => {
      assert.ok(err instanceof WorkerCrashedError);
      assert.match(err.message, /stopped unexpectedly \(signal SIGSEGV\).*restarted/);
      return true;
    });
    assert.strictEqual(client.pendingCount, 0);
    assert.deepStrictEqual(await client.call('openModel', { modelPath: 'after', provider: 'cpu' }), { echo: 'after' });
    assert.notStrictEqual(client.pid, crashedPid);
  });

  it('fails every pending call of a crashed worker, not only the one that crashed it', async () => {
    const slow = client.call('openModel', { modelPath: 'slow', provider: 'cpu' });
    const crash = client.call('openModel', { modelPath: 'segfault', provider: 'cpu' });
    await assert.rejects(slow, WorkerCrashedError);
    await assert.rejects(crash, WorkerCrashedError);
    assert.strictEqual(client.pendingCount, 0);
  });

  it('kills a worker whose cancelled job does not stop (stuck in a native call), failing its calls clearly, then restarts', async () => {
    const quick = new ComputeClient(FAKE_WORKER, { cancelGraceMs: 300 });
    try {
      const controller = new AbortController();
      const other = quick.call('openModel', { modelPath: 'slow', provider: 'cpu' });
      const stuck = quick.call('openModel', { modelPath: 'stuck', provider: 'cpu' }, { signal: controller.signal, onProgress: () => controller.abort() });
      const pid = quick.pid!;
      await assert.rejects(stuck, (err: Error) => {
        assert.ok(err instanceof WorkerCrashedError);
        assert.strictEqual(err.message, 'a cancelled openModel job did not stop within 0.3 s, so the compute worker was stopped; it will be restarted for the next request');
        return true;
      });
      await assert.rejects(other, WorkerCrashedError, 'the job running beside it fails too');
      assert.strictEqual(processAlive(pid), false);
      assert.deepStrictEqual(await quick.call('openModel', { modelPath: 'after', provider: 'cpu' }), { echo: 'after' });
    } finally {
      await quick.dispose();
    }
  });

  it('keeps a worker whose cancelled job stops within the grace period', async () => {
    const quick = new ComputeClient(FAKE_WORKER, { cancelGraceMs: 300 });
    try {
      const controller = new AbortController();
      await assert.rejects(quick.call('openModel', { modelPath: 'slow', provider: 'cpu' }, { signal: controller.signal, onProgress: () => controller.abort() }), CancelledError);
      const pid = quick.pid;
      await new Promise((r) => setTimeout(r, 500));
      assert.strictEqual(quick.pid, pid);
      assert.deepStrictEqual(await quick.call('openModel', { modelPath: 'same', provider: 'cpu' }), { echo: 'same' });
    } finally {
      await quick.dispose();
    }
  });

  it('tells listeners when a worker dies by itself, even while idle, but not when it is stopped', async () => {
    const exits: string[] = [];
    const stopListening = client.onUnexpectedExit((reason) => exits.push(reason));
    await client.call('openModel', { modelPath: 'warm', provider: 'cpu' });
    process.kill(client.pid!, 'SIGKILL'); // e.g. the kernel's out-of-memory killer, between jobs
    await waitUntil(() => exits.length > 0);
    assert.deepStrictEqual(exits, ['the compute worker stopped unexpectedly (signal SIGKILL)']);
    await client.call('openModel', { modelPath: 'again', provider: 'cpu' });
    assert.strictEqual(await client.stopIfIdle(), true);
    await client.call('openModel', { modelPath: 'once more', provider: 'cpu' });
    await client.dispose();
    stopListening();
    assert.strictEqual(exits.length, 1, 'stopIfIdle() and dispose() are not unexpected');
  });

  it('carries typed arrays across the process boundary', async () => {
    const result = (await client.call('openModel', { modelPath: 'bytes', provider: 'cpu' })) as unknown as { bytes: Uint8Array };
    assert.ok(result.bytes instanceof Uint8Array);
    assert.deepStrictEqual([...result.bytes], [1, 2, 255]);
  });

  it('stops the child on dispose', async () => {
    await client.call('openModel', { modelPath: 'x', provider: 'cpu' });
    const pid = client.pid!;
    await client.dispose();
    assert.strictEqual(client.running, false);
    assert.throws(() => process.kill(pid, 0), /ESRCH/);
  });

  it('the real worker exits when its parent goes away, leaving no orphan', async () => {
    // A parent that starts the worker, prints its pid and exits without disposing of it.
    const parent = `const { ComputeClient } = require(${JSON.stringify(CLIENT_MODULE)});
      const c = new ComputeClient(${JSON.stringify(REAL_WORKER)});
      c.call('methods', {}).then(() => { console.log(c.pid); process.exit(0); });`;
    const pid = Number(execFileSync(process.execPath, ['-e', parent], { encoding: 'utf8' }).trim());
    assert.ok(pid > 0);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && processAlive(pid)) await new Promise((r) => setTimeout(r, 50));
    assert.strictEqual(processAlive(pid), false, `worker ${pid} still runs after its parent exited`);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
