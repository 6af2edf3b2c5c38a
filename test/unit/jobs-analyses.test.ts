// The dataset and inside-the-network jobs through ComputeClient and the real worker, on the sample
// model (sample/shapes.onnx), its labelled test set (sample/dataset, 4 classes × 40 images) and
// the CNN–Transformer hybrid (test/models/hybrid) for attention.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PNG } from 'pngjs';
import { attentionMaps, queryMap, tokenGrid } from '../../src/core/inside/attention';
import { ModelContext } from '../../src/core/context';
import { ComputeClient } from '../../src/compute/client';
import { CancelledError } from '../../src/core/cancel';
import type { DatasetView, MapData } from '../../src/protocol';

const ROOT = path.resolve(__dirname, '../../..');
const WORKER = path.join(ROOT, 'out/src/compute/worker.js');
const MODEL = path.join(ROOT, 'sample/shapes.onnx');
const DATASET = path.join(ROOT, 'sample/dataset');
const HYBRID = path.join(ROOT, 'test/models/hybrid/hybrid.onnx');
const LAYER = '/block4/relu/Relu_output_0';
const CLASSES = ['circle', 'square', 'star', 'triangle'];

function png(dataUrl: string): PNG {
  assert.match(dataUrl, /^data:image\/png;base64,/);
  return PNG.sync.read(Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64'));
}

function inUnitRange(map: MapData): boolean {
  return map.values.length === map.width * map.height && map.values.every((v) => v >= 0 && v <= 1);
}

describe('compute worker: dataset jobs on the sample dataset', function () {
  let client: ComputeClient;
  let cacheDir: string;
  let datasetId: string;
  let view: DatasetView;

  before(async function () {
    if (!fs.existsSync(MODEL) || !fs.existsSync(DATASET)) this.skip();
    client = new ComputeClient(WORKER);
    await client.call('openModel', { modelPath: MODEL, provider: 'cpu' });
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-jobs-cache-'));
    const progress: number[] = [];
    ({ datasetId, view } = await client.call('datasetFeatures', { modelPath: MODEL, folder: DATASET, layer: LAYER, cacheDir }, { onProgress: (f) => progress.push(f) }));
    assert.ok(progress.length > 1 && progress.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= progress[i - 1])), 'progress rises within [0, 1]');
  });
  after(async () => {
    await client?.dispose();
    if (cacheDir) fs.rmSync(cacheDir, { recursive: true, force: true });
  });

  it('summarises the folder: 160 labelled images, the sidecar classes, accuracy from the predictions, thumbnails', () => {
    assert.strictEqual(view.images.length, 160);
    assert.deepStrictEqual(view.classNames, CLASSES);
    assert.deepStrictEqual(view.layerShape, [64, 8, 8]);
    assert.strictEqual(view.unlabelled, 0);
    const correct = view.images.filter((im) => im.label === im.prediction).length;
    assert.strictEqual(view.accuracy, correct / 160);
    assert.deepStrictEqual(
      view.classes.map((c) => c.labelled),
      [40, 40, 40, 40],
    );
    assert.strictEqual(
      view.confusion.flat().reduce((a, b) => a + b, 0),
      160,
    );
    assert.deepStrictEqual(view.cache, { computed: 160, cached: 0, modelRuns: 5, stored: true });
    const thumb = png(view.images[0].thumbnail!);
    assert.deepStrictEqual([thumb.width, thumb.height], [64, 64]);
    assert.ok(view.images.every((im) => im.confidence > 0.25 && im.confidence <= 1));
    assert.ok(fs.existsSync(path.join(DATASET, 'boxes.json')));
    assert.strictEqual(view.marks, undefined, 'its boxes.json holds object boxes, no marks: no marks file is offered');
  });

  it('predicts each dataset image as the predict job does for the same file, and reads the cache the second time', async () => {
    const index = view.images.findIndex((im) => im.relPath === 'test/triangle/7.png');
    const image = await client.call('loadImage', { modelPath: MODEL, imagePath: path.join(DATASET, 'test/triangle/7.png') });
    const top = await client.call('predict', { modelPath: MODEL, imageId: image.id, topK: 1 });
    assert.strictEqual(top[0].index, view.images[index].prediction);
    assert.ok(Math.abs(top[0].probability - view.images[index].confidence) < 1e-4);
    const again = await client.call('datasetFeatures', { modelPath: MODEL, folder: DATASET, layer: '/block4/relu/Relu', cacheDir });
    assert.deepStrictEqual(again.view.cache, { computed: 0, cached: 160, modelRuns: 0, stored: true });
    assert.deepStrictEqual(
      again.view.images.map((im) => im.prediction),
      view.images.map((im) => im.prediction),
    );
  });

  it("distils rules that cover every image once, with each tested channel's top patches cut at its receptive field", async () => {
    const rules = await client.call('datasetRules', { datasetId, depth: 2, minLeaf: 5 });
    assert.strictEqual(rules.depth, 2);
    assert.strictEqual(rules.trainImages + rules.testImages, 160);
    assert.strictEqual(
      rules.rules.reduce((n, r) => n + r.all.images, 0),
      160,
    );
    assert.ok(rules.rules.every((r) => r.conditions.length >= 1 && r.conditions.length <= 2 && CLASSES.includes(r.className)));
    assert.ok(rules.fidelity.test >= 0 && rules.fidelity.test <= 1 && rules.accuracy !== undefined);
    assert.ok(rules.text.includes(`fidelity to the network: ${(100 * rules.fidelity.test).toFixed(1)}% held out`));
    const tested = [...new Set(rules.rules.flatMap((r) => r.conditions.map((c) => c.channel)))].sort((a, b) => a - b);
    assert.deepStrictEqual(
      rules.channels.map((c) => c.channel).sort((a, b) => a - b),
      tested,
    );
    for (const channel of rules.channels) {
      assert.strictEqual(channel.patches.length, 6);
      assert.strictEqual(channel.fieldProblem, undefined);
      const activations = channel.patches.map((p) => p.activation);
      assert.deepStrictEqual(
        activations,
        [...activations].sort((a, b) => b - a),
        'strongest patch first',
      );
      for (const p of channel.patches) {
        const [x0, y0, x1, y1] = p.box;
        // block4's theoretical field is 38×38 pixels, clipped to the 64×64 input.
        assert.ok(x1 - x0 <= 38 && y1 - y0 <= 38 && x0 >= 0 && y0 >= 0 && x1 <= 64 && y1 <= 64, `box ${p.box}`);
        const crop = png(p.crop);
        assert.deepStrictEqual([crop.width, crop.height], [x1 - x0, y1 - y0]);
        assert.ok(inUnitRange(p.map) && p.map.width === 8);
      }
      assert.strictEqual(Math.max(...channel.patches[0].map.values), 1, 'maps are scaled by the peak over the shown patches');
    }
  });

  it('exports the last rules as JSON (the tree included) and as the text shown', async () => {
    const rules = await client.call('datasetRules', { datasetId, depth: 3, minLeaf: 8 });
    const json = JSON.parse(Buffer.from((await client.call('exportRules', { datasetId, format: 'json' })).bytes).toString('utf8'));
    assert.strictEqual(json.rules.length, rules.rules.length);
    assert.strictEqual(json.minLeaf, 8);
    assert.ok(json.tree.root);
    const text = await client.call('exportRules', { datasetId, format: 'txt' });
    assert.strictEqual(Buffer.from(text.bytes).toString('utf8'), `${rules.text}\n`);
    assert.strictEqual(text.suggestedName, 'rules-dataset-block4_relu_Relu_output_0.txt');
  });

  it('maps the feature space with PCA and UMAP, one point per image', async () => {
    const misclassified = view.images.filter((im) => im.label !== im.prediction).length;
    const pca = await client.call('datasetMap', { datasetId, method: 'pca' });
    assert.strictEqual(pca.count, 160);
    assert.strictEqual(pca.misclassified, misclassified);
    assert.ok(pca.explainedVarianceRatio![0] >= pca.explainedVarianceRatio![1]);
    const umap = await client.call('datasetMap', { datasetId, method: 'umap' });
    const xy = new Float32Array(Uint8Array.from(Buffer.from(umap.xy, 'base64')).buffer);
    assert.deepStrictEqual([umap.method, umap.count, xy.length], ['umap', 160, 320]);
    assert.ok(xy.every(Number.isFinite));
  });

  it("gives one channel's mean over each image, as the activations of that image say, and refuses a channel the layer lacks", async () => {
    const channel = 5;
    const result = await client.call('datasetChannelValues', { datasetId, channel, pooling: 'mean' });
    // Values travel as bytes: round(255 × value / max) of the non-negative pooled activations.
    const bytes = Uint8Array.from(Buffer.from(result.values, 'base64'));
    assert.strictEqual(bytes.length, view.images.length);
    for (const i of [0, 57]) {
      const image = await client.call('loadImage', { modelPath: MODEL, imagePath: path.join(DATASET, view.images[i].relPath) });
      const activations = await client.call('activations', { modelPath: MODEL, imageId: image.id, layer: LAYER, target: { kind: 'top' } });
      const mean = activations.channels[channel].mean;
      // Half a step of the 8-bit quantisation, plus float32 summation order.
      assert.ok(
        Math.abs((bytes[i] / 255) * result.max - Math.max(0, mean)) <= result.max / 510 + 1e-5 * Math.max(1, Math.abs(mean)),
        `image ${i}: ${bytes[i]} of ${result.max} vs ${mean}`,
      );
    }
    const channels = view.layerShape[0];
    await assert.rejects(client.call('datasetChannelValues', { datasetId, channel: channels, pooling: 'max' }), new RegExp(`has channels 0 to ${channels - 1}`));
  });

  it('finds a dataset image itself as its own nearest neighbour, then similar images', async () => {
    const image = await client.call('loadImage', { modelPath: MODEL, imagePath: path.join(DATASET, 'test/star/3.png') });
    const result = await client.call('datasetNeighbors', { datasetId, imageId: image.id, k: 5 });
    assert.strictEqual(result.neighbors.length, 5);
    assert.strictEqual(result.neighbors[0].relPath, 'test/star/3.png');
    assert.ok(result.neighbors[0].distance < 1e-5);
    assert.strictEqual(view.images[result.neighbors[0].image].relPath, 'test/star/3.png');
    const distances = result.neighbors.map((n) => n.distance);
    assert.deepStrictEqual(
      distances,
      [...distances].sort((a, b) => a - b),
    );
    assert.strictEqual(result.metric, 'cosine');
  });

  it('ranks channels for a class by gradient × activation, and ablates the chosen ones', async () => {
    const gradient = await client.call('datasetImportance', { datasetId, classIndex: 2, method: 'gradient' });
    assert.strictEqual(gradient.className, 'star');
    assert.strictEqual(gradient.channels.length, 64);
    assert.strictEqual(gradient.images, view.images.filter((im) => im.prediction === 2).length);
    const scores = gradient.channels.map((c) => c.score);
    assert.deepStrictEqual(
      scores,
      [...scores].sort((a, b) => b - a),
    );
    const top = gradient.channels.slice(0, 4).map((c) => c.channel);
    const ablation = await client.call('datasetImportance', { datasetId, classIndex: 2, method: 'ablation', channels: top });
    assert.strictEqual(ablation.method, 'ablation');
    assert.deepStrictEqual(ablation.channels.map((c) => c.channel).sort(), [...top].sort());
    assert.ok(ablation.channels[0].score > 0, 'zeroing the most important channel lowers the star logit');
  });

  it('cancels a feature extraction between batches', async () => {
    const controller = new AbortController();
    const run = client.call('datasetFeatures', { modelPath: MODEL, folder: DATASET, layer: LAYER }, { signal: controller.signal, onProgress: () => controller.abort() });
    await assert.rejects(run, CancelledError);
    assert.strictEqual(client.pendingCount, 0);
  });

  it('says a dataset is gone once its model was reopened', async () => {
    await client.call('openModel', { modelPath: MODEL, provider: 'cpu' });
    await assert.rejects(client.call('datasetMap', { datasetId, method: 'pca' }), /no longer loaded.*extract its features again/);
  });
});

describe('compute worker: inside-the-network jobs', function () {
  let client: ComputeClient;
  let imageId: string;

  before(async function () {
    if (!fs.existsSync(MODEL)) this.skip();
    client = new ComputeClient(WORKER);
    await client.call('openModel', { modelPath: MODEL, provider: 'cpu' });
    imageId = (await client.call('loadImage', { modelPath: MODEL, imagePath: path.join(DATASET, 'test/circle/0.png') })).id;
  });
  after(() => client?.dispose());

  it('lists the theoretical receptive fields: 3×3 after conv1, 38×38 with jump 8 at block4', async () => {
    const view = await client.call('receptiveFields', { modelPath: MODEL });
    assert.deepStrictEqual(view.inputSize, [64, 64]);
    const field = (tensor: string) => view.fields.find((f) => f.tensor === tensor)!;
    assert.deepStrictEqual(
      [field('/conv1/Conv_output_0').size, field('/conv1/Conv_output_0').jump],
      [
        [3, 3],
        [1, 1],
      ],
    );
    assert.deepStrictEqual(
      [field(LAYER).size, field(LAYER).jump],
      [
        [38, 38],
        [8, 8],
      ],
    );
    assert.ok(field('logits').global);
  });

  it('measures the effective receptive field of a layer within its theoretical one', async () => {
    const e = await client.call('effectiveField', { modelPath: MODEL, layer: '/block2/relu/Relu', samples: 2 });
    assert.strictEqual(e.layer, '/block2/relu/Relu_output_0');
    assert.deepStrictEqual(e.theoretical, [8, 8]);
    assert.ok(inUnitRange(e.map) && e.map.width === 64);
    const [y0, x0, y1, x1] = e.box;
    assert.ok(y1 - y0 <= 8 && x1 - x0 <= 8 && e.area > 0 && e.area <= 64, `box ${e.box}, area ${e.area}`);
  });

  it('draws the 16 first-layer kernels as one RGB montage', async () => {
    const k = await client.call('kernels', { modelPath: MODEL });
    assert.deepStrictEqual([k.count, k.inChannels, k.kernelSize, k.rgb], [16, 3, [3, 3], true]);
    const image = png(k.montage);
    // 4 × 4 kernels of 3 × 8 = 24 pixels with 2-pixel gaps.
    assert.deepStrictEqual([image.width, image.height], [102, 102]);
    assert.deepStrictEqual(k.montageSize, [102, 102]);
  });

  it('visualises channels of a layer, then reads them from the cache', async () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-jobs-gallery-'));
    try {
      const first = await client.call('featureGallery', { modelPath: MODEL, layer: '/block2/relu/Relu_output_0', count: 2, steps: 4, cacheDir });
      assert.deepStrictEqual([first.items.map((i) => i.channel), first.cached], [[0, 1], 0]);
      const image = png(first.items[0].image);
      assert.deepStrictEqual([image.width, image.height], [64, 64]);
      const second = await client.call('featureGallery', { modelPath: MODEL, layer: '/block2/relu/Relu', count: 2, steps: 4, cacheDir });
      assert.strictEqual(second.cached, 2);
      assert.deepStrictEqual(second.items, first.items);
    } finally {
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it('visualises the channels asked for by number, and names the channels a layer has when one is missing', async () => {
    const chosen = await client.call('featureGallery', { modelPath: MODEL, layer: '/block2/relu/Relu_output_0', count: 2, steps: 4, channels: [31, 5] });
    assert.deepStrictEqual(
      chosen.items.map((i) => i.channel),
      [31, 5],
    );
    await assert.rejects(
      client.call('featureGallery', { modelPath: MODEL, layer: '/block2/relu/Relu_output_0', count: 1, steps: 4, channels: [32] }),
      /has 32 channels \(0–31\); there is no channel 32/,
    );
  });

  it('cancels a feature visualisation promptly', async () => {
    const controller = new AbortController();
    const run = client.call('featureGallery', { modelPath: MODEL, layer: LAYER, count: 8, steps: 2000 }, { signal: controller.signal, onProgress: () => controller.abort() });
    await assert.rejects(run, CancelledError);
    assert.strictEqual(client.pendingCount, 0);
  });

  it('shows the activations of a layer named by its node, as the panel names layers', async () => {
    const view = await client.call('activations', { modelPath: MODEL, imageId, layer: '/block4/relu/Relu', target: { kind: 'top' } });
    assert.strictEqual(view.layer, LAYER);
    assert.strictEqual(view.channels.length, 64);
  });

  it('says the sample CNN has no self-attention', async () => {
    const view = await client.call('attention', { modelPath: MODEL, imageId });
    assert.deepStrictEqual(view.layers, []);
    assert.match(view.message!, /shapes\.onnx has no self-attention/);
  });

  it('runs the randomisation sanity check of Grad-CAM: one step per weighted layer and a verdict that follows the threshold', async () => {
    const progress: string[] = [];
    const view = await client.call('sanityCheck', { modelPath: MODEL, imageId, method: 'gradcam', layer: 'auto' }, { onProgress: (_, m) => progress.push(m) });
    assert.deepStrictEqual(
      view.steps.map((s) => s.layer),
      ['/head/Gemm', '/block4/conv/Conv', '/block3/conv/Conv', '/block2/conv/Conv', '/conv1/Conv'],
    );
    assert.strictEqual(view.finalSpearman, view.steps[4].spearman);
    assert.strictEqual(view.passed, view.finalSpearman <= view.threshold);
    assert.ok(view.verdict.length > 0 && view.notes.length > 0);
    assert.deepStrictEqual([view.original.width, view.randomized.width], [64, 64]);
    assert.ok(progress.some((m) => m.includes('randomised 5/5')));
  });
});

describe('compute worker: attention job on a CNN–Transformer hybrid', function () {
  let client: ComputeClient;

  before(function () {
    if (!fs.existsSync(HYBRID)) this.skip();
    client = new ComputeClient(WORKER);
  });
  after(() => client?.dispose());

  it("shows the CLS token's attention per layer and head on the 8×8 patch grid, and the rollout", async () => {
    await client.call('openModel', { modelPath: HYBRID, provider: 'cpu' });
    const file = path.join(DATASET, 'test/square/0.png');
    const image = await client.call('loadImage', { modelPath: HYBRID, imagePath: file });
    const view = await client.call('attention', { modelPath: HYBRID, imageId: image.id });
    assert.deepStrictEqual(view.grid, { prefix: 1, rows: 8, cols: 8 });
    assert.strictEqual(view.query, 'cls');
    assert.deepStrictEqual(
      view.layers.map((l) => [l.node, l.heads, l.tokens, l.headMaps.length]),
      [
        ['/layers.0/attn/Softmax', 4, 65, 4],
        ['/layers.1/attn/Softmax', 4, 65, 4],
      ],
    );
    assert.ok(view.rollout && inUnitRange(view.rollout));
    // The same map from the core directly: head 1 of layer 0, CLS row, min-max scaled.
    const ctx = ModelContext.open(HYBRID, { provider: 'cpu' });
    try {
      const maps = await attentionMaps(ctx.model, ctx.loadInput(file).tensor);
      const expected = queryMap(maps[0].probabilities, tokenGrid(65, [64, 64]), { head: 1 }).data;
      const min = Math.min(...expected);
      const max = Math.max(...expected);
      view.layers[0].headMaps[1].values.forEach((v, i) => assert.ok(Math.abs(v - (expected[i] - min) / (max - min)) < 2e-4));
    } finally {
      await ctx.dispose();
    }
  });
});
