// Sizes decided by a hostile file (issue #12, part B): every hostile file is built here, at test
// time, and must be refused with one sentence naming the value, the limit and how to raise it,
// before anything of that size is allocated (the process's memory does not jump), through the core
// API, the compute worker and the CLI.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { ModelContext } from '../../src/core/context';
import { decodeImage, pngInflatedSize } from '../../src/core/image/decode';
import { DEFAULT_MAX_PIXELS, SizeLimitError } from '../../src/core/limits';
import { concreteInputDims } from '../../src/core/model';
import { formatNpy } from '../../src/core/npy';
import { DataType, ModelProto, encodeModel } from '../../src/core/onnx/proto';
import { preprocessImage, resolvePreprocessing } from '../../src/core/preprocess';
import { ComputeClient } from '../../src/compute/client';
import { fixtureBytes, pngChunk } from './image-fixtures';

const ROOT = path.resolve(__dirname, '../../..');
const SAMPLE_MODEL = path.join(ROOT, 'sample/shapes.onnx');
const STAR = path.join(ROOT, 'sample/images/star.png');
const CHELSEA = path.join(ROOT, 'test/fixtures/images/chelsea.png');
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
// A refusal before allocation leaves the resident set where it was; the hostile sizes below would
// take gigabytes. 256 MiB leaves room for the garbage collector's own timing.
const RSS_SLACK = 256 * 2 ** 20;

function ihdr(width: number, height: number, interlaced = false): Buffer {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(width, 0);
  data.writeUInt32BE(height, 4);
  data.set([8, 2, 0, 0, interlaced ? 1 : 0], 8);
  return pngChunk('IHDR', data);
}

const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

/** A valid interlaced 8-bit RGB PNG of `pixel(x, y)`, its seven passes written out row by row (filter 0). */
function interlacedPng(width: number, height: number, pixel: (x: number, y: number) => number[]): Buffer {
  const rows: number[] = [];
  for (const [x0, y0, dx, dy] of ADAM7) {
    if (x0 >= width || y0 >= height) continue;
    for (let y = y0; y < height; y += dy) {
      rows.push(0);
      for (let x = x0; x < width; x += dx) rows.push(...pixel(x, y));
    }
  }
  return Buffer.concat([PNG_SIGNATURE, ihdr(width, height, true), pngChunk('IDAT', zlib.deflateSync(Uint8Array.from(rows))), pngChunk('IEND', Buffer.alloc(0))]);
}

/** 1×1 by its first IHDR, 16000×16000 (256 MP) by a second one, which a decoder would use. */
function doubleIhdrPng(): Buffer {
  return Buffer.concat([PNG_SIGNATURE, ihdr(1, 1), ihdr(16000, 16000), pngChunk('IDAT', zlib.deflateSync(Buffer.alloc(16))), pngChunk('IEND', Buffer.alloc(0))]);
}

/**
 * A zlib stream of `mebibytes` MiB of zeros, written without holding them: one sync-flushed raw
 * block of 1 MiB repeated (its back-references reach only zeros), a final empty block, Adler-32.
 */
function zerosStream(mebibytes: number): Buffer {
  const block = zlib.deflateRawSync(Buffer.alloc(2 ** 20), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE(((((mebibytes * 2 ** 20) % 65521) << 16) | 1) >>> 0);
  return Buffer.concat([Buffer.from([0x78, 0x01]), ...new Array<Buffer>(mebibytes).fill(block), Buffer.from([0x03, 0x00]), adler]);
}

/** An interlaced 1000×1000 PNG (about 3 MB of data declared) whose 1 MB of data inflates to 1 GiB. */
function interlacedBombPng(): Buffer {
  return Buffer.concat([PNG_SIGNATURE, ihdr(1000, 1000, true), pngChunk('IDAT', zerosStream(1024)), pngChunk('IEND', Buffer.alloc(0))]);
}

/** baseline.jpg with a copy of its frame header declaring 60000×60000 at `where`. */
function jpegWithSecondFrame(where: 'after the first' | 'before the end'): Buffer {
  const bytes = Buffer.from(fixtureBytes('baseline.jpg'));
  let sof = 2;
  while (!(bytes[sof] === 0xff && bytes[sof + 1] === 0xc0)) sof++;
  const length = bytes.readUInt16BE(sof + 2);
  const huge = Buffer.from(bytes.subarray(sof, sof + 2 + length));
  huge.writeUInt16BE(60000, 5);
  huge.writeUInt16BE(60000, 7);
  const at = where === 'after the first' ? sof + 2 + length : bytes.length - 2;
  return Buffer.concat([bytes.subarray(0, at), huge, bytes.subarray(at)]);
}

/** GlobalAveragePool → Flatten of an input whose dims are given as written in the file. */
function poolModel(inputDims: (number | string)[], metadata?: Record<string, unknown>): ModelProto {
  const dim = (d: number | string) => (typeof d === 'number' ? { dim_value: d } : /^\d+$/.test(d) ? { dim_value: d as unknown as number } : { dim_param: d });
  return {
    ir_version: 8,
    opset_import: [{ domain: '', version: 13 }],
    producer_name: 'hostile-sizes.test',
    metadata_props: metadata ? [{ key: 'convlens.preprocess', value: JSON.stringify(metadata) }] : undefined,
    graph: {
      name: 'pool',
      input: [{ name: 'input', type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: inputDims.map(dim) } } } }],
      output: [{ name: 'logits', type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: [{ dim_value: 1 }, { dim_value: 3 }] } } } }],
      node: [
        { name: 'pool', op_type: 'GlobalAveragePool', input: ['input'], output: ['pooled'] },
        { name: 'flatten', op_type: 'Flatten', input: ['pooled'], output: ['logits'] },
      ],
    },
  };
}

/** A .npy whose header declares `dims` of `dtype` and whose body is 16 bytes. */
function npyDeclaring(dtype: 'uint8' | 'float32', dims: number[]): Uint8Array {
  return formatNpy({ dtype, dims, data: dtype === 'uint8' ? new Uint8Array(16) : new Float32Array(4) });
}

/** Runs `fn`, which must throw, and returns its error after checking the memory did not jump. */
async function refusalWithoutGrowth(fn: () => unknown): Promise<Error> {
  const before = process.memoryUsage().rss;
  let error: Error | undefined;
  try {
    await fn();
  } catch (err) {
    error = err as Error;
  }
  const grown = process.memoryUsage().rss - before;
  assert.ok(error, 'the hostile input was accepted');
  assert.ok(grown < RSS_SLACK, `memory grew by ${(grown / 2 ** 20).toFixed(0)} MiB before the refusal: ${error.message}`);
  return error;
}

describe('hostile sizes: every size from a file is checked before allocation', function () {
  let dir: string;
  const write = (name: string, bytes: Uint8Array): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytes);
    return file;
  };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-hostile-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('image headers', () => {
    it('refuses a PNG with a second IHDR, which a decoder would size its output from', async () => {
      const bytes = doubleIhdrPng();
      assert.ok(bytes.length < 300);
      const err = await refusalWithoutGrowth(() => decodeImage(bytes, { name: 'double.png' }));
      assert.strictEqual(err.message, 'double.png is a corrupt PNG: it has a second IHDR chunk at byte 33');
    });

    it('computes the inflated size an IHDR declares, with the seven passes of an interlaced image', () => {
      // 3×3 RGB8 non-interlaced: 3 rows of 1 + 9 bytes. Interlaced, Adam7 passes 1, 4, 5, 6 and 7
      // are non-empty, of 1×1, 1×1, 2×1, 1×2 and 3×1 pixels: rows of 1 + 3·width bytes, 4 + 4 + 7 + 2·4 + 10.
      assert.strictEqual(pngInflatedSize(3, 3, 8, 2, false), 30);
      assert.strictEqual(pngInflatedSize(3, 3, 8, 2, true), 33);
      // 1-bit grayscale rows round up to whole bytes.
      assert.strictEqual(pngInflatedSize(9, 1, 1, 0, false), 3);
    });

    it('decodes a valid interlaced PNG, whose data is exactly its declared size', () => {
      const pixel = (x: number, y: number) => [(x * 20) % 256, (y * 30) % 256, (x * y) % 256];
      for (const [width, height] of [
        [7, 5],
        [1, 1],
        [9, 17],
      ]) {
        const image = decodeImage(interlacedPng(width, height, pixel));
        assert.deepStrictEqual([image.width, image.height], [width, height]);
        for (let y = 0; y < height; y++) {
          for (let x = 0; x < width; x++) assert.deepStrictEqual([...image.data.subarray((y * width + x) * 3, (y * width + x) * 3 + 3)], pixel(x, y));
        }
      }
    });

    it('refuses an interlaced PNG whose data inflates past its declared size, without inflating it', async () => {
      const bytes = interlacedBombPng();
      assert.ok(bytes.length < 1.5 * 2 ** 20, `${bytes.length} bytes`);
      const declared = pngInflatedSize(1000, 1000, 8, 2, true);
      const err = await refusalWithoutGrowth(() => decodeImage(bytes, { name: 'bomb.png' }));
      assert.strictEqual(err.message, `bomb.png is a corrupt PNG: its image data inflates to more than the ${declared} bytes its header declares`);
    });

    for (const where of ['after the first', 'before the end'] as const) {
      it(`refuses a JPEG with a second, huge frame header ${where}`, async () => {
        const err = await refusalWithoutGrowth(() => decodeImage(jpegWithSecondFrame(where), { name: 'two.jpg' }));
        assert.match(err.message, /^two\.jpg is a corrupt JPEG: it has a second frame header \(SOF\) at byte \d+$/);
      });
    }
  });

  describe('model inputs and resize targets', () => {
    it('refuses a declared input of 2147483647×2147483647 pixels, naming it, the limit and the flag', async () => {
      const file = write('huge.onnx', encodeModel(poolModel([1, 3, 2147483647, 2147483647])));
      const ctx = ModelContext.open(file, { provider: 'cpu', decode: { limitHint: 'raise it with --max-megapixels' } });
      try {
        const err = await refusalWithoutGrowth(() => ctx.loadInput(STAR));
        assert.strictEqual(
          err.message,
          'cannot preprocess images for huge.onnx: the model input [1, 3, 2147483647, 2147483647] declares 2147483647×2147483647 pixels (4610000000000 megapixels), over the limit of 50 megapixels; raise it with --max-megapixels',
        );
        const probe = await refusalWithoutGrowth(() => ctx.model.layers());
        assert.ok(probe instanceof SizeLimitError);
        assert.strictEqual(
          probe.message,
          "the model input 'input' declares shape [1, 3, 2147483647, 2147483647] (1.38e+19 values), over the limit of 1.50e+8 values (3 per pixel of the 50-megapixel image limit); raise it with --max-megapixels",
        );
      } finally {
        await ctx.dispose();
      }
    });

    it('refuses int64-max and negative dims as no size at all', async () => {
      const file = write('int64max.onnx', encodeModel(poolModel([1, 3, '9223372036854775807', '9223372036854775807'])));
      const ctx = ModelContext.open(file, { provider: 'cpu' });
      try {
        const err = await refusalWithoutGrowth(() => ctx.model.layers());
        assert.strictEqual(err.message, "the model input 'input' declares dimension 9.22e+18, which is not a size (a whole number from 0 to 2^53); the model file is corrupt");
        await refusalWithoutGrowth(() => ctx.loadInput(STAR));
      } finally {
        await ctx.dispose();
      }
      assert.throws(() => concreteInputDims([1, 3, -5, 8]), /^Error: the model input \[1, 3, -5, 8\] declares dimension -5, which is not a size/);
      assert.deepStrictEqual(concreteInputDims(['N', 3, 'H', 'W']), [1, 3, 224, 224]);
    });

    it('refuses a size of 20000×20000 from model metadata, and resizeTo from settings', async () => {
      const file = write('meta.onnx', encodeModel(poolModel(['N', 3, 'H', 'W'], { size: [20000, 20000] })));
      const ctx = ModelContext.open(file, { provider: 'cpu', decode: { limitHint: 'raise it with the setting convlens.maxImagePixels' } });
      try {
        const err = await refusalWithoutGrowth(() => ctx.loadInput(STAR));
        assert.strictEqual(
          err.message,
          "cannot preprocess images for meta.onnx: model metadata 'convlens.preprocess' sets size 20000×20000 pixels (400 megapixels), over the limit of 50 megapixels; raise it with the setting convlens.maxImagePixels",
        );
      } finally {
        await ctx.dispose();
      }
      const resized = () => resolvePreprocessing({ inputShape: ['N', 3, 'H', 'W'], settings: { resize: 'shorter-side-crop', resizeTo: 30000 }, limits: { limitHint: 'raise it' } });
      assert.throws(
        resized,
        /^SizeLimitError: settings sets resizeTo 30000, a resize to at least 30000×30000 pixels \(900 megapixels\), over the limit of 50 megapixels; raise it$/,
      );
      assert.strictEqual(resolvePreprocessing({ inputShape: ['N', 3, 'H', 'W'], settings: { size: 20000 }, limits: { maxPixels: 4e8 } }).spec.size[0], 20000);
    });

    it('refuses the shorter-side resize of a very elongated image', async () => {
      const spec = resolvePreprocessing({ inputShape: [1, 3, 224, 224], settings: { resize: 'shorter-side-crop' } }).spec;
      const thin = { width: 100000, height: 1, data: new Uint8Array(300000) };
      const err = await refusalWithoutGrowth(() => preprocessImage(thin, spec));
      assert.match(err.message, /^resizing the 100000×1 image to a shorter side of 256 gives 25600000×256 pixels \(6550 megapixels\), over the limit of 50 megapixels/);
    });
  });

  describe('.npy shapes', () => {
    it('refuses a uint8 .npy image of huge declared shape by the pixel limit, before reading its body', async () => {
      const ctx = ModelContext.open(SAMPLE_MODEL, { provider: 'cpu', decode: { limitHint: 'raise it with --max-megapixels' } });
      try {
        const image = write('image.npy', npyDeclaring('uint8', [100000, 100000, 3]));
        const err = await refusalWithoutGrowth(() => ctx.loadInput(image));
        assert.strictEqual(err.message, 'image.npy declares an image of 100000×100000 pixels (10000 megapixels), over the limit of 50 megapixels; raise it with --max-megapixels');
        const tensor = write('tensor.npy', npyDeclaring('float32', [1, 3, 100000, 100000]));
        const refused = await refusalWithoutGrowth(() => ctx.loadInput(tensor));
        assert.strictEqual(
          refused.message,
          'tensor.npy declares shape [1, 3, 100000, 100000] (3.00e+10 values), over the limit of 1.50e+8 values (3 per pixel of the 50-megapixel image limit); raise it with --max-megapixels',
        );
        const bigDim = write('bigdim.npy', npyDeclaring('float32', [1, 1e20]));
        assert.match((await refusalWithoutGrowth(() => ctx.loadInput(bigDim))).message, /^bigdim\.npy: the \.npy header declares dimension '100000000000000000000', not a size/);
      } finally {
        await ctx.dispose();
      }
    });
  });

  describe('the limit reaches the worker and the CLI', () => {
    it('the worker reads images under the limit given by the setting, file or dropped bytes', async () => {
      const client = new ComputeClient(path.join(ROOT, 'out/src/compute/worker.js'));
      try {
        // Under the 451×300 photo, over the sample model's 64×64 input.
        const decode = { maxPixels: 100_000, limitHint: 'raise it with the setting convlens.maxImagePixels' };
        await client.call('openModel', { modelPath: SAMPLE_MODEL, provider: 'cpu', decode });
        const refusal = /^chelsea\.png declares 451×300 pixels \(0\.135 megapixels\), over the limit of 0\.1 megapixels; raise it with the setting convlens\.maxImagePixels$/;
        const refused = (err: Error) => refusal.test(err.message);
        await assert.rejects(client.call('loadImage', { modelPath: SAMPLE_MODEL, imagePath: CHELSEA }), refused);
        await assert.rejects(client.call('loadImage', { modelPath: SAMPLE_MODEL, base64: fs.readFileSync(CHELSEA).toString('base64'), name: 'chelsea.png' }), refused);
        assert.strictEqual((await client.call('loadImage', { modelPath: SAMPLE_MODEL, imagePath: STAR })).name, 'star.png');
      } finally {
        await client.dispose();
      }
    });

    const convlens = (...args: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'bin/convlens.js'), ...args], { encoding: 'utf8' });
    const oneLine = (stderr: string): string => {
      const lines = stderr.trim().split('\n');
      assert.strictEqual(lines.length, 1, stderr);
      return lines[0];
    };

    it('refuses a hostile model and hostile files with one line and a non-zero exit', () => {
      const model = write('cli-huge.onnx', encodeModel(poolModel([1, 3, 2147483647, 2147483647])));
      const huge = convlens('predict', model, STAR);
      assert.strictEqual(huge.status, 1);
      assert.match(oneLine(huge.stderr), /^convlens predict: cannot preprocess images for cli-huge\.onnx: .* over the limit of 50 megapixels; raise it with --max-megapixels$/);
      const png = convlens('predict', SAMPLE_MODEL, write('cli-double.png', doubleIhdrPng()));
      assert.strictEqual(png.status, 1);
      assert.strictEqual(oneLine(png.stderr), 'convlens predict: cli-double.png is a corrupt PNG: it has a second IHDR chunk at byte 33');
      const npy = convlens('predict', SAMPLE_MODEL, write('cli-image.npy', npyDeclaring('uint8', [100000, 100000, 3])), '--max-megapixels', '60');
      assert.strictEqual(npy.status, 1);
      assert.strictEqual(
        oneLine(npy.stderr),
        'convlens predict: cli-image.npy declares an image of 100000×100000 pixels (10000 megapixels), over the limit of 60 megapixels; raise it with --max-megapixels',
      );
    });

    it('validates --max-megapixels and says its real default', () => {
      for (const value of ['abc', '0', '-3']) {
        const run = convlens('predict', SAMPLE_MODEL, STAR, `--max-megapixels=${value}`);
        assert.strictEqual(run.status, 1);
        assert.strictEqual(oneLine(run.stderr), `convlens predict: --max-megapixels takes a positive number of megapixels, got '${value}'`);
      }
      const help = convlens('--help');
      assert.match(help.stdout, new RegExp(`--max-megapixels N {6}largest image read, in megapixels \\(default ${DEFAULT_MAX_PIXELS / 1e6}\\)`));
      assert.strictEqual(DEFAULT_MAX_PIXELS / 1e6, 50);
    });
  });
});
