// Splitting a dataset between processes that a cluster's own scheduler starts (a Slurm job array,
// a Kubernetes Indexed Job): shard I of N takes the images whose relative path hashes to I mod N.
// The hash (32-bit FNV-1a of the UTF-8 path) depends on nothing but the path, so every process
// agrees on the split whatever order its file system lists the folder in, and adding an image
// moves no other image between shards.
import { DatasetError } from './errors';

export interface Shard {
  /** Zero-based. */
  index: number;
  count: number;
}

/** 'I/N' with 0 ≤ I < N. */
export function parseShard(text: string): Shard {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!match) throw new DatasetError(`--shard takes I/N (shard I of N, counted from 0), got '${text}'`);
  return checkedShard(Number(match[1]), Number(match[2]), `--shard ${text}`);
}

function checkedShard(index: number, count: number, source: string): Shard {
  if (!Number.isSafeInteger(count) || count < 1) throw new DatasetError(`${source}: the shard count must be a whole number ≥ 1`);
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) throw new DatasetError(`${source}: the shard index must be between 0 and ${count - 1}`);
  return { index, count };
}

function wholeNumber(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new DatasetError(`${name} is '${value}', not a whole number`);
  return n;
}

/**
 * The shard a scheduler gave this process, if any:
 * - Slurm job array: SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN (0 when unset) of SLURM_ARRAY_TASK_COUNT;
 * - Kubernetes Indexed Job: JOB_COMPLETION_INDEX of `count` (a flag) or CONVLENS_SHARD_COUNT,
 *   since Kubernetes does not pass the completion count to the pod.
 */
export function shardFromEnvironment(env: NodeJS.ProcessEnv, count?: number): Shard | undefined {
  const slurmId = wholeNumber(env.SLURM_ARRAY_TASK_ID, 'SLURM_ARRAY_TASK_ID');
  if (slurmId !== undefined) {
    const slurmCount = count ?? wholeNumber(env.SLURM_ARRAY_TASK_COUNT, 'SLURM_ARRAY_TASK_COUNT');
    if (slurmCount === undefined) throw new DatasetError('SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; give --shard I/N');
    const min = wholeNumber(env.SLURM_ARRAY_TASK_MIN, 'SLURM_ARRAY_TASK_MIN') ?? 0;
    return checkedShard(slurmId - min, slurmCount, `Slurm array task ${slurmId} (array from ${min}, ${slurmCount} tasks; a stepped array such as 0-15:2 needs --shard I/N)`);
  }
  const podIndex = wholeNumber(env.JOB_COMPLETION_INDEX, 'JOB_COMPLETION_INDEX');
  if (podIndex !== undefined) {
    const podCount = count ?? wholeNumber(env.CONVLENS_SHARD_COUNT, 'CONVLENS_SHARD_COUNT');
    if (podCount === undefined) throw new DatasetError('JOB_COMPLETION_INDEX is set: give the number of completions with --shard-count N or CONVLENS_SHARD_COUNT');
    return checkedShard(podIndex, podCount, `Kubernetes completion index ${podIndex} of ${podCount}`);
  }
  return undefined;
}

/** 32-bit FNV-1a of the UTF-8 bytes of `text`. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** The shard (0 … count − 1) an image with relative path `relPath` belongs to. */
export function shardOfPath(relPath: string, count: number): number {
  return fnv1a(relPath) % count;
}

export function describeShard(shard: Shard): string {
  return `shard ${shard.index}/${shard.count}`;
}
