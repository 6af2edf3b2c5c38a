// Access to test/fixtures/images (written by make_fixtures.py with the libraries we match).
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { parseNpy } from '../../src/core/npy';
import { Tensor } from '../../src/core/tensor';

export const IMAGE_FIXTURES = path.resolve(__dirname, '../../../test/fixtures/images');

export function fixturePath(name: string): string {
  return path.join(IMAGE_FIXTURES, name);
}

/** A plain Uint8Array copy (a Node Buffer may be a view into a shared pool). */
export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(fs.readFileSync(fixturePath(name)));
}

/** A PNG chunk: length, type, data and its CRC, for building hostile PNGs in tests. */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])));
  return Buffer.concat([head, data, crc]);
}

export function fixtureNpy(name: string): Tensor {
  return parseNpy(fixtureBytes(name));
}

/** Largest |a − b| over two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
