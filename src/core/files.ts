// How the core writes and reads files. Writes are atomic so that an interrupted write (a crash, a
// kill, a full disk) never leaves a half-written file where a reader looks: the bytes go to a
// temporary file beside the target, which is then renamed over it (atomic within one filesystem);
// readers skip the temporary names. Reads are checked: see readFileChecked below.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

const TEMP_MARK = '.tmp-';

export function writeFileAtomic(file: string, bytes: Uint8Array | string | Uint8Array[]): void {
  const temp = `${file}${TEMP_MARK}${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  try {
    if (Array.isArray(bytes)) writeParts(temp, bytes);
    else fs.writeFileSync(temp, bytes);
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
}

/** writeFileAtomic with the writing done off the main thread (libuv's pool), for a large file written while other work goes on. */
export async function writeFileAtomicAsync(file: string, parts: Uint8Array[]): Promise<void> {
  const temp = `${file}${TEMP_MARK}${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  try {
    const handle = await fs.promises.open(temp, 'w');
    try {
      for (const part of parts) {
        for (let written = 0; written < part.length;) written += (await handle.write(part, written, part.length - written)).bytesWritten;
      }
    } finally {
      await handle.close();
    }
    await fs.promises.rename(temp, file);
  } catch (err) {
    await fs.promises.rm(temp, { force: true });
    throw err;
  }
}

/** The parts one after another, without first joining them in memory (a cached model's header and its 45 MB body). */
function writeParts(file: string, parts: Uint8Array[]): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (const part of parts) {
      for (let written = 0; written < part.length;) written += fs.writeSync(fd, part, written, part.length - written);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether a file name is the temporary file of a write that has not finished (or never will). */
export function isUnfinishedWrite(name: string): boolean {
  return name.includes(TEMP_MARK);
}

// ---------------------------------------------------------------------------------------------
// Reading untrusted files: one way in for every file the core reads. The file is opened first
// (non-blocking, so a FIFO cannot hang the open), then checked on the descriptor (a regular file
// within a size limit: devices, FIFOs and sockets are refused whatever link leads to them), then
// read from that same descriptor, so what was checked is what is read. A path named by a model,
// a sidecar or a setting must also lie inside a given folder once every symlink is resolved.

/** A file refused or unreadable, said in one sentence that names the path as it was given. */
export class FileReadError extends Error {}

/** A file over its size limit, refused unread; `size` and `limit` in bytes. */
export class FileTooLargeError extends FileReadError {
  constructor(
    message: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super(message);
  }
}

export interface ReadRules {
  /** What the file is, for messages: 'labels file', 'model file'. */
  what: string;
  /** Who named the path, for messages: "model metadata 'convlens.preprocess'". */
  namedBy?: string;
  maxBytes: number;
  /** Ends the size refusal: how to raise the limit, or why it is fixed. */
  limitHint: string;
  /** The folder the file must be inside (symlinks resolved), and its name for messages. */
  inside?: { folder: string; name: string };
  /** Read only this many bytes from the start (a header), not the whole file. */
  firstBytes?: number;
}

const MiB = 2 ** 20;

function formatMiB(bytes: number): string {
  return `${Number((bytes / MiB).toPrecision(3))} MiB`;
}

/** The path as the user, model or sidecar gave it, quoted and escaped for a one-line message. */
function quotePath(file: string): string {
  return JSON.stringify(file);
}

/** Whether `file` is inside `folder` (both absolute and normalised), by their names alone. */
export function isInside(folder: string, file: string): boolean {
  const relative = path.relative(folder, file);
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

function realPath(file: string, shown: string, what: string): string {
  try {
    return fs.realpathSync(file);
  } catch (err) {
    throw readFailure(err, shown, what);
  }
}

function readFailure(err: unknown, shown: string, what: string): FileReadError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new FileReadError(`${what} ${shown} not found`);
  if (code === 'ELOOP') return new FileReadError(`${what} ${shown} is a symbolic link where a file was expected; only regular files are read`);
  if (code === 'EISDIR') return new FileReadError(`${what} ${shown} is a folder, not a file`);
  return new FileReadError(`cannot read ${what} ${shown} (${code ?? (err as Error).message})`);
}

/**
 * Resolves a path named inside a file (a model, a sidecar) or a setting against `base`, and checks
 * that it stays inside `rules.inside`: first as written (so nothing outside is even looked at),
 * then with symlinks resolved. Returns the real path to open.
 */
function containedPath(file: string, shown: string, rules: ReadRules): string {
  if (!rules.inside) return file;
  const { folder, name } = rules.inside;
  const outside = (): FileReadError => new FileReadError(`${rules.what} ${shown} is outside ${name}; only files inside it are read`);
  if (!isInside(path.resolve(folder), path.resolve(file))) throw outside();
  const real = realPath(file, shown, rules.what);
  if (!isInside(realPath(folder, quotePath(folder), 'folder'), real)) throw outside();
  return real;
}

/**
 * Reads a whole file under `rules`: `file` is opened as given (or, with `rules.inside`, at its real
 * path with no symlink left to follow), checked with fstat and read from the open descriptor.
 * `shownAs` is the path as the user or file gave it, for messages.
 */
export function readFileChecked(file: string, rules: ReadRules, shownAs = file): Buffer {
  const shown = rules.namedBy ? `${quotePath(shownAs)} named by ${rules.namedBy}` : quotePath(shownAs);
  const target = containedPath(file, shown, rules);
  const { O_RDONLY, O_NONBLOCK = 0, O_NOCTTY = 0, O_NOFOLLOW = 0 } = fs.constants;
  let fd: number;
  try {
    fd = fs.openSync(target, O_RDONLY | O_NONBLOCK | O_NOCTTY | (rules.inside ? O_NOFOLLOW : 0));
  } catch (err) {
    throw readFailure(err, shown, rules.what);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (stat.isDirectory()) throw new FileReadError(`${rules.what} ${shown} is a folder, not a file`);
    if (!stat.isFile()) {
      throw new FileReadError(`${rules.what} ${shown} is not a regular file (a device, pipe or socket); only regular files are read`);
    }
    if (stat.size > rules.maxBytes) {
      const message = `${rules.what} ${shown} is ${formatMiB(stat.size)}, over the limit of ${formatMiB(rules.maxBytes)}; ${rules.limitHint}`;
      throw new FileTooLargeError(message, stat.size, rules.maxBytes);
    }
    // Read what fstat promised and no more: a file that grows meanwhile is cut at its checked size.
    const bytes = Buffer.allocUnsafe(Math.min(stat.size, rules.firstBytes ?? Infinity));
    let filled = 0;
    while (filled < bytes.length) {
      const read = fs.readSync(fd, bytes, filled, bytes.length - filled, null);
      if (read === 0) break;
      filled += read;
    }
    return filled === bytes.length ? bytes : bytes.subarray(0, filled);
  } catch (err) {
    if (err instanceof FileReadError) throw err;
    throw readFailure(err, shown, rules.what);
  } finally {
    fs.closeSync(fd);
  }
}
