// The "Explain all" job through ComputeClient and the real worker, on the sample model
// (sample/shapes.onnx): one card per image of sample/images, each the explain job's map for the
// same file (downsampled) and the predict job's top class; pages that add up to the whole folder;
// a cancel that stops a run over a generated folder; folders outside the allowed roots refused.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PNG } from 'pngjs';
import { ComputeClient } from '../../src/compute/client';
import { CARD_MAP_SIDE } from '../../src/compute/jobs/explain-all';
import { CancelledError } from '../../src/core/cancel';
import { resizeSkimage } from '../../src/core/image/resample';
import type { ExplainAllView, GalleryCardView } from '../../src/protocol';

const ROOT = path.resolve(__dirname, '../../..');
const WORKER = path.join(ROOT, 'out/src/compute/worker.js');
const MODEL = path.join(ROOT, 'sample/shapes.onnx');
const IMAGES = path.join(ROOT, 'sample/images');
const DATASET = path.join(ROOT, 'sample/dataset');
const SETTINGS = { method: 'gradcam', layer: 'auto', target: { kind: 'top' as const } };

function png(dataUrl: string): PNG {
  assert.match(dataUrl, /^data:image\/png;base64,/);
  return PNG.sync.read(Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64'));
}

/** A card without its timing-free parts that must agree between two runs. */
function comparable(c: GalleryCardView) {
  return { index: c.index, relPath: c.relPath, image: c.image, map: c.map, prediction: c.prediction, error: c.error };
}

describe('compute worker: "Explain all" on a folder', function () {
  let client: ComputeClient;
  let whole: ExplainAllView;
  const progress: { fraction: number; message: string }[] = [];

  before(async function () {
    if (!fs.existsSync(MODEL) || !fs.existsSync(IMAGES)) this.skip();
    client = new ComputeClient(WORKER);
    await client.call('openModel', { modelPath: MODEL, provider: 'cpu' });
    whole = await client.call(
      'explainAll',
      { modelPath: MODEL, folder: IMAGES, roots: [ROOT], ...SETTINGS, offset: 0, limit: 64 },
      { onProgress: (fraction, message) => progress.push({ fraction, message }) },
    );
  });
  after(async () => {
    await client?.dispose();
  });

  it('gives one card per image, in the listing order, with its image, map and prediction', () => {
    const files = fs
      .readdirSync(IMAGES)
      .filter((f) => f.endsWith('.png'))
      .sort();
    assert.strictEqual(whole.total, files.length);
    assert.strictEqual(whole.offset, 0);
    assert.deepStrictEqual(
      whole.cards.map((c) => c.relPath),
      files,
    );
    assert.deepStrictEqual(
      whole.cards.map((c) => c.index),
      files.map((_, i) => i),
    );
    assert.strictEqual(whole.layer, '/block4/relu/Relu_output_0', "gradcam's 'auto' layer on the sample model");
    for (const card of whole.cards) {
      assert.strictEqual(card.error, undefined, card.relPath);
      const thumb = png(card.image);
      // The sample images are 64 × 64: no downscaling of the picture, the map halved to 32 × 32.
      assert.deepStrictEqual([thumb.width, thumb.height], [64, 64]);
      assert.deepStrictEqual([card.map!.width, card.map!.height], [CARD_MAP_SIDE, CARD_MAP_SIDE]);
      assert.ok(card.map!.values.every((v) => v >= 0 && v <= 1));
      assert.ok(card.prediction && card.prediction.probability > 0 && card.prediction.probability <= 1);
    }
    // The shapes model knows its shapes: each unmarked image is predicted as its file's name.
    for (const name of ['circle', 'square', 'star', 'triangle']) assert.strictEqual(whole.cards.find((c) => c.relPath === `${name}.png`)!.prediction!.label, name);
  });

  it('reports progress over the folder, rising to 1, with done/total and the time left', () => {
    assert.ok(progress.length >= whole.total);
    assert.ok(progress.every((p, i) => p.fraction >= 0 && p.fraction <= 1 && (i === 0 || p.fraction >= progress[i - 1].fraction)));
    assert.strictEqual(progress.at(-1)!.fraction, 1);
    assert.match(progress.at(-1)!.message, new RegExp(`^gradcam: ${whole.total}/${whole.total} images`));
    assert.ok(
      progress.some((p) => / left$/.test(p.message)),
      'an ETA while images remain',
    );
  });

  it('matches the explain and predict jobs on the same file: the same map (downsampled) and top class', async () => {
    const card = whole.cards.find((c) => c.relPath === 'star.png')!;
    const image = await client.call('loadImage', { modelPath: MODEL, imagePath: path.join(IMAGES, 'star.png') });
    const e = await client.call('explain', { modelPath: MODEL, imageId: image.id, ...SETTINGS });
    const [top] = await client.call('predict', { modelPath: MODEL, imageId: image.id, topK: 1 });
    assert.deepStrictEqual([card.prediction!.index, card.prediction!.label], [top.index, top.label]);
    // The card's class comes from the Grad-CAM run's outputs, in a session that sums in another order.
    assert.ok(Math.abs(card.prediction!.probability - top.probability) <= 1e-6, `${card.prediction!.probability} against ${top.probability}`);
    const small = resizeSkimage({ width: e.map.width, height: e.map.height, channels: 1, data: Float32Array.from(e.map.values) }, CARD_MAP_SIDE, CARD_MAP_SIDE);
    // Both maps are rounded to 1e-4 (the protocol's precision): the explain job's before the
    // downsampling here, the card's after it, so they agree within two roundings.
    const worst = Math.max(...card.map!.values.map((v, i) => Math.abs(v - small.data[i])));
    assert.ok(worst <= 1e-4 + 1e-7, `largest difference ${worst}`);
  });

  it('pages add up to the whole folder: pages of 4 give the same cards as one page', async () => {
    const cards: GalleryCardView[] = [];
    for (let offset = 0; offset < whole.total; offset += 4) {
      const page = await client.call('explainAll', { modelPath: MODEL, folder: IMAGES, roots: [ROOT], ...SETTINGS, offset, limit: 4 });
      assert.strictEqual(page.offset, offset);
      assert.strictEqual(page.total, whole.total);
      assert.strictEqual(page.cards.length, Math.min(4, whole.total - offset));
      cards.push(...page.cards);
    }
    assert.deepStrictEqual(cards.map(comparable), whole.cards.map(comparable));
    const past = await client.call('explainAll', { modelPath: MODEL, folder: IMAGES, roots: [ROOT], ...SETTINGS, offset: whole.total, limit: 4 });
    assert.deepStrictEqual(past.cards, [], 'a page past the end is empty');
  });

  it('stops when cancelled: a run over 120 images ends with CancelledError after a few', async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-explain-all-'));
    try {
      const source = fs.readFileSync(path.join(IMAGES, 'star.png'));
      for (let i = 0; i < 120; i++) fs.writeFileSync(path.join(folder, `${String(i).padStart(3, '0')}.png`), source);
      const controller = new AbortController();
      const seen: number[] = [];
      const run = client.call(
        'explainAll',
        { modelPath: MODEL, folder, roots: [folder], method: 'scorecam', layer: 'auto', target: { kind: 'top' }, offset: 0, limit: 64 },
        {
          signal: controller.signal,
          onProgress: (fraction) => {
            seen.push(fraction);
            if (fraction > 0) controller.abort();
          },
        },
      );
      await assert.rejects(run, CancelledError);
      assert.ok(seen.length > 0 && seen.every((f) => f < 64 / 120), 'it stopped before the end of the page');
      // The worker is free again: the next page still runs.
      const next = await client.call('explainAll', { modelPath: MODEL, folder, roots: [folder], ...SETTINGS, offset: 118, limit: 4 });
      assert.deepStrictEqual(
        next.cards.map((c) => c.relPath),
        ['118.png', '119.png'],
      );
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });

  it('gives an image that cannot be read a card with its reason, and explains the others of its batch', async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-explain-all-bad-'));
    try {
      fs.copyFileSync(path.join(IMAGES, 'star.png'), path.join(folder, 'a.png'));
      fs.writeFileSync(path.join(folder, 'b.png'), 'not a PNG at all');
      fs.copyFileSync(path.join(IMAGES, 'circle.png'), path.join(folder, 'c.png'));
      const result = await client.call('explainAll', { modelPath: MODEL, folder, roots: [folder], ...SETTINGS, offset: 0, limit: 8 });
      assert.deepStrictEqual(
        result.cards.map((c) => [c.relPath, c.prediction?.label, !!c.map, !!c.error]),
        [
          ['a.png', 'star', true, false],
          ['b.png', undefined, false, true],
          ['c.png', 'circle', true, false],
        ],
      );
      assert.strictEqual(result.cards[1].image, '');
      assert.match(result.cards[1].error!, /b\.png/);
      assert.deepStrictEqual(result.cards[0].map, whole.cards.find((c) => c.relPath === 'star.png')!.map, 'the same file gives the same card in any batch');
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });

  it('refuses a folder outside the allowed roots, also through a symlink inside them', async () => {
    await assert.rejects(
      client.call('explainAll', { modelPath: MODEL, folder: DATASET, roots: [IMAGES], ...SETTINGS, offset: 0, limit: 4 }),
      /is not a folder inside the workspace/,
    );
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-explain-all-root-'));
    try {
      fs.symlinkSync(DATASET, path.join(root, 'link'));
      await assert.rejects(
        client.call('explainAll', { modelPath: MODEL, folder: path.join(root, 'link'), roots: [root], ...SETTINGS, offset: 0, limit: 4 }),
        /is not a folder inside the workspace/,
      );
      await assert.rejects(
        client.call('explainAll', { modelPath: MODEL, folder: path.join(root, 'missing'), roots: [root], ...SETTINGS, offset: 0, limit: 4 }),
        /is not a folder inside the workspace/,
      );
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
