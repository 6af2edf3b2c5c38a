// The execution provider 'auto' picks: CUDA where its provider library is installed beside
// onnxruntime-node's binding, else the CPU at once, saying why, so that even the first session of
// a process is known to run on the CPU (and may come from the disk cache of optimised CPU models).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { createSession, cudaLibraryPath, knownProvider } from '../../src/core/onnx/session';

const MODEL = path.resolve(__dirname, '../../../sample/shapes.onnx');

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
