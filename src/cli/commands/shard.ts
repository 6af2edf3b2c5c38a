// --shard I/N (or the scheduler's array variables) and `convlens dataset merge DIR`: splitting a
// dataset run between the processes of a Slurm job array or a Kubernetes Indexed Job that share a
// cache folder (see src/core/dataset/shard.ts for the split, cache.ts for the merge).
import { DatasetError, Shard, describeShard, mergeShardedCache, parseShard, shardFromEnvironment } from '../../core/dataset';
import { intOption, parse } from '../args';
import { printJson } from '../output';

export const SHARD_OPTIONS = { shard: { type: 'string' }, 'shard-count': { type: 'string' } } as const;

/** The shard from --shard, else from the scheduler's environment (count from --shard-count where it does not give one). */
export function shardOption(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv = process.env): Shard | undefined {
  if (typeof values.shard === 'string') return parseShard(values.shard);
  const count = values['shard-count'] !== undefined ? intOption(values['shard-count'], 'shard-count', 1) : undefined;
  const shard = shardFromEnvironment(env, count);
  if (!shard && count !== undefined) throw new DatasetError('--shard-count needs a scheduler index (SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX); give --shard I/N otherwise');
  return shard;
}

/** What to tell the user after a shard has filled its part of the cache. */
export function shardDoneMessage(shard: Shard, images: number, computed: number, cacheDir: string): string {
  return `${describeShard(shard)}: ${images} images (${computed} computed) in ${cacheDir}; once all ${shard.count} shards have run, \`convlens dataset merge ${cacheDir}\` completes the cache`;
}

export const mergeUsage = 'convlens dataset merge DIR [--json]';

export async function datasetMerge(argv: string[]): Promise<void> {
  const { positionals, values } = parse(argv, { json: { type: 'boolean' } }, ['DIR']);
  const merged = mergeShardedCache(positionals[0]);
  if (values.json) {
    printJson(merged);
    return;
  }
  for (const m of merged) console.log(`merged ${m.shards} shards: ${m.images} images, ${m.records} feature records in ${m.chunks} chunk files (${m.dir})`);
}
