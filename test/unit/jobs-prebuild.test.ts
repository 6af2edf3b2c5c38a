// Opening a model builds the Grad-CAM family's gradient session (as its gradient check; in the
// background once idle, for graphs too large for the open to), into the model cache folder
// ($CONVLENS_CACHE_DIR), so the first click finds it built; a worker let go right after the open
// still writes what it built there before it exits.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ComputeClient } from '../../src/compute/client';

const ROOT = path.resolve(__dirname, '../../..');
const WORKER = path.join(ROOT, 'out/src/compute/worker.js');
const MODEL = path.join(ROOT, 'sample/shapes.onnx');
const IMAGE = path.join(ROOT, 'sample/dataset/test/circle/0.png');

/** The entries in a model cache folder: their keys, from their headers, and inodes. */
function cachedEntries(dir: string): { key: string; ino: number }[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.clm'))
    .map((n) => {
      const file = path.join(dir, n);
      const bytes = fs.readFileSync(file);
      return { key: (JSON.parse(bytes.toString('utf8', 8, 8 + bytes.readUInt32LE(4))) as { key: string }).key, ino: fs.statSync(file).ino };
    });
}

describe('the first explanation built by the worker before the click', function () {
  let dir: string;
  let client: ComputeClient;
  const saved = process.env.CONVLENS_CACHE_DIR;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-prebuild-'));
    process.env.CONVLENS_CACHE_DIR = dir;
    client = new ComputeClient(WORKER);
  });
  after(async () => {
    await client.dispose();
    if (saved === undefined) delete process.env.CONVLENS_CACHE_DIR;
    else process.env.CONVLENS_CACHE_DIR = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('stores the gradient session at the default CAM layer for the top class after the open, and Grad-CAM then runs on it', async function () {
    this.timeout(120_000);
    const model = await client.call('openModel', { modelPath: MODEL, provider: 'cpu' });
    const layer = model.defaultCamLayer as string;
    const isPrebuilt = (key: string) => {
      const variant = (JSON.parse(key) as { variant?: string }).variant ?? '';
      return variant.startsWith('gradient|') && variant.includes(`|${layer}|`) && variant.endsWith('|top');
    };
    // Polled, not timed: the entry is written after the session is made, and the test waits for it.
    const prebuilt = () => cachedEntries(dir).find((e) => isPrebuilt(e.key));
    while (!prebuilt()) await new Promise((resolve) => setTimeout(resolve, 100));
    const built = prebuilt()?.ino;
    const imageId = (await client.call('loadImage', { modelPath: MODEL, imagePath: IMAGE })).id;
    const e = await client.call('explain', { modelPath: MODEL, imageId, method: 'gradcam', layer: 'auto', target: { kind: 'top' } });
    assert.strictEqual(e.map.values.length, 64 * 64);
    // A second build would have written its entry again (a new file renamed over the old one).
    assert.strictEqual(prebuilt()?.ino, built, 'the click used the session built in the background');
  });
});

describe('a worker let go right after opening a model', function () {
  const saved = process.env.CONVLENS_CACHE_DIR;
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-let-go-'));
    process.env.CONVLENS_CACHE_DIR = dir;
  });
  after(() => {
    if (saved === undefined) delete process.env.CONVLENS_CACHE_DIR;
    else process.env.CONVLENS_CACHE_DIR = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finishes writing the sessions it built to the cache folder before it exits, and the next worker opens them from there', async function () {
    this.timeout(120_000);
    const first = new ComputeClient(WORKER);
    await first.call('openModel', { modelPath: MODEL, provider: 'cpu' });
    // Disposed the moment the open returns: the built sessions' entries are written after they are made.
    await first.dispose();
    const sessions = () => cachedEntries(dir).filter((e) => (JSON.parse(e.key) as { variant?: string }).variant !== undefined);
    const written = sessions();
    assert.ok(
      written.some((e) => (JSON.parse(e.key) as { variant: string }).variant.startsWith('gradient|')),
      `the gradient session's entry is there: ${written.map((e) => e.key).join('; ')}`,
    );
    assert.deepStrictEqual(
      fs.readdirSync(dir).filter((n) => !n.endsWith('.clm')),
      [],
      'no unfinished write is left behind',
    );
    const second = new ComputeClient(WORKER);
    try {
      await second.call('openModel', { modelPath: MODEL, provider: 'cpu' });
      await second.dispose();
      // Read from the cache, not built and written again (a rewrite renames a new file over the old).
      assert.deepStrictEqual(
        sessions()
          .map((e) => e.ino)
          .sort(),
        written.map((e) => e.ino).sort(),
      );
    } finally {
      await second.dispose();
    }
  });
});
