// Files written so that an interrupted write (a crash, a kill, a full disk) never leaves a
// half-written file where a reader looks: the bytes go to a temporary file beside the target,
// which is then renamed over it (atomic within one filesystem). Readers skip the temporary names.
import * as crypto from 'crypto';
import * as fs from 'fs';

const TEMP_MARK = '.tmp-';

export function writeFileAtomic(file: string, bytes: Uint8Array | string): void {
  const temp = `${file}${TEMP_MARK}${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  try {
    fs.writeFileSync(temp, bytes);
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
}

/** Whether a file name is the temporary file of a write that has not finished (or never will). */
export function isUnfinishedWrite(name: string): boolean {
  return name.includes(TEMP_MARK);
}
