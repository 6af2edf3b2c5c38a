// The execution provider 'auto' picks: CUDA where its provider library is installed beside
// onnxruntime-node's binding, else the CPU at once, saying why, so that even the first session of
// a process is known to run on the CPU (and may come from the disk cache of optimised CPU models).
// Sessions run each op with every core unless told otherwise, in the core, the CLI and the worker.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ComputeClient } from '../../src/compute/client';
import { ConvModel } from '../../src/core/model';
import { createSession, cudaLibraryPath, defaultThreads, knownProvider } from '../../src/core/onnx/session';

const ROOT = path.resolve(__dirname, '../../..');
const MODEL = path.join(ROOT, 'sample/shapes.onnx');
const WORKER = path.join(ROOT, 'out/src/compute/worker.js');

describe("the 'auto' execution provider", () => {
  it('finds where onnxruntime-node keeps the CUDA provider library', () => {
    const library = cudaLibraryPath();
    assert.ok(library, 'the binding folder of onnxruntime-node is found');
    assert.ok(fs.existsSync(path.dirname(library)), library);
    assert.match(path.basename(library), /onnxruntime_providers_cuda\.(so|dll)$/);
  });

  it('goes to the CPU without trying CUDA when its library is not installed, and says so', async function () {
    const library = cudaLibraryPath();
    if (!library || fs.existsSync(library)) this.skip(); // a machine with the CUDA provider installed tries it
    assert.strictEqual(knownProvider('auto'), 'cpu', 'known before any session is made');
    const s = await createSession(fs.readFileSync(MODEL), 'auto');
    try {
      assert.strictEqual(s.provider, 'cpu');
      assert.match(s.reason, /CUDA unavailable, using the CPU: the CUDA provider libraries of onnxruntime-node are not installed$/);
    } finally {
      await s.session.release();
    }
  });

  it('still tries CUDA when it is asked for by name, and says why it cannot load', async function () {
    const library = cudaLibraryPath();
    if (!library || fs.existsSync(library)) this.skip();
    await assert.rejects(createSession(fs.readFileSync(MODEL), 'cuda'), /the CUDA execution provider could not be loaded/);
  });
});

describe('threads per op', () => {
  /** Threads of this process (Linux: its tasks). */
  const processThreads = () => fs.readdirSync('/proc/self/task').length;

  it('default to every core the process may use', async () => {
    assert.strictEqual(defaultThreads(), os.availableParallelism());
    const s = await createSession(fs.readFileSync(MODEL), 'cpu');
    try {
      assert.strictEqual(s.threads, os.availableParallelism());
    } finally {
      await s.session.release();
    }
  });

  it('reach onnxruntime: a session of N threads starts N - 1 pool threads beside the caller', async function () {
    if (!fs.existsSync('/proc/self/task')) this.skip(); // counted from Linux's per-thread folders
    const bytes = fs.readFileSync(MODEL);
    // onnxruntime's process-wide threads start with its first session: counted apart.
    await (await createSession(bytes, 'cpu', { threads: 1 })).session.release();
    for (const threads of [1, 3, 4]) {
      const before = processThreads();
      const s = await createSession(bytes, 'cpu', { threads });
      try {
        assert.strictEqual(processThreads() - before, threads - 1, `${threads} threads`);
        assert.strictEqual(s.threads, threads);
      } finally {
        await s.session.release();
      }
    }
  });

  it('are what a model is opened with, for every session built from it', async () => {
    const model = ConvModel.load(MODEL, { provider: 'cpu', threads: 3 });
    try {
      assert.strictEqual(model.threads, 3);
      assert.strictEqual((await model.baseSession()).threads, 3);
    } finally {
      await model.dispose();
    }
    const everyCore = ConvModel.load(MODEL, { provider: 'cpu', threads: 0 });
    assert.strictEqual(everyCore.threads, os.availableParallelism(), '0 means every core');
    await everyCore.dispose();
  });

  it("are the CLI's --threads, reported by inspect; a bad count is refused", () => {
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [path.join(ROOT, 'out/src/cli/main.js'), ...args], { encoding: 'utf8', env: { ...process.env, CONVLENS_CACHE_DIR: 'off' } });
    const inspected = cli('inspect', MODEL, '--json', '--provider', 'cpu', '--threads', '3');
    assert.strictEqual(inspected.status, 0, inspected.stderr);
    assert.deepStrictEqual(JSON.parse(inspected.stdout).provider, { name: 'cpu', reason: 'the CPU was chosen in settings', threads: 3 });
    const everyCore = cli('inspect', MODEL, '--json', '--provider', 'cpu');
    assert.strictEqual(JSON.parse(everyCore.stdout).provider.threads, os.availableParallelism());
    for (const bad of ['-1', '1.5', 'many']) {
      const refused = cli('predict', MODEL, path.join(ROOT, 'sample/images/circle.png'), `--threads=${bad}`);
      assert.notStrictEqual(refused.status, 0, refused.stderr);
      assert.match(refused.stderr, new RegExp(`--threads takes a whole number of threads from 0 \\(every core\\) to 1024, got '${bad.replace('.', '\\.')}'`));
    }
  });

  it("are the compute worker's openModel threads, shown in the model's view", async function () {
    this.timeout(60_000);
    const client = new ComputeClient(WORKER);
    try {
      const view = await client.call('openModel', { modelPath: MODEL, provider: 'cpu', threads: 1 });
      assert.strictEqual(view.provider.threads, 1);
      const everyCore = await client.call('openModel', { modelPath: MODEL, provider: 'cpu' });
      assert.strictEqual(everyCore.provider.threads, os.availableParallelism());
    } finally {
      client.dispose();
    }
  });
});
