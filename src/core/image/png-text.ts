// Text metadata in a PNG (PNG spec §11.3.4): each entry becomes a tEXt chunk (Latin-1), or an
// iTXt chunk (UTF-8) when its value has other characters, inserted right after IHDR so readers
// that stop early still see it. CRC-32 as in the spec's Annex D (zlib.crc32 is newer than the
// Node that VS Code ships).
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

function textChunk(keyword: string, value: string): Buffer {
  if (!/^[\x20-\x7e]{1,79}$/.test(keyword)) throw new RangeError(`a PNG text keyword is 1–79 printable ASCII characters (got '${keyword}')`);
  if (/^[\x00-\xff]*$/.test(value) && !value.includes('\0')) return chunk('tEXt', Buffer.from(`${keyword}\0${value}`, 'latin1'));
  // iTXt: keyword, NUL, compression flag 0, method 0, empty language tag, NUL, empty translated keyword, NUL, UTF-8 text.
  return chunk('iTXt', Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0, 0, 0, 0, 0]), Buffer.from(value.replace(/\0/g, ''), 'utf8')]));
}

/** The PNG with the entries added as text chunks after its IHDR. */
export function withTextChunks(png: Uint8Array, entries: [keyword: string, value: string][]): Uint8Array {
  const ihdrEnd = 8 + 12 + Buffer.from(png.buffer, png.byteOffset, png.byteLength).readUInt32BE(8);
  return new Uint8Array(Buffer.concat([png.subarray(0, ihdrEnd), ...entries.map(([k, v]) => textChunk(k, v)), png.subarray(ihdrEnd)]));
}
