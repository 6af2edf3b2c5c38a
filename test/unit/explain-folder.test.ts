// `convlens explain MODEL FOLDER|GLOB --out-dir D`: one file per image, shards that add up, a
// rerun that resumes (skips what is written), and files equal to the single-image command's.
import * as assert from 'assert';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';

const ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(ROOT, 'bin/convlens.js');
const MODEL = path.join(ROOT, 'sample/shapes.onnx');
const GLOB = path.join(ROOT, 'sample/dataset/test/c*/1?.png');
const run = promisify(execFile);

interface FolderSummary {
  images: number;
  written: number;
  alreadyThere: number;
  failed: unknown[];
}

async function convlens(args: string[]): Promise<string> {
  return (await run(process.execPath, [CLI, ...args], { env: { ...process.env, SLURM_ARRAY_TASK_ID: '', JOB_COMPLETION_INDEX: '' } })).stdout;
}

describe('explain on a folder', () => {
  it('writes one map per image, by shard, resumes without redoing, and matches the single-image command', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-explain-folder-'));
    try {
      const base = ['explain', MODEL, GLOB, '--method', 'gradcam', '--out-dir', out, '--format', 'npy', '--json'];
      const first = JSON.parse(await convlens([...base, '--shard', '0/2'])) as FolderSummary;
      // The glob takes circle/10.png … circle/19.png: 10 images.
      assert.strictEqual(first.images + (JSON.parse(await convlens([...base, '--shard', '1/2', '--out-dir', path.join(out, 'other')])) as FolderSummary).images, 10);
      const rest = JSON.parse(await convlens(base)) as FolderSummary;
      assert.deepStrictEqual(rest, { ...rest, images: 10, written: 10 - first.written, alreadyThere: first.written, failed: [] });
      const files = (fs.readdirSync(path.join(out, 'circle')) as string[]).sort();
      assert.deepStrictEqual(
        files,
        Array.from({ length: 10 }, (_, i) => `1${i}.npy`),
      );
      const single = path.join(out, 'single.npy');
      await convlens(['explain', MODEL, path.join(ROOT, 'sample/dataset/test/circle/13.png'), '--method', 'gradcam', '--out', single]);
      assert.ok(fs.readFileSync(single).equals(fs.readFileSync(path.join(out, 'circle', '13.npy'))));
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
