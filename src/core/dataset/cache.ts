// On-disk cache of per-image feature records, so a second look at a dataset runs nothing.
//
// Layout: <cacheDir>/features-v1/<model sha256>/<hash of layer, penultimate tensor, preprocessing>/
// holding chunk files, one per batch computed. A chunk is 'CLF1', a little-endian uint32 header
// length, a JSON header { layout, entries: [{ file, size, mtimeMs }] } padded to 4 bytes, then one
// float32 record per entry. An entry is valid while its file has the same size and mtime, so a
// changed image is recomputed and a changed model lands in another folder. Chunks are written to a
// temporary name and renamed into place (atomic on POSIX), so a cancelled or crashed run leaves only
// whole chunks behind, and the next run computes just what is missing.
import * as buffer from 'buffer';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { isUnfinishedWrite, readFileChecked, writeFileAtomic } from '../files';

const MAGIC = 'CLF1';
const VERSION_DIR = 'features-v1';
// Temporary files older than this belong to a run that died: safe to remove.
const STALE_TEMP_MS = 60 * 60 * 1000;

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
  private constructor(readonly dir: string) {}

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
   * Valid records by entry key. Chunks with no valid entry left (their images changed or are gone)
   * are deleted; unreadable chunks too.
   */
  load(): { layout?: RecordLayout; records: Map<string, Float32Array> } {
    const records = new Map<string, Float32Array>();
    let layout: RecordLayout | undefined;
    for (const name of fs.readdirSync(this.dir)) {
      const full = path.join(this.dir, name);
      if (isUnfinishedWrite(name)) {
        removeIfOlder(full, STALE_TEMP_MS);
        continue;
      }
      if (!name.endsWith('.bin')) continue;
      const chunk = readChunk(full);
      if (!chunk || (layout && JSON.stringify(chunk.layout) !== JSON.stringify(layout))) {
        fs.rmSync(full, { force: true });
        continue;
      }
      layout ??= chunk.layout;
      let valid = 0;
      chunk.entries.forEach((entry, i) => {
        const now = statEntry(entry.file);
        if (!now || now.size !== entry.size || now.mtimeMs !== entry.mtimeMs) return;
        records.set(entryKey(entry), chunk.records[i]);
        valid++;
      });
      if (valid === 0) fs.rmSync(full, { force: true });
    }
    return { layout, records };
  }

  /** Writes one chunk atomically. */
  write(layout: RecordLayout, entries: CacheEntry[], records: Float32Array[]): void {
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
  }
}

function readChunk(file: string): { layout: RecordLayout; entries: CacheEntry[]; records: Float32Array[] } | undefined {
  try {
    const bytes = readFileChecked(file, { what: 'feature cache chunk', maxBytes: buffer.constants.MAX_LENGTH, limitHint: 'it is computed again' });
    if (bytes.toString('latin1', 0, 4) !== MAGIC) return undefined;
    const headerLength = bytes.readUInt32LE(4);
    const header = JSON.parse(bytes.toString('utf8', 8, 8 + headerLength)) as { layout: RecordLayout; entries: CacheEntry[] };
    const length = recordLength(header.layout);
    if (bytes.length !== 8 + headerLength + header.entries.length * length * 4) return undefined;
    // Copy out of the file buffer: Buffer offsets are not always 4-byte aligned.
    const body = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 8 + headerLength, bytes.byteOffset + bytes.length));
    const records = header.entries.map((_, i) => body.subarray(i * length, (i + 1) * length));
    return { layout: header.layout, entries: header.entries, records };
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
