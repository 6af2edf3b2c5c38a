import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { DEFAULT_MAX_PIXELS, ImageDecodeError, ImageTooLargeError, UnsupportedImageFormatError, decodeImage, readImageFile, readImageHeader } from '../../src/core/image/decode';
import { fixtureBytes, fixtureNpy, fixturePath, maxAbsDiff } from './image-fixtures';

/** CRC-32 of PNG chunks (ISO 3309), written out so the test does not depend on zlib.crc32. */
function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** A complete, valid-CRC PNG whose IHDR declares width × height (8-bit RGB) and whose data is tiny. */
function pngDeclaring(width: number, height: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const parts = [
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(new Uint8Array(64))),
    chunk('IEND', new Uint8Array(0)),
  ];
  return Buffer.concat(parts);
}

function tempFile(name: string, bytes: Uint8Array): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-image-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

/** Offset of the SOF0 marker's segment in a JPEG (the byte after FF C0). */
function sofOffset(bytes: Uint8Array): number {
  for (let i = 2; i < bytes.length - 1; i++) if (bytes[i] === 0xff && bytes[i + 1] === 0xc0) return i + 2;
  throw new Error('no SOF0');
}

describe('image decoding', () => {
  const pattern = decodeImage(fixtureBytes('pattern.png'));

  it('decodes an 8-bit RGB PNG', () => {
    assert.strictEqual(pattern.format, 'png');
    assert.deepStrictEqual([pattern.width, pattern.height, pattern.data.length], [37, 23, 37 * 23 * 3]);
    assert.strictEqual(pattern.description, '8-bit RGB PNG');
    assert.strictEqual(pattern.hadAlpha, false);
  });

  it('replicates grayscale PNGs to RGB and drops alpha as Pillow convert("RGB") does', () => {
    const gray = decodeImage(fixtureBytes('gray8.png'));
    const rgba = decodeImage(fixtureBytes('rgba8.png'));
    for (let p = 0; p < 37 * 23; p++) {
      for (let c = 0; c < 3; c++) assert.strictEqual(gray.data[p * 3 + c], pattern.data[p * 3]);
    }
    assert.deepStrictEqual(rgba.data, pattern.data);
    assert.strictEqual(rgba.hadAlpha, true);
  });

  it('reduces 16-bit PNG samples to round(v · 255 / 65535)', () => {
    const rgb16 = decodeImage(fixtureBytes('rgb16.png'));
    assert.strictEqual(rgb16.description, '16-bit RGB PNG');
    assert.deepStrictEqual(rgb16.data, pattern.data);
    const gray16 = decodeImage(fixtureBytes('gray16.png'));
    for (let p = 0; p < 37 * 23; p++) {
      const stored = pattern.data[p * 3 + 1] * 256 + 100;
      assert.strictEqual(gray16.data[p * 3], Math.round((stored * 255) / 65535));
    }
  });

  it('decodes a palette PNG to the colours Pillow gives', () => {
    const palette = decodeImage(fixtureBytes('palette.png'));
    assert.strictEqual(maxAbsDiff(palette.data, fixtureNpy('palette.png.pillow-rgb.npy').data as Uint8Array), 0);
  });

  for (const name of ['baseline.jpg', 'progressive.jpg', 'gray.jpg', 'cmyk.jpg']) {
    it(`decodes ${name} to within a few levels of libjpeg (Pillow)`, () => {
      const image = decodeImage(fixtureBytes(name));
      const reference = fixtureNpy(`${name}.pillow-rgb.npy`).data as Uint8Array;
      let total = 0;
      for (let i = 0; i < reference.length; i++) total += Math.abs(image.data[i] - reference[i]);
      // Decoders differ in IDCT rounding and chroma upsampling: a few levels at most, under one on average.
      assert.ok(maxAbsDiff(image.data, reference) <= 4, `max difference ${maxAbsDiff(image.data, reference)}`);
      assert.ok(total / reference.length < 1, `mean difference ${total / reference.length}`);
    });
  }

  it('names the JPEG kind from its frame header', () => {
    assert.strictEqual(readImageHeader(fixtureBytes('progressive.jpg')).description, 'progressive colour JPEG');
    assert.strictEqual(readImageHeader(fixtureBytes('gray.jpg')).description, 'baseline grayscale JPEG');
    assert.strictEqual(readImageHeader(fixtureBytes('cmyk.jpg')).description, 'baseline CMYK JPEG');
  });

  it('identifies the format by content, not by extension', () => {
    const file = tempFile('actually-a-png.jpg', fixtureBytes('pattern.png'));
    const image = readImageFile(file);
    assert.strictEqual(image.format, 'png');
    assert.deepStrictEqual(image.data, pattern.data);
  });

  it('refuses truncated PNGs, naming the chunk that is cut', () => {
    const bytes = fixtureBytes('pattern.png');
    assert.throws(
      () => decodeImage(bytes.subarray(0, 200), { name: 'cut.png' }),
      (err: Error) => err instanceof ImageDecodeError && /^cut\.png is a truncated PNG: its IDAT chunk needs \d+ more bytes$/.test(err.message),
    );
    assert.throws(() => decodeImage(bytes.subarray(0, bytes.length - 6)), /truncated PNG: it has no IEND chunk/);
    assert.throws(() => decodeImage(bytes.subarray(0, 20)), /truncated PNG/);
  });

  it('refuses a PNG whose data fails its CRC', () => {
    const bytes = fixtureBytes('pattern.png').slice();
    bytes[60] ^= 0xff;
    assert.throws(
      () => decodeImage(bytes, { name: 'bad.png' }),
      (err: Error) => err instanceof ImageDecodeError && err.message.startsWith('bad.png is a corrupt PNG'),
    );
  });

  it('refuses truncated JPEGs', () => {
    const bytes = fixtureBytes('baseline.jpg');
    assert.throws(() => decodeImage(bytes.subarray(0, bytes.length - 100), { name: 'cut.jpg' }), /cut\.jpg is a truncated JPEG: the image data has no end marker/);
    assert.throws(() => decodeImage(bytes.subarray(0, 12)), /truncated JPEG: its header ends before the frame size/);
  });

  it('refuses a decompression bomb from its IHDR before decoding', () => {
    const bomb = pngDeclaring(100000, 100000);
    assert.ok(bomb.length < 200, 'the crafted file is tiny');
    assert.throws(
      () => decodeImage(bomb, { name: 'bomb.png', limitHint: 'raise convlens.maxImageMegapixels' }),
      (err: Error) => {
        assert.ok(err instanceof ImageTooLargeError);
        assert.strictEqual(err.kind, 'pixels');
        assert.strictEqual(err.limit, DEFAULT_MAX_PIXELS);
        assert.strictEqual(err.message, 'bomb.png declares 100000×100000 pixels (10000 megapixels), over the limit of 50 megapixels; raise convlens.maxImageMegapixels');
        return true;
      },
    );
  });

  it('refuses a JPEG whose frame header declares too many pixels', () => {
    const bytes = fixtureBytes('baseline.jpg').slice();
    const sof = sofOffset(bytes);
    bytes.set([0xfd, 0xe8, 0xfd, 0xe8], sof + 3); // 65000 × 65000
    assert.throws(
      () => decodeImage(bytes),
      (err: Error) => err instanceof ImageTooLargeError && /65000×65000 pixels \(4230 megapixels\)/.test(err.message),
    );
  });

  it('applies a configurable pixel limit and a byte limit', () => {
    const bytes = fixtureBytes('pattern.png');
    assert.throws(() => decodeImage(bytes, { maxPixels: 800 }), /37×23 pixels \(0\.000851 megapixels\), over the limit of 0\.0008 megapixels/);
    assert.strictEqual(decodeImage(bytes, { maxPixels: 851 }).width, 37);
    assert.throws(
      () => decodeImage(bytes, { maxBytes: 1024, name: 'p.png' }),
      (err: Error) => err instanceof ImageTooLargeError && err.kind === 'bytes' && /^p\.png is 0\.0 MiB, over the limit of 0\.0 MiB/.test(err.message),
    );
    const file = tempFile('big.png', bytes);
    assert.throws(() => readImageFile(file, { maxBytes: 1024 }), ImageTooLargeError);
  });

  it('names unsupported formats and lists the supported ones', () => {
    const gif = new TextEncoder().encode('GIF89a\x01\x00\x01\x00');
    assert.throws(
      () => decodeImage(gif, { name: 'a.gif' }),
      (err: Error) => err instanceof UnsupportedImageFormatError && err.message === 'a.gif is a GIF image; supported image formats: PNG, JPEG',
    );
    assert.throws(
      () => decodeImage(new TextEncoder().encode('hello, world'), { name: 'notes.png' }),
      /notes\.png is not an image ConvLens recognises; supported image formats: PNG, JPEG/,
    );
    assert.throws(() => decodeImage(new Uint8Array(0), { name: 'empty.png' }), /empty\.png is empty/);
  });

  it('refuses JPEG codings it cannot decode, saying why', () => {
    const lossless = fixtureBytes('baseline.jpg').slice();
    lossless[sofOffset(lossless) - 1] = 0xc3;
    assert.throws(
      () => decodeImage(lossless),
      (err: Error) => err instanceof UnsupportedImageFormatError && /lossless, hierarchical or arithmetic-coded JPEG \(SOF3\)/.test(err.message),
    );
    const twelveBit = fixtureBytes('baseline.jpg').slice();
    twelveBit[sofOffset(twelveBit) + 2] = 12;
    assert.throws(() => decodeImage(twelveBit), /is a 12-bit JPEG; only 8-bit JPEGs are supported/);
  });

  it('reports a missing file and a folder in one sentence', () => {
    assert.throws(
      () => readImageFile('/nonexistent/cat.png'),
      (err: Error) => err instanceof ImageDecodeError && err.message === 'image file "/nonexistent/cat.png" not found',
    );
    assert.throws(() => readImageFile(path.dirname(fixturePath('pattern.png'))), /is a folder, not a file/);
  });
});
