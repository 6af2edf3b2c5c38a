// On-disk cache of built models: the onnxruntime-optimised form of each model variant a session
// was made for (gradient models, sub-models, models with exposed outputs) and a model's probed
// shapes, so that reopening a model neither probes, builds, encodes nor optimises them again.
//
// An entry is one file, <sha256 of its key>.clm: 'CLM2', a little-endian uint32 header length, a
// JSON header { key, bodyBytes, bodyCheck, meta } padded with spaces to a multiple of 64 bytes,
// then the body (the optimised model's bytes, in onnxruntime's ORT format, which a session reads
// its weights from in place: the padding keeps them as aligned as the file's buffer; 'CLM1'
// entries held ONNX bodies and are refused). The key names everything the entry depends on: the
// model's content (ConvModel.contentKey: its file's identity, which any write to the file changes,
// or the SHA-256 of bytes that are not one file), the request, ConvLens's autodiff version,
// onnxruntime's version and the machine. An entry is used only when its header names exactly the
// key asked for and its body has the recorded length and CRC-32: a corrupt, truncated or foreign
// entry is deleted and the model is built again, never trusted. (A crafted model cannot share its
// key with another model: not its file's identity, nor its SHA-256; the body's check is against
// accidental damage, which CRC-32 catches, at 10 ms for resnet18's 45 MB against 90-120 for
// SHA-256, on every reopening; a Node.js older than 20.15, without zlib.crc32, uses SHA-256.) Entries are written atomically (files.ts); each hit
// touches the file's mtime, and when the folder grows over its size limit the least recently used
// entries are deleted.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import * as ort from 'onnxruntime-node';
import { isUnfinishedWrite, readFileChecked, writeFileAtomic, writeFileAtomicAsync } from '../files';
import { defaultRules } from './registry';

const MAGIC = 'CLM2';
// Where a body starts in its file (and in the buffer it is read into): onnxruntime reads weights
// in place from the ORT-format bytes.
const BODY_ALIGNMENT = 64;
const SUFFIX = '.clm';
/** The default size limit of a cache folder. */
export const DEFAULT_CACHE_BYTES = 2 * 2 ** 30;
// Temporary files older than this belong to a process that died: safe to remove.
const STALE_TEMP_MS = 60 * 60 * 1000;

export interface CachedModel {
  body: Uint8Array;
  meta: unknown;
}

function sha256(bytes: Uint8Array | string): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/** An entry body's check against accidental damage, named by its algorithm. */
function bodyCheck(body: Uint8Array): string {
  return typeof zlib.crc32 === 'function' ? `crc32:${zlib.crc32(body)}` : `sha256:${sha256(body)}`;
}

/**
 * The folder ConvLens caches built models in when nothing else is set: $CONVLENS_CACHE_DIR ('off':
 * none), else the OS's per-user cache folder (XDG_CACHE_HOME or ~/.cache, ~/Library/Caches,
 * %LOCALAPPDATA%).
 */
export function defaultModelCacheDir(): string | undefined {
  const set = process.env.CONVLENS_CACHE_DIR;
  if (set === 'off') return undefined;
  if (set) return path.resolve(set);
  const home = os.homedir();
  const base =
    process.platform === 'win32'
      ? (process.env.LOCALAPPDATA ?? path.join(home, 'AppData', 'Local'))
      : process.platform === 'darwin'
        ? path.join(home, 'Library', 'Caches')
        : (process.env.XDG_CACHE_HOME ?? path.join(home, '.cache'));
  return path.join(base, 'convlens', 'models');
}

// Raised by hand when the builder (build.ts, emitter.ts) changes what it emits; the rules' own
// source is hashed into the version below, so a changed rule needs no bump.
const BUILDER_VERSION = 1;
let autodiffVersion: string | undefined;

/**
 * What a built model depends on besides the model and the request: the builder's version, the
 * gradient rules' source, onnxruntime's version, and the machine (an optimised model may use
 * kernels laid out for this CPU).
 */
export function buildEnvironment(): Record<string, string> {
  autodiffVersion ??= sha256(
    Object.entries(defaultRules)
      .map(([op, rule]) => `${op}:${rule.toString()}`)
      .join('\n'),
  ).slice(0, 16);
  return {
    builder: `${BUILDER_VERSION}/${autodiffVersion}`,
    onnxruntime: ort.env.versions.node ?? 'unknown',
    machine: `${process.platform}-${process.arch}-${os.cpus()[0]?.model ?? 'unknown'}`,
  };
}

export class BuiltModelCache {
  constructor(
    readonly dir: string,
    readonly maxBytes = DEFAULT_CACHE_BYTES,
  ) {}

  private fileFor(key: string): string {
    return path.join(this.dir, `${sha256(key).slice(0, 40)}${SUFFIX}`);
  }

  // A cache never fails the work it serves: a folder that cannot be created, read or written
  // (read-only, full, removed meanwhile) only means building again.

  /** A path in the cache folder for onnxruntime to write an optimised model to; undefined when the folder cannot be made. */
  temporaryPath(): string | undefined {
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      return path.join(this.dir, `incoming.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
    } catch {
      return undefined;
    }
  }

  /** The entry stored under `key`, validated; undefined (and a bad entry deleted) otherwise. */
  read(key: string): CachedModel | undefined {
    const file = this.fileFor(key);
    if (!fs.existsSync(file)) return undefined;
    const entry = parseEntry(file, key, this.maxBytes);
    if (!entry) {
      this.remove(key);
      return undefined;
    }
    touch(file);
    return entry;
  }

  /** Stores `body` and `meta` under `key` (atomically), then keeps the folder within its limit. */
  write(key: string, body: Uint8Array, meta: unknown): void {
    if (body.length > this.maxBytes) return;
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      writeFileAtomic(this.fileFor(key), entryParts(key, body, meta));
      this.evict();
    } catch {
      // Not stored: built again next time.
    }
  }

  /**
   * As write, for a body in a file (onnxruntime's optimised model), read and written by libuv's
   * pool: a session's first run, on the main thread meanwhile, does not wait for the 45 MB.
   */
  async writeFromFile(key: string, bodyFile: string, meta: unknown): Promise<void> {
    try {
      const body = await fs.promises.readFile(bodyFile);
      if (body.length > this.maxBytes) return;
      await fs.promises.mkdir(this.dir, { recursive: true });
      await writeFileAtomicAsync(this.fileFor(key), entryParts(key, body, meta));
      this.evict();
    } catch {
      // Not stored: built again next time.
    }
  }

  /** Deletes the entry under `key`, e.g. one onnxruntime could not load. */
  remove(key: string): void {
    removeQuietly(this.fileFor(key));
  }

  /** Deletes the least recently used entries until the folder is within its limit, and stale temporary files. */
  evict(): void {
    const entries: { file: string; size: number; used: number }[] = [];
    for (const name of safeList(this.dir)) {
      const file = path.join(this.dir, name);
      const stat = statOf(file);
      if (!stat) continue;
      if (isUnfinishedWrite(name)) {
        if (Date.now() - stat.mtimeMs > STALE_TEMP_MS) removeQuietly(file);
      } else if (name.endsWith(SUFFIX)) entries.push({ file, size: stat.size, used: stat.mtimeMs });
    }
    let total = entries.reduce((sum, e) => sum + e.size, 0);
    entries.sort((a, b) => a.used - b.used);
    for (const e of entries) {
      if (total <= this.maxBytes) break;
      removeQuietly(e.file);
      total -= e.size;
    }
  }
}

/** An entry's bytes: magic and header length, the header padded to align the body, the body. */
function entryParts(key: string, body: Uint8Array, meta: unknown): Uint8Array[] {
  const json = JSON.stringify({ key, bodyBytes: body.length, bodyCheck: bodyCheck(body), meta });
  const header = Buffer.from(json.padEnd(json.length + ((BODY_ALIGNMENT - ((8 + Buffer.byteLength(json)) % BODY_ALIGNMENT)) % BODY_ALIGNMENT)));
  const prefix = Buffer.alloc(8);
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(header.length, 4);
  return [prefix, header, body];
}

function parseEntry(file: string, key: string, maxBytes: number): CachedModel | undefined {
  try {
    const bytes = readFileChecked(file, { what: 'model cache entry', maxBytes, limitHint: 'it is built again' });
    if (bytes.length < 8 || bytes.toString('latin1', 0, 4) !== MAGIC) return undefined;
    const headerLength = bytes.readUInt32LE(4);
    if (8 + headerLength > bytes.length) return undefined;
    const header = JSON.parse(bytes.toString('utf8', 8, 8 + headerLength)) as { key?: unknown; bodyBytes?: unknown; bodyCheck?: unknown; meta?: unknown };
    const body = bytes.subarray(8 + headerLength);
    if (header.key !== key || header.bodyBytes !== body.length || header.bodyCheck !== bodyCheck(body)) return undefined;
    // A buffer that starts unaligned (a small file read into Node's shared pool): an aligned copy.
    return { body: body.byteOffset % BODY_ALIGNMENT === 0 ? body : Uint8Array.from(body), meta: header.meta };
  } catch {
    return undefined;
  }
}

function removeQuietly(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // A read-only folder: the entry stays, and is refused again when read.
  }
}

function touch(file: string): void {
  try {
    const now = new Date();
    fs.utimesSync(file, now, now);
  } catch {
    // Evicted by another process meanwhile: the entry read is still whole.
  }
}

function safeList(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function statOf(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch {
    return undefined;
  }
}
