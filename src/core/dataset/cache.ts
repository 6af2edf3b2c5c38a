// On-disk cache of per-image feature records, so a second look at a dataset runs nothing.
//
// Layout: <cacheDir>/features-v1/<model sha256>/<hash of layer, penultimate tensor, preprocessing>/
// holding chunk files, one per batch computed. A chunk is 'CLF1', a little-endian uint32 header
// length, a JSON header { layout, entries: [{ file, size, mtimeMs }] } padded to 4 bytes, then one
// float32 record per entry. An entry is valid while its file has the same size and mtime, so a
// changed image is recomputed and a changed model lands in another folder. Chunks are written to a
// temporary name and renamed into place (atomic on POSIX), so a cancelled or crashed run leaves only
// whole chunks behind, and the next run computes just what is missing. Shards of one run (shard.ts)
// write their chunks into one folder and a shard-I-of-N.json when done; mergeShards checks that all
// N finished and rewrites the chunks as few large ones.
import * as buffer from 'buffer';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { isUnfinishedWrite, readFileChecked, writeFileAtomic } from '../files';
import { DatasetError } from './errors';

const MAGIC = 'CLF1';
const VERSION_DIR = 'features-v1';
// Temporary files older than this belong to a run that died: safe to remove.
const STALE_TEMP_MS = 60 * 60 * 1000;
// Records per chunk when merging shards: few files to open, a few MiB each.
const MERGED_CHUNK_RECORDS = 4096;

/** What a finished shard leaves in the cache folder. */
export interface ShardManifest {
  index: number;
  count: number;
  /** sha256 of the whole folder's sorted relative paths: shards of one run listed the same folder. */
  listing: string;
  /** Images of this shard. */
  images: number;
  computed: number;
  skipped: number;
}

export interface CacheEntry {
  file: string;
  size: number;
  mtimeMs: number;
}

/** The shape every record in a cache folder has; a chunk with another layout is ignored. */
export interface RecordLayout {
  channels: number;
  height: number;
  width: number;
  penultimate: number;
  classes: number;
}

export function recordLength(layout: RecordLayout): number {
  // mean and max pooled activations, position of the max, penultimate features, logits
  return 3 * layout.channels + layout.penultimate + layout.classes;
}

export function entryKey(e: CacheEntry): string {
  return `${e.file}\0${e.size}\0${e.mtimeMs}`;
}

export function parseEntryKey(key: string): CacheEntry {
  const [file, size, mtimeMs] = key.split('\0');
  return { file, size: Number(size), mtimeMs: Number(mtimeMs) };
}

export function statEntry(file: string): CacheEntry | undefined {
  try {
    const s = fs.statSync(file);
    return { file, size: s.size, mtimeMs: s.mtimeMs };
  } catch {
    return undefined;
  }
}

export function sha256(bytes: Uint8Array | string): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

export class FeatureCache {
  constructor(readonly dir: string) {}

  /** The cache folder for one model, layer and preprocessing, created if needed. */
  static open(cacheDir: string, modelHash: string, variant: Record<string, string>): FeatureCache {
    const variantHash = sha256(JSON.stringify(variant)).slice(0, 16);
    const dir = path.join(cacheDir, VERSION_DIR, modelHash.slice(0, 32), variantHash);
    fs.mkdirSync(dir, { recursive: true });
    const about = path.join(dir, 'about.json');
    if (!fs.existsSync(about)) writeFileAtomic(about, Buffer.from(JSON.stringify(variant, null, 1)));
    return new FeatureCache(dir);
  }

  /**
   * Visits every valid record, one chunk in memory at a time (`record` is only valid during the
   * call). `known(entry)` says an entry is valid without a stat (the caller has just statted its
   * image); other entries are checked against their file. Chunks with no valid entry left (their
   * images changed or are gone) are deleted, as are unreadable ones and ones of another layout.
   */
  scan(visit: (entry: CacheEntry, record: Float32Array, layout: RecordLayout) => void, known: (entry: CacheEntry) => boolean = () => false): RecordLayout | undefined {
    let layout: RecordLayout | undefined;
    for (const name of this.chunkNames()) {
      const full = path.join(this.dir, name);
      const chunk = readChunk(full);
      if (!chunk || (layout && JSON.stringify(chunk.layout) !== JSON.stringify(layout))) {
        fs.rmSync(full, { force: true });
        continue;
      }
      layout ??= chunk.layout;
      let valid = 0;
      chunk.entries.forEach((entry, i) => {
        if (!known(entry)) {
          const now = statEntry(entry.file);
          if (!now || now.size !== entry.size || now.mtimeMs !== entry.mtimeMs) return;
        }
        visit(entry, chunk.body.subarray(i * chunk.length, (i + 1) * chunk.length), chunk.layout);
        valid++;
      });
      if (valid === 0) fs.rmSync(full, { force: true });
    }
    return layout;
  }

  /** Names of the finished chunk files, sorted; stale temporary files of dead runs are removed on the way. */
  private chunkNames(): string[] {
    const names: string[] = [];
    for (const name of fs.readdirSync(this.dir)) {
      if (isUnfinishedWrite(name)) removeIfOlder(path.join(this.dir, name), STALE_TEMP_MS);
      else if (name.endsWith('.bin')) names.push(name);
    }
    return names.sort();
  }

  /** Records that shard `manifest.index` of `manifest.count` has finished (see mergeShards). */
  writeShardManifest(manifest: ShardManifest): void {
    writeFileAtomic(path.join(this.dir, shardManifestName(manifest.index, manifest.count)), JSON.stringify(manifest, null, 1));
  }

  /**
   * Completes a cache that shards filled: checks that every shard of the run finished on the same
   * listing, then rewrites the many per-batch chunks as few large ones (streaming: at most one old
   * chunk and one new chunk in memory) and replaces the shard manifests with merged.json.
   * Undefined when this folder holds no shard manifests.
   */
  mergeShards(): { shards: number; images: number; records: number; chunks: number } | undefined {
    const manifests = fs
      .readdirSync(this.dir)
      .filter((n) => /^shard-\d+-of-\d+\.json$/.test(n))
      .map((n) => JSON.parse(fs.readFileSync(path.join(this.dir, n), 'utf8')) as ShardManifest);
    if (manifests.length === 0) return undefined;
    const counts = [...new Set(manifests.map((m) => m.count))];
    if (counts.length > 1) throw new DatasetError(`${this.dir} holds shards of runs split ${counts.join(' and ')} ways; remove the shard-*.json files of the run to drop`);
    const count = counts[0];
    const listings = new Set(manifests.map((m) => m.listing));
    if (listings.size > 1) throw new DatasetError(`the shards in ${this.dir} listed different folders (images added or removed between them); run the shards again`);
    const done = new Set(manifests.map((m) => m.index));
    const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !done.has(i));
    if (missing.length > 0)
      throw new DatasetError(
        `shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${count}`).join(', ')} ha${missing.length > 1 ? 've' : 's'} not finished (no ${shardManifestName(missing[0], count)} in ${this.dir})`,
      );

    const old = this.chunkNames();
    const written = new Set<string>();
    let pendingEntries: CacheEntry[] = [];
    let pendingRecords: Float32Array[] = [];
    let layout: RecordLayout | undefined;
    let records = 0;
    const seen = new Set<string>();
    const flush = () => {
      if (pendingEntries.length === 0 || !layout) return;
      written.add(this.write(layout, pendingEntries, pendingRecords));
      pendingEntries = [];
      pendingRecords = [];
    };
    for (const name of old) {
      const chunk = readChunk(path.join(this.dir, name));
      if (!chunk) continue;
      if (layout && JSON.stringify(chunk.layout) !== JSON.stringify(layout)) continue;
      layout ??= chunk.layout;
      chunk.entries.forEach((entry, i) => {
        const key = entryKey(entry);
        if (seen.has(key)) return;
        seen.add(key);
        pendingEntries.push(entry);
        pendingRecords.push(chunk.body.slice(i * chunk.length, (i + 1) * chunk.length));
        records++;
        if (pendingEntries.length >= MERGED_CHUNK_RECORDS) flush();
      });
    }
    flush();
    for (const name of old) if (!written.has(name)) fs.rmSync(path.join(this.dir, name), { force: true });
    const images = manifests.reduce((sum, m) => sum + m.images, 0);
    writeFileAtomic(path.join(this.dir, 'merged.json'), JSON.stringify({ shards: count, listing: manifests[0].listing, images, records }, null, 1));
    for (const m of manifests) fs.rmSync(path.join(this.dir, shardManifestName(m.index, m.count)), { force: true });
    return { shards: count, images, records, chunks: written.size };
  }

  /** Writes one chunk atomically; returns its file name. */
  write(layout: RecordLayout, entries: CacheEntry[], records: Float32Array[]): string {
    const header = Buffer.from(JSON.stringify({ layout, entries }));
    const padded = Math.ceil(header.length / 4) * 4;
    const length = recordLength(layout);
    const prefix = Buffer.alloc(8 + padded, 0x20); // JSON allows the trailing spaces
    prefix.write(MAGIC, 0, 'latin1');
    prefix.writeUInt32LE(padded, 4);
    header.copy(prefix, 8);
    const body = new Float32Array(entries.length * length);
    records.forEach((r, i) => body.set(r, i * length));
    const bytes = Buffer.concat([prefix, Buffer.from(body.buffer)]);
    const name = `chunk-${sha256(entries.map(entryKey).join('\n')).slice(0, 24)}.bin`;
    writeFileAtomic(path.join(this.dir, name), bytes);
    return name;
  }
}

/** Completes every model/variant folder under `cacheDir` that shards filled (FeatureCache.mergeShards). */
export function mergeShardedCache(cacheDir: string): { dir: string; shards: number; images: number; records: number; chunks: number }[] {
  const root = path.join(cacheDir, VERSION_DIR);
  if (!fs.existsSync(root)) throw new DatasetError(`${cacheDir} holds no feature cache (no ${VERSION_DIR} folder)`);
  const merged = [];
  const unfinished: string[] = [];
  for (const model of fs.readdirSync(root).sort()) {
    const modelDir = path.join(root, model);
    if (!fs.statSync(modelDir).isDirectory()) continue;
    for (const variant of fs.readdirSync(modelDir).sort()) {
      const dir = path.join(modelDir, variant);
      if (!fs.statSync(dir).isDirectory()) continue;
      try {
        const result = new FeatureCache(dir).mergeShards();
        if (result) merged.push({ dir, ...result });
      } catch (err) {
        if (!(err instanceof DatasetError)) throw err;
        unfinished.push(err.message);
      }
    }
  }
  // The complete runs are merged even when another run (another model or layer) is not.
  if (unfinished.length > 0)
    throw new DatasetError(`${unfinished.join('; ')}${merged.length > 0 ? ` (merged the ${merged.length} complete run${merged.length > 1 ? 's' : ''})` : ''}`);
  if (merged.length === 0)
    throw new DatasetError(`no shard results to merge in ${cacheDir}: run \`convlens dataset MODEL FOLDER --cache ${cacheDir} --shard I/N\` for every I first`);
  return merged;
}

function shardManifestName(index: number, count: number): string {
  return `shard-${index}-of-${count}.json`;
}

function readChunk(file: string): { layout: RecordLayout; entries: CacheEntry[]; body: Float32Array; length: number } | undefined {
  try {
    const bytes = readFileChecked(file, { what: 'feature cache chunk', maxBytes: buffer.constants.MAX_LENGTH, limitHint: 'it is computed again' });
    if (bytes.toString('latin1', 0, 4) !== MAGIC) return undefined;
    const headerLength = bytes.readUInt32LE(4);
    const header = JSON.parse(bytes.toString('utf8', 8, 8 + headerLength)) as { layout: RecordLayout; entries: CacheEntry[] };
    const length = recordLength(header.layout);
    if (bytes.length !== 8 + headerLength + header.entries.length * length * 4) return undefined;
    // Copy out of the file buffer: Buffer offsets are not always 4-byte aligned.
    const body = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 8 + headerLength, bytes.byteOffset + bytes.length));
    return { layout: header.layout, entries: header.entries, body, length };
  } catch {
    return undefined;
  }
}

function removeIfOlder(file: string, ageMs: number): void {
  try {
    if (Date.now() - fs.statSync(file).mtimeMs > ageMs) fs.rmSync(file, { force: true });
  } catch {
    // Another process removed or renamed it first.
  }
}
