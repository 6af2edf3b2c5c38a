// What an exported explanation holds: PNG text chunks that readers decode (CRC by zlib), the region
// of the original image the model saw, and, through the worker, the view's colormap and opacity
// over the original image at its own resolution.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { PNG } from 'pngjs';
import { colorize, colormapTable } from '../../src/core/image/colormap';
import { withTextChunks } from '../../src/core/image/png-text';
import { resizeBilinear } from '../../src/core/image/resize';
import { modelRegion, PreprocessSpec } from '../../src/core/preprocess';
import { ComputeClient } from '../../src/compute/client';

const ROOT = path.resolve(__dirname, '../../..');

/** Every chunk of a PNG: type, data, and whether its CRC is right (zlib's CRC-32, independent of ours). */
function chunks(png: Uint8Array): { type: string; data: Buffer; crcOk: boolean }[] {
  const b = Buffer.from(png);
  const out: { type: string; data: Buffer; crcOk: boolean }[] = [];
  for (let at = 8; at < b.length;) {
    const length = b.readUInt32BE(at);
    const type = b.toString('latin1', at + 4, at + 8);
    out.push({ type, data: b.subarray(at + 8, at + 8 + length), crcOk: zlib.crc32(b.subarray(at + 4, at + 8 + length)) === b.readUInt32BE(at + 8 + length) });
    at += 12 + length;
  }
  return out;
}

/** tEXt (Latin-1) and iTXt (UTF-8, uncompressed) entries of a PNG. */
function texts(png: Uint8Array): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const c of chunks(png)) {
    const nul = c.data.indexOf(0);
    if (c.type === 'tEXt') entries[c.data.toString('latin1', 0, nul)] = c.data.toString('latin1', nul + 1);
    if (c.type === 'iTXt') {
      const lang = c.data.indexOf(0, nul + 3);
      const translated = c.data.indexOf(0, lang + 1);
      entries[c.data.toString('latin1', 0, nul)] = c.data.toString('utf8', translated + 1);
    }
  }
  return entries;
}

describe('export: PNG metadata and original resolution', function () {
  it('adds tEXt chunks after IHDR, iTXt for text beyond Latin-1; the image still decodes', () => {
    const png = new PNG({ width: 3, height: 2 });
    png.data.fill(200);
    const plain = new Uint8Array(PNG.sync.write(png));
    const tagged = withTextChunks(plain, [
      ['Method', 'gradcam'],
      ['Target', 'café (#2)'],
      ['Source', 'зонт.png'],
    ]);
    const list = chunks(tagged);
    assert.deepStrictEqual(list.map((c) => c.type).slice(0, 4), ['IHDR', 'tEXt', 'tEXt', 'iTXt']);
    assert.ok(
      list.every((c) => c.crcOk),
      'every chunk CRC matches zlib.crc32',
    );
    assert.deepStrictEqual(texts(tagged), { Method: 'gradcam', Target: 'café (#2)', Source: 'зонт.png' });
    const decoded = PNG.sync.read(Buffer.from(tagged));
    assert.deepStrictEqual([decoded.width, decoded.height, decoded.data[0]], [3, 2, 200]);
    assert.throws(() => withTextChunks(plain, [['', 'x']]), /keyword/);
  });

  it('the region the model sees: all of a stretched image; the centre crop scaled back (torchvision Resize(256) + CenterCrop(224))', () => {
    const spec = { size: [224, 224], resize: 'crop', resizeTo: 256 } as unknown as PreprocessSpec;
    // 300×200: the shorter side 200 → 256 (×1.28), the longer 384; the crop starts at (16, 80) in resized pixels.
    assert.deepStrictEqual(modelRegion(300, 200, spec), { top: 16 / 1.28, left: 80 / 1.28, height: 224 / 1.28, width: 224 / 1.28 });
    assert.deepStrictEqual(modelRegion(300, 200, { ...spec, resize: 'stretch' } as PreprocessSpec), { top: 0, left: 0, height: 200, width: 300 });
  });

  describe('through the worker on the sample model', () => {
    const MODEL = path.join(ROOT, 'sample/shapes.onnx');
    let client: ComputeClient;
    let big: { file: string; width: number; height: number; data: Buffer };
    before(() => {
      // The sample's 64×64 circle scaled ×2 by nearest neighbour: an original larger than the model's input.
      const small = PNG.sync.read(fs.readFileSync(path.join(ROOT, 'sample/dataset/test/circle/0.png')));
      const png = new PNG({ width: small.width * 2, height: small.height * 2 });
      for (let y = 0; y < png.height; y++)
        for (let x = 0; x < png.width; x++)
          small.data.copy(png.data, (y * png.width + x) * 4, ((y >> 1) * small.width + (x >> 1)) * 4, ((y >> 1) * small.width + (x >> 1)) * 4 + 4);
      big = { file: path.join(ROOT, 'out', 'export-circle-128.png'), width: png.width, height: png.height, data: png.data };
      fs.writeFileSync(big.file, PNG.sync.write(png));
      client = new ComputeClient(path.join(ROOT, 'out/src/compute/worker.js'));
    });
    after(() => client.dispose());

    it('writes the map in the chosen colormap and opacity over the original pixels, at the original size, with the settings as text', async () => {
      await client.call('openModel', { modelPath: MODEL, provider: 'cpu' });
      const { id: imageId } = await client.call('loadImage', { modelPath: MODEL, imagePath: big.file });
      const e = await client.call('explain', { modelPath: MODEL, imageId, method: 'gradcam', layer: 'auto', target: { kind: 'top' } });
      // The map as the view draws it (the values the view gets), upsampled to the original size.
      const upsampled = resizeBilinear(e.map.values, e.map.height, e.map.width, big.height, big.width);
      const jet = colorize(upsampled, big.width, big.height, 'jet');

      const full = await client.call('exportExplanation', { explanationId: e.id, format: 'png', colormap: 'jet', opacity: 1 });
      const shown = PNG.sync.read(Buffer.from(full.bytes));
      assert.deepStrictEqual([shown.width, shown.height], [big.width, big.height], "exported at the original resolution, not the model's 64×64");
      let worst = 0;
      for (let p = 0; p < big.width * big.height; p++) for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(shown.data[p * 4 + c] - jet[p * 4 + c]));
      // The view gets the values rounded to 1e-4: a value on a table boundary may take the
      // neighbouring entry, so at most one step of the jet table apart.
      const table = colormapTable('jet');
      let step = 0;
      for (let i = 3; i < table.length; i++) step = Math.max(step, Math.abs(table[i] - table[i - 3]));
      assert.ok(worst <= step, `opacity 1 shows the jet-coloured map (largest difference ${worst}, one table step ${step})`);

      const bare = PNG.sync.read(Buffer.from((await client.call('exportExplanation', { explanationId: e.id, format: 'png', colormap: 'viridis', opacity: 0 })).bytes));
      for (let i = 0; i < big.data.length; i += 4) for (let c = 0; c < 3; c++) assert.strictEqual(bare.data[i + c], big.data[i + c], 'opacity 0 shows the original pixels');

      const half = await client.call('exportExplanation', { explanationId: e.id, format: 'png', colormap: 'jet', opacity: 0.6 });
      const meta = texts(half.bytes);
      assert.strictEqual(meta.Method, 'gradcam');
      assert.strictEqual(meta.Colormap, 'jet');
      assert.strictEqual(meta.Opacity, '0.6');
      assert.strictEqual(meta.Layer, e.layer);
      assert.match(meta.Target, /^circle \(#\d+\)$/);
      assert.strictEqual(
        meta.Command,
        `convlens explain ${MODEL} ${big.file} --method gradcam --layer ${e.layer} --target ${e.target.kind === 'class' ? e.target.index : -1} --colormap jet --opacity 0.6 --out export-circle-128-gradcam.png`,
      );
    });
  });
});
