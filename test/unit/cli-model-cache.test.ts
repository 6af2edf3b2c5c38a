// The CLI keeps what it builds for a model (gradient models, probed shapes, sessions) in the model
// cache folder, as the compute worker does: a second run loads every entry instead of building it
// again, and --no-cache neither reads nor writes the folder. A session made for a single run (one
// Grad-CAM) is not kept. Builds are counted from the entries (a build writes its entry again: a new
// file renamed over the old one), never timed.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(ROOT, 'out/src/cli/main.js');
const MODEL = path.join(ROOT, 'sample/shapes.onnx');
const IMAGE = path.join(ROOT, 'sample/images/circle.png');

/** The entries of a model cache folder: file name → inode and the variant its header's key names. */
function entries(dir: string): Map<string, { ino: number; key: Record<string, string> }> {
  const out = new Map<string, { ino: number; key: Record<string, string> }>();
  if (!fs.existsSync(dir)) return out;
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.clm'))) {
    const file = path.join(dir, name);
    const bytes = fs.readFileSync(file);
    const header = JSON.parse(bytes.toString('utf8', 8, 8 + bytes.readUInt32LE(4))) as { key: string };
    out.set(name, { ino: fs.statSync(file).ino, key: JSON.parse(header.key) as Record<string, string> });
  }
  return out;
}

/** `convlens explain --json` (Integrated Gradients, unless `extra` names a method) with the map written to `out` (.npy) when given. */
function explainJson(cacheDir: string, ...extra: string[]): Record<string, unknown> {
  const method = extra.includes('--method') ? [] : ['--method', 'integrated-gradients', '--steps', '4'];
  const run = spawnSync(process.execPath, [CLI, 'explain', MODEL, IMAGE, ...method, '--provider', 'cpu', '--json', ...extra], {
    encoding: 'utf8',
    env: { ...process.env, CONVLENS_CACHE_DIR: cacheDir },
  });
  assert.strictEqual(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

describe('CLI model cache', function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-cli-cache-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a second run reuses every entry the first one built, and gives the same map', () => {
    const maps = path.join(dir, 'maps');
    fs.mkdirSync(maps);
    const first = explainJson(dir, '--out', path.join(maps, 'first.npy'));
    const built = entries(dir);
    assert.ok(
      [...built.values()].some((e) => e.key.variant?.startsWith('gradient|')),
      `the first run stored its gradient session: ${[...built.values()].map((e) => JSON.stringify(e.key)).join('; ')}`,
    );
    assert.ok(
      [...built.values()].some((e) => e.key.probe === 'shapes+batch+freed/2'),
      'and the probed shapes',
    );
    const second = explainJson(dir, '--out', path.join(maps, 'second.npy'));
    const reread = entries(dir);
    assert.deepStrictEqual([...reread.keys()].sort(), [...built.keys()].sort(), 'no new entry');
    for (const [name, e] of built) assert.strictEqual(reread.get(name)?.ino, e.ino, `${JSON.stringify(e.key)} was not built again`);
    assert.deepStrictEqual(second.notes, first.notes);
    // onnxruntime's saved optimised model gives bit-identical outputs (README, "The first click").
    assert.ok(fs.readFileSync(path.join(maps, 'second.npy')).equals(fs.readFileSync(path.join(maps, 'first.npy'))), 'the same map, bit for bit');
  });

  it("one Grad-CAM keeps the probed shapes but not its gradient session, made for that run; the next run's map is the same", () => {
    const maps = path.join(dir, 'maps');
    fs.mkdirSync(maps);
    explainJson(dir, '--method', 'gradcam', '--out', path.join(maps, 'first.npy'));
    const built = [...entries(dir).values()];
    assert.deepStrictEqual(
      built.map((e) => e.key.variant ?? e.key.probe),
      ['shapes+batch+freed/2'],
    );
    explainJson(dir, '--method', 'gradcam', '--out', path.join(maps, 'second.npy'));
    assert.strictEqual(entries(dir).size, 1, 'nothing new');
    assert.ok(fs.readFileSync(path.join(maps, 'second.npy')).equals(fs.readFileSync(path.join(maps, 'first.npy'))), 'the same map, bit for bit');
  });

  it('--no-cache neither writes nor reads the folder', () => {
    explainJson(dir, '--no-cache');
    assert.strictEqual(entries(dir).size, 0, 'nothing written');
    explainJson(dir);
    const built = entries(dir);
    // A corrupt entry would be deleted when read (cache.ts validates every read): --no-cache leaves it.
    const [name] = [...built.keys()];
    fs.writeFileSync(path.join(dir, name), 'not an entry');
    explainJson(dir, '--no-cache');
    assert.strictEqual(fs.readFileSync(path.join(dir, name), 'utf8'), 'not an entry', 'the folder was not read');
    explainJson(dir);
    assert.notStrictEqual(fs.readFileSync(path.join(dir, name)).toString('latin1', 0, 4), 'not ', 'without --no-cache the bad entry is replaced');
  });
});
