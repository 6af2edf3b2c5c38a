// Sharded dataset runs: the split, the scheduler variables, and four CLI processes filling one
// cache folder in parallel whose merge equals a single-process run bit for bit.
import * as assert from 'assert';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { mergeShardedCache } from '../../src/core/dataset/cache';
import { extractFeatures } from '../../src/core/dataset/features';
import { listDataset } from '../../src/core/dataset/folder';
import { parseShard, shardFromEnvironment, shardOfPath } from '../../src/core/dataset/shard';
import { ConvModel } from '../../src/core/model';

const ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(ROOT, 'bin/convlens.js');
const MODEL = path.join(ROOT, 'sample/shapes.onnx');
const FOLDER = path.join(ROOT, 'sample/dataset-shortcut');
const LAYER = '/block4/relu/Relu_output_0';
const run = promisify(execFile);

/** The environment without any scheduler variable of the machine running the tests. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['SLURM_ARRAY_TASK_ID', 'SLURM_ARRAY_TASK_COUNT', 'SLURM_ARRAY_TASK_MIN', 'JOB_COMPLETION_INDEX', 'CONVLENS_SHARD_COUNT']) delete env[name];
  return { ...env, ...extra };
}

function bytesOf(a: Float32Array | Int32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

describe('dataset shards', () => {
  it('parses I/N and refuses what is not a shard of N', () => {
    assert.deepStrictEqual(parseShard('2/4'), { index: 2, count: 4 });
    assert.throws(() => parseShard('4/4'), /between 0 and 3/);
    assert.throws(() => parseShard('1/0'), /≥ 1/);
    assert.throws(() => parseShard('two'), /--shard takes I\/N/);
  });

  it('reads the shard from Slurm array and Kubernetes Indexed Job variables', () => {
    assert.strictEqual(shardFromEnvironment({}), undefined);
    assert.deepStrictEqual(shardFromEnvironment({ SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '8' }), { index: 3, count: 8 });
    // A one-based array (--array=1-8): task 8 is the last shard.
    assert.deepStrictEqual(shardFromEnvironment({ SLURM_ARRAY_TASK_ID: '8', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '8' }), { index: 7, count: 8 });
    assert.throws(() => shardFromEnvironment({ SLURM_ARRAY_TASK_ID: '9', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '8' }), /between 0 and 7/);
    assert.deepStrictEqual(shardFromEnvironment({ JOB_COMPLETION_INDEX: '2', CONVLENS_SHARD_COUNT: '5' }), { index: 2, count: 5 });
    assert.deepStrictEqual(shardFromEnvironment({ JOB_COMPLETION_INDEX: '2' }, 3), { index: 2, count: 3 });
    assert.throws(() => shardFromEnvironment({ JOB_COMPLETION_INDEX: '2' }), /--shard-count N or CONVLENS_SHARD_COUNT/);
  });

  it('splits by relative path alone: every image in exactly one shard, whatever the listing order', () => {
    const paths = listDataset(FOLDER).images.map((im) => im.relPath);
    const forward = paths.map((p) => shardOfPath(p, 4));
    const backward = [...paths]
      .reverse()
      .map((p) => shardOfPath(p, 4))
      .reverse();
    assert.deepStrictEqual(forward, backward);
    const sizes = [0, 1, 2, 3].map((s) => forward.filter((x) => x === s).length);
    assert.strictEqual(
      sizes.reduce((a, b) => a + b, 0),
      paths.length,
    );
    // 240 images hashed into 4 shards: none is empty or holds more than half.
    for (const size of sizes) assert.ok(size > 0 && size < paths.length / 2, `shard sizes ${sizes.join(', ')}`);
  });

  it('four shard processes fill one cache; after the merge it equals a single-process run bit for bit and runs no model', async () => {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-shards-'));
    try {
      const base = ['dataset', MODEL, FOLDER, '--layer', LAYER, '--cache', cache, '--json'];
      // Shards 0 and 1 from the flag, 2 from a Kubernetes completion index, 3 from a one-based Slurm array.
      const shards = await Promise.all([
        run(process.execPath, [CLI, ...base, '--shard', '0/4'], { env: cleanEnv() }),
        run(process.execPath, [CLI, ...base, '--shard', '1/4'], { env: cleanEnv() }),
        run(process.execPath, [CLI, ...base, '--shard-count', '4'], { env: cleanEnv({ JOB_COMPLETION_INDEX: '2' }) }),
        run(process.execPath, [CLI, ...base], { env: cleanEnv({ SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '4' }) }),
      ]);
      const reports = shards.map((r) => JSON.parse(r.stdout) as { shard: { index: number; count: number }; images: number });
      assert.deepStrictEqual(
        reports.map((r) => r.shard),
        [0, 1, 2, 3].map((index) => ({ index, count: 4 })),
      );
      const total = listDataset(FOLDER).images.length;
      assert.strictEqual(
        reports.reduce((sum, r) => sum + r.images, 0),
        total,
      );

      // A missing shard is named, and nothing is merged.
      const variantDir = path.dirname((fs.readdirSync(cache, { recursive: true }) as string[]).map((f) => path.join(cache, f)).find((f) => f.endsWith('shard-3-of-4.json'))!);
      const manifest = path.join(variantDir, 'shard-3-of-4.json');
      fs.renameSync(manifest, `${manifest}.away`);
      assert.throws(() => mergeShardedCache(cache), /shard 3\/4 has not finished/);
      fs.renameSync(`${manifest}.away`, manifest);

      const merged = await run(process.execPath, [CLI, 'dataset', 'merge', cache], { env: cleanEnv() });
      assert.match(merged.stdout, new RegExp(`merged 4 shards: ${total} images, ${total} feature records in 1 chunk files`));
      const after = JSON.parse((await run(process.execPath, [CLI, ...base], { env: cleanEnv() })).stdout) as {
        images: number;
        cache: { computed: number; cached: number; modelRuns: number };
      };
      assert.deepStrictEqual(after.cache, { computed: 0, cached: total, modelRuns: 0 });

      const model = ConvModel.load(MODEL, { provider: 'cpu' });
      try {
        const fromShards = await extractFeatures(model, FOLDER, { layer: LAYER, cacheDir: cache });
        assert.deepStrictEqual(fromShards.stats, { computed: 0, cached: total, modelRuns: 0 });
        const single = await extractFeatures(model, FOLDER, { layer: LAYER });
        assert.deepStrictEqual(
          fromShards.images.map((im) => im.relPath),
          single.images.map((im) => im.relPath),
        );
        for (const key of ['meanPooled', 'maxPooled', 'maxPosition', 'penultimateFeatures', 'logits', 'predictions'] as const) {
          assert.ok(bytesOf(fromShards[key]).equals(bytesOf(single[key])), `${key} differs from the single run`);
        }
      } finally {
        await model.dispose();
      }
    } finally {
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });
});
