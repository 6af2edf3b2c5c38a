// Reading the model cache's entry files as a test inspects them (the layout is cache.ts's).
import * as fs from 'fs';
import * as path from 'path';

/** An entry's JSON header. */
export function headerOf(file: string): string {
  const bytes = fs.readFileSync(file);
  return bytes.toString('utf8', 8, 8 + bytes.readUInt32LE(4));
}

/** The entry files in a cache folder. */
export function entryFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.clm'))
    .map((n) => path.join(dir, n));
}
