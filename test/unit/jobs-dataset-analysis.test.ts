// The error-analysis jobs through ComputeClient and the real worker, on the shortcut sample
// (sample/shapes-shortcut.onnx on sample/dataset-shortcut, 240 labelled images): the compact map
// must carry the same points as the per-image embedding, slices must page what the filter keeps,
// and the rule channels' positions must name the corner mark.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PNG } from 'pngjs';
import { embedDataset } from '../../src/core/dataset/embedding';
import { extractFeatures } from '../../src/core/dataset/features';
import { inputPipelineFor } from '../../src/core/dataset/input';
import { ConvModel } from '../../src/core/model';
import { ComputeClient } from '../../src/compute/client';
import { NO_LABEL, parseWebviewMessage, type DatasetView } from '../../src/protocol';

const ROOT = path.resolve(__dirname, '../../..');
const WORKER = path.join(ROOT, 'out/src/compute/worker.js');
const MODEL = path.join(ROOT, 'sample/shapes-shortcut.onnx');
const CLEAN_MODEL = path.join(ROOT, 'sample/shapes.onnx');
const DATASET = path.join(ROOT, 'sample/dataset-shortcut');
const LAYER = '/block4/relu/Relu_output_0';

function decode<T>(b64: string, make: (buffer: ArrayBuffer) => T): T {
  const bytes = Buffer.from(b64, 'base64');
  return make(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

describe('compute worker: error analysis jobs on the shortcut sample', function () {
  let client: ComputeClient;
  let cacheDir: string;
  let datasetId: string;
  let view: DatasetView;

  before(async function () {
    if (!fs.existsSync(MODEL) || !fs.existsSync(DATASET)) this.skip();
    client = new ComputeClient(WORKER);
    await client.call('openModel', { modelPath: MODEL, provider: 'cpu' });
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-errors-cache-'));
    ({ datasetId, view } = await client.call('datasetFeatures', { modelPath: MODEL, folder: DATASET, layer: LAYER, cacheDir }));
  });
  after(async () => {
    await client?.dispose();
    if (cacheDir) fs.rmSync(cacheDir, { recursive: true, force: true });
  });

  it('sends the map as typed arrays that hold the embedding, labels, predictions and confidences of every image', async () => {
    const map = await client.call('datasetMap', { datasetId, method: 'pca' });
    // The reference: the core's embedding of the same features, read back from the worker's cache.
    const model = ConvModel.load(MODEL, { provider: 'cpu' });
    const input = inputPipelineFor(model, { spec: inputPipelineFor(ConvModel.load(CLEAN_MODEL)).spec });
    const embedding = await embedDataset(await extractFeatures(model, DATASET, { layer: LAYER, cacheDir, input }), { method: 'pca' });
    await model.dispose();
    const n = view.images.length;
    assert.strictEqual(map.count, n);
    const xy = decode(map.xy, (b) => new Float32Array(b));
    const labels = decode(map.labels, (b) => new Uint16Array(b));
    const predictions = decode(map.predictions, (b) => new Uint16Array(b));
    const confidence = decode(map.confidence, (b) => new Uint8Array(b));
    assert.strictEqual(xy.length, 2 * n);
    view.images.forEach((im, i) => {
      assert.strictEqual(xy[2 * i], Math.fround(embedding.points[i].x));
      assert.strictEqual(xy[2 * i + 1], Math.fround(embedding.points[i].y));
      assert.strictEqual(labels[i], im.label ?? NO_LABEL);
      assert.strictEqual(predictions[i], im.prediction);
      assert.strictEqual(confidence[i], Math.round(255 * im.confidence));
    });
    assert.strictEqual(map.misclassified, embedding.misclassified);
  });

  it('lists the confusion, its most confused pairs and the error clusters of the map', async () => {
    const errors = await client.call('datasetErrors', { datasetId, method: 'pca' });
    assert.deepStrictEqual(errors.confusion, view.confusion);
    const wrong = view.images.filter((im) => im.label !== undefined && im.label !== im.prediction).length;
    // Fewer than ten confused pairs: all are listed, and they hold every error.
    assert.ok(errors.pairs.length < 10);
    assert.strictEqual(
      errors.pairs.reduce((a, p) => a + p.count, 0),
      wrong,
    );
    assert.ok(errors.pairs.every((p, i) => p.label !== p.prediction && (i === 0 || p.count <= errors.pairs[i - 1].count)));
    for (const c of errors.clusters) {
      assert.ok(c.members.length >= 3);
      assert.ok(c.members.every((i) => view.images[i].label !== view.images[i].prediction));
    }
    console.log(
      `      ${wrong} errors; pairs ${errors.pairs.map((p) => `${errors.classNames[p.label]}→${errors.classNames[p.prediction]} ${p.count}`).join(', ')}; ${errors.clusters.length} clusters`,
    );
  });

  it('pages a slice by label and correctness with display-sized thumbnails, and a lasso selection', async () => {
    const circle = view.classNames.indexOf('circle');
    const expected = view.images
      .map((im, i) => ({ im, i }))
      .filter(({ im }) => im.label === circle && im.prediction !== circle)
      .map(({ i }) => i);
    const first = await client.call('datasetSlice', { datasetId, filter: { label: circle, correctness: 'wrong' }, offset: 0, pageSize: 4 });
    assert.strictEqual(first.total, expected.length);
    assert.deepStrictEqual(
      first.images.map((im) => im.index),
      expected.slice(0, 4),
    );
    for (const im of first.images) {
      const png = PNG.sync.read(Buffer.from(im.thumbnail.slice(im.thumbnail.indexOf(',') + 1), 'base64'));
      assert.ok(Math.max(png.width, png.height) <= 64);
    }
    const confident = await client.call('datasetSlice', { datasetId, filter: { confidenceMin: 0.9, images: [0, 1, 2, 3, 4, 5] }, offset: 0, pageSize: 48 });
    assert.deepStrictEqual(
      confident.images.map((im) => im.index),
      [0, 1, 2, 3, 4, 5].filter((i) => view.images[i].confidence >= 0.9),
    );
    await assert.rejects(client.call('datasetSlice', { datasetId, filter: { rule: 0 }, offset: 0, pageSize: 4 }), /distil them first/);
  });

  it('places the rule channels and slices by a rule', async () => {
    const rules = await client.call('datasetRules', { datasetId, depth: 3, minLeaf: 5, pooling: 'max', patches: 1 });
    const positions = await client.call('datasetChannelPositions', { datasetId });
    assert.deepStrictEqual(
      positions.channels.map((c) => c.channel),
      rules.channels.map((c) => c.channel),
    );
    for (const c of positions.channels)
      assert.strictEqual(
        c.counts.reduce((a, b) => a + b, 0),
        c.images,
      );
    const flagged = positions.channels.filter((c) => c.likelyShortcut);
    console.log(`      rule channels ${rules.channels.map((c) => c.channel).join(', ')}; flagged ${flagged.map((c) => `${c.channel} (${c.where})`).join(', ') || 'none'}`);
    assert.ok(
      flagged.some((c) => c.where === 'bottom-right corner'),
      'a rule channel of the shortcut model fires in the marked corner',
    );
    const slice = await client.call('datasetSlice', { datasetId, filter: { rule: 0 }, offset: 0, pageSize: 1 });
    assert.strictEqual(slice.total, rules.rules[0].all.images);
  });
});

describe('protocol: the error-analysis requests', () => {
  const slice = (params: Record<string, unknown>) => parseWebviewMessage({ type: 'request', requestId: 's-1', kind: 'datasetSlice', params });
  it('accepts a slice by label, confidence, correctness, rule and chosen images, and refuses malformed ones', () => {
    assert.ok(slice({ filter: { label: 1, confidenceMin: 0.2, confidenceMax: 0.9, correctness: 'wrong', rule: 0, images: [0, 5, 9] }, offset: 0, pageSize: 24 }));
    assert.ok(slice({ filter: {}, offset: 48, pageSize: 1 }));
    for (const bad of [
      { filter: { label: -1 }, offset: 0, pageSize: 24 },
      { filter: { confidenceMax: 2 }, offset: 0, pageSize: 24 },
      { filter: { correctness: 'maybe' }, offset: 0, pageSize: 24 },
      { filter: { where: 'x' }, offset: 0, pageSize: 24 },
      { filter: { images: [0, 1.5] }, offset: 0, pageSize: 24 },
      { filter: [], offset: 0, pageSize: 24 },
      { filter: {}, offset: 0, pageSize: 49 },
    ])
      assert.strictEqual(slice(bad), undefined, JSON.stringify(bad));
    assert.ok(parseWebviewMessage({ type: 'request', requestId: 'p-1', kind: 'datasetChannelPositions', params: { channels: [48] } }));
    assert.strictEqual(parseWebviewMessage({ type: 'request', requestId: 'p-1', kind: 'datasetChannelPositions', params: { channels: [] } }), undefined);
    assert.strictEqual(parseWebviewMessage({ type: 'request', requestId: 'm-1', kind: 'datasetMap', params: { method: 'tsne' } }), undefined);
    assert.strictEqual(parseWebviewMessage({ type: 'request', requestId: 'v-1', kind: 'datasetChannelValues', params: { channel: 3, pooling: 'median' } }), undefined);
  });
});
