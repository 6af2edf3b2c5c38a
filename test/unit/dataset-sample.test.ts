// Dataset tools on the committed sample: sample/shapes.onnx and sample/dataset (4 classes × 40).
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PNG } from 'pngjs';
import { embedDataset } from '../../src/core/dataset/embedding';
import { channelExemplars } from '../../src/core/dataset/exemplars';
import { DatasetFeatures, extractFeatures, rowOf } from '../../src/core/dataset/features';
import { findClassifierHead } from '../../src/core/dataset/head';
import { ablationImportance, gradientImportance } from '../../src/core/dataset/importance';
import { inputPipelineFor } from '../../src/core/dataset/input';
import { nearestNeighbors, neighborsOf } from '../../src/core/dataset/neighbors';
import { distillRules, rulesToText } from '../../src/core/dataset/rules';
import { summarizeDataset } from '../../src/core/dataset/summary';
import { ConvModel } from '../../src/core/model';
import { indexGraph } from '../../src/core/onnx/graph';
import { tensorFromProto, tensorToProto } from '../../src/core/onnx/initializers';
import { encodeModel } from '../../src/core/onnx/proto';
import { cloneModel } from '../../src/core/onnx/surgery';
import { CancelledError } from '../../src/core/cancel';

const ROOT = path.resolve(__dirname, '../../..');
const MODEL = path.join(ROOT, 'sample/shapes.onnx');
const DATASET = path.join(ROOT, 'sample/dataset');
const LAYER = '/block4/relu/Relu_output_0';
// Held-out agreement the distilled rules (depth 3, ≥ 5 images a leaf) must reach on sample/dataset.
const MIN_FIDELITY = 0.8;
// Share of each image's 5 nearest neighbours (cosine, penultimate features) that share its folder label.
const MIN_NEIGHBOUR_AGREEMENT = 0.9;

/** Counts forward passes of a model. */
function countRuns(model: ConvModel): { count: number } {
  const counter = { count: 0 };
  const original = model.run.bind(model);
  model.run = async (...args) => {
    counter.count++;
    return original(...args);
  };
  return counter;
}

function tempDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `convlens-${name}-`));
}

/** A copy of `perClass` images of each class of the sample dataset. */
function smallDataset(perClass: number): string {
  const dir = tempDir('data');
  for (const cls of ['circle', 'square', 'star', 'triangle']) {
    fs.mkdirSync(path.join(dir, cls));
    for (let i = 0; i < perClass; i++) fs.copyFileSync(path.join(DATASET, 'test', cls, `${i}.png`), path.join(dir, cls, `${i}.png`));
  }
  return dir;
}

/** The head's weight for class k and channel c (Gemm, transB = 1 or 0). */
function headWeight(model: ConvModel): (k: number, c: number) => number {
  const head = findClassifierHead(model.graph);
  const node = indexGraph(model.graph).producer.get(head.output)!;
  const init = model.graph.initializer!.find((t) => t.name === node.input[1])!;
  const w = tensorFromProto(init).data as Float32Array;
  const columns = Number(init.dims![1]);
  const transB = Number(node.attribute?.find((a) => a.name === 'transB')?.i ?? 0);
  return (k, c) => w[transB ? k * columns + c : c * columns + k];
}

describe('dataset tools on the sample model', function () {
  let model: ConvModel;
  let features: DatasetFeatures;
  let cacheDir: string;

  before(async function () {
    if (!fs.existsSync(MODEL) || !fs.existsSync(DATASET)) {
      console.log(`    (skipped: ${path.relative(ROOT, MODEL)} or sample/dataset is missing)`);
      this.skip();
    }
    model = ConvModel.load(MODEL, { provider: 'cpu' });
    cacheDir = tempDir('cache');
    features = await extractFeatures(model, DATASET, { layer: LAYER, cacheDir });
  });
  after(async () => {
    await model?.dispose();
    if (cacheDir) fs.rmSync(cacheDir, { recursive: true, force: true });
  });

  it('extracts pooled channels, penultimate features and predictions that match a direct run', async () => {
    assert.strictEqual(features.images.length, 160);
    assert.ok(features.labelled);
    assert.deepStrictEqual(features.classNames, ['circle', 'square', 'star', 'triangle']);
    assert.deepStrictEqual(features.layerShape, [64, 8, 8]);
    assert.strictEqual(features.penultimate, '/flatten/Flatten_output_0');
    const i = features.images.findIndex((im) => im.relPath === 'test/star/3.png');
    const input = inputPipelineFor(model);
    const tensor = input.toTensor(await input.decode(features.images[i].file));
    const out = await model.run({ input: tensor }, [LAYER, features.penultimate]);
    const act = out[LAYER].data as Float32Array;
    for (const c of [0, 17, 63]) {
      const map = act.subarray(c * 64, (c + 1) * 64);
      const mean = map.reduce((s, v) => s + v, 0) / 64;
      const max = Math.max(...map);
      assert.ok(Math.abs(features.meanPooled[i * 64 + c] - mean) < 1e-5);
      assert.strictEqual(features.maxPooled[i * 64 + c], max);
      assert.strictEqual(map[features.maxPosition[i * 64 + c]], max);
    }
    const logits = out.logits.data as Float32Array;
    rowOf(features.logits, i, 4).forEach((v, k) => assert.ok(Math.abs(v - logits[k]) < 1e-4));
    // ShapesNet's penultimate features are the global average of this very layer.
    rowOf(features.penultimateFeatures, i, 64).forEach((v, c) => assert.ok(Math.abs(v - features.meanPooled[i * 64 + c]) < 1e-5));
    features.predictions.forEach((p, j) => {
      const row = rowOf(features.logits, j, 4);
      assert.strictEqual(row[p], Math.max(...row));
    });
  });

  it('reuses the cache (no model run the second time) and recomputes what changed', async () => {
    const data = smallDataset(6);
    const cache = tempDir('cache');
    try {
      const runs = countRuns(model);
      const first = await extractFeatures(model, data, { layer: LAYER, cacheDir: cache, batchSize: 8 });
      assert.deepStrictEqual(first.stats, { computed: 24, cached: 0, modelRuns: 3 });
      assert.strictEqual(runs.count, 3);

      runs.count = 0;
      const second = await extractFeatures(model, data, { layer: LAYER, cacheDir: cache, batchSize: 8 });
      assert.deepStrictEqual(second.stats, { computed: 0, cached: 24, modelRuns: 0 });
      assert.strictEqual(runs.count, 0);
      assert.deepStrictEqual(second.meanPooled, first.meanPooled);
      assert.deepStrictEqual(second.predictions, first.predictions);

      // Change one image: only it is recomputed, and its new features are used.
      const changed = path.join(data, 'star', '2.png');
      const png = PNG.sync.read(fs.readFileSync(changed));
      png.data.fill(0, 0, png.data.length / 2);
      fs.writeFileSync(changed, PNG.sync.write(png));
      runs.count = 0;
      const third = await extractFeatures(model, data, { layer: LAYER, cacheDir: cache, batchSize: 8 });
      assert.deepStrictEqual(third.stats, { computed: 1, cached: 23, modelRuns: 1 });
      const j = third.images.findIndex((im) => im.relPath === 'star/2.png');
      assert.notDeepStrictEqual(rowOf(third.meanPooled, j, 64), rowOf(first.meanPooled, j, 64));

      // Change the model (one bias of the head): nothing cached applies.
      const proto = cloneModel(model.proto);
      const head = indexGraph(proto.graph!).producer.get('logits')!;
      const biasIndex = proto.graph!.initializer!.findIndex((t) => t.name === head.input[2]);
      const bias = tensorFromProto(proto.graph!.initializer![biasIndex]).data as Float32Array;
      bias[0] += 1;
      proto.graph!.initializer![biasIndex] = tensorToProto(head.input[2], { dtype: 'float32', dims: [bias.length], data: bias });
      // Beside its own copy of the preprocessing sidecar and labels, as the sample model has them.
      const variantDir = tempDir('model');
      for (const name of ['shapes.convlens.json', 'shapes.labels.txt']) fs.copyFileSync(path.join(ROOT, 'sample', name), path.join(variantDir, name));
      fs.writeFileSync(path.join(variantDir, 'shapes.onnx'), encodeModel(proto));
      const variant = ConvModel.load(path.join(variantDir, 'shapes.onnx'), { provider: 'cpu' });
      try {
        const fourth = await extractFeatures(variant, data, { layer: LAYER, cacheDir: cache, batchSize: 8 });
        assert.deepStrictEqual(fourth.stats, { computed: 24, cached: 0, modelRuns: 3 });
        assert.ok(Math.abs(fourth.logits[0] - third.logits[0] - 1) < 1e-4, 'the new bias shows in the logits');
      } finally {
        await variant.dispose();
        fs.rmSync(variantDir, { recursive: true, force: true });
      }
    } finally {
      model.run = ConvModel.prototype.run;
      fs.rmSync(data, { recursive: true, force: true });
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });

  it('survives interrupted cache writes: a leftover temporary file is ignored, a cut-short chunk costs only its images', async () => {
    const data = smallDataset(6);
    const cache = tempDir('cache');
    try {
      const first = await extractFeatures(model, data, { layer: LAYER, cacheDir: cache, batchSize: 8 });
      const chunks = (fs.readdirSync(cache, { recursive: true }) as string[]).filter((f) => f.endsWith('.bin')).map((f) => path.join(cache, f));
      assert.strictEqual(chunks.length, 3);
      // A write killed before its rename leaves a temporary file; a chunk damaged on disk is cut short.
      fs.writeFileSync(`${chunks[0]}.tmp-99999-0badf00d`, fs.readFileSync(chunks[0]).subarray(0, 100));
      fs.truncateSync(chunks[1], fs.statSync(chunks[1]).size - 4);
      const runs = countRuns(model);
      const again = await extractFeatures(model, data, { layer: LAYER, cacheDir: cache, batchSize: 8 });
      assert.deepStrictEqual(again.stats, { computed: 8, cached: 16, modelRuns: 1 });
      assert.strictEqual(runs.count, 1);
      first.meanPooled.forEach((v, i) => assert.ok(Math.abs(v - again.meanPooled[i]) < 1e-5));
    } finally {
      model.run = ConvModel.prototype.run;
      fs.rmSync(data, { recursive: true, force: true });
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });

  it('resumes a cancelled run, computing only the remainder', async () => {
    const data = smallDataset(6);
    const cache = tempDir('cache');
    try {
      const controller = new AbortController();
      const progress: number[] = [];
      await assert.rejects(
        extractFeatures(model, data, {
          layer: LAYER,
          cacheDir: cache,
          batchSize: 8,
          signal: controller.signal,
          progress: (fraction) => {
            progress.push(fraction);
            controller.abort();
          },
        }),
        CancelledError,
      );
      assert.deepStrictEqual(progress, [8 / 24]);
      const runs = countRuns(model);
      const resumed = await extractFeatures(model, data, { layer: LAYER, cacheDir: cache, batchSize: 8 });
      assert.deepStrictEqual(resumed.stats, { computed: 16, cached: 8, modelRuns: 2 });
      assert.strictEqual(runs.count, 2);
      const fresh = await extractFeatures(model, data, { layer: LAYER, batchSize: 8 });
      fresh.meanPooled.forEach((v, i) => assert.ok(Math.abs(v - resumed.meanPooled[i]) < 1e-5));
    } finally {
      model.run = ConvModel.prototype.run;
      fs.rmSync(data, { recursive: true, force: true });
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });

  it('leaves out an image that cannot be decoded, saying why', async () => {
    const data = smallDataset(2);
    try {
      fs.writeFileSync(path.join(data, 'circle', 'broken.png'), 'not a png');
      const result = await extractFeatures(model, data, { layer: LAYER });
      assert.strictEqual(result.images.length, 8);
      assert.deepStrictEqual(
        result.skipped.map((s) => s.relPath),
        ['circle/broken.png'],
      );
      assert.match(result.skipped[0].reason, /broken\.png/);
      await assert.rejects(extractFeatures(model, data, { layer: '/block4/relu/Relu_outptu_0' }), /did you mean '\/block4\/relu\/Relu_output_0'/);
    } finally {
      fs.rmSync(data, { recursive: true, force: true });
    }
  });

  it(`distils rules that agree with the network on ≥ ${MIN_FIDELITY * 100}% of held-out images`, async () => {
    const set = distillRules(features, { depth: 3, minLeaf: 5 });
    console.log(
      `      fidelity ${set.fidelity.test.toFixed(3)} held out (${set.testImages} images), rules accuracy ${set.accuracy?.tree.toFixed(3)}, network ${set.accuracy?.network.toFixed(3)}`,
    );
    assert.ok(set.fidelity.test >= MIN_FIDELITY, rulesToText(set));
    assert.strictEqual(set.testImages, 48);
    assert.ok(set.rules.length >= 4 && set.rules.length <= 8);
    assert.strictEqual(
      set.rules.reduce((s, r) => s + r.all.images, 0),
      160,
    );
    assert.match(set.rules[0].text, new RegExp(`^IF ${LAYER} channel \\d+ (≤|>) [\\d.]+`));

    const [exemplar] = await channelExemplars(model, features, [set.channels[0]], 4);
    const c = exemplar.channel;
    const peaks = exemplar.patches.map((p) => p.activation);
    assert.deepStrictEqual(
      peaks,
      [...peaks].sort((a, b) => b - a),
    );
    assert.strictEqual(peaks[0], Math.max(...Array.from({ length: 160 }, (_, i) => features.maxPooled[i * 64 + c])));
    exemplar.patches.forEach((patch, j) => {
      const map = exemplar.maps[j];
      assert.ok(Math.abs(Math.max(...map.values) - patch.activation) < 1e-5);
      assert.ok(Math.abs(map.values[patch.row * 8 + patch.col] - patch.activation) < 1e-5);
      // The field of block4 is 38 pixels (jump 8): the box is centred on the peak position.
      const [x0, y0, x1, y1] = patch.box;
      assert.ok(x0 <= 8 * patch.col + 3.5 && 8 * patch.col + 3.5 < x1 && y0 <= 8 * patch.row + 3.5 && 8 * patch.row + 3.5 < y1);
      assert.ok(x1 - x0 <= 38 && y1 - y0 <= 38 && x1 - x0 >= 19);
    });
  });

  it(`finds neighbours that mostly share the image's class (≥ ${MIN_NEIGHBOUR_AGREEMENT * 100}% of 5)`, async () => {
    let agreeing = 0;
    features.images.forEach((im, i) => {
      const query = rowOf(features.penultimateFeatures, i, features.penultimateSize);
      const neighbours = nearestNeighbors(features, query, { k: 5, exclude: [i] });
      agreeing += neighbours.filter((n) => n.labelName === im.labelName).length;
    });
    const share = agreeing / (5 * features.images.length);
    console.log(`      neighbours sharing the class: ${share.toFixed(3)}`);
    assert.ok(share >= MIN_NEIGHBOUR_AGREEMENT, `share ${share}`);

    const file = path.join(DATASET, 'test/star/3.png');
    const result = await neighborsOf(model, features, file, { k: 3 });
    assert.strictEqual(result.neighbors[0].relPath, 'test/star/3.png');
    assert.ok(result.neighbors[0].distance < 1e-6);
    assert.match(result.space, /cosine/);

    // Without a layer the penultimate tensor is used, which is all neighbours need.
    const penultimateOnly = await extractFeatures(model, DATASET);
    assert.strictEqual(penultimateOnly.layer, penultimateOnly.penultimate);
    assert.deepStrictEqual(penultimateOnly.layerShape, [64, 1, 1]);
    const again = await neighborsOf(model, penultimateOnly, file, { k: 3, metric: 'euclidean' });
    assert.strictEqual(again.neighbors[0].relPath, 'test/star/3.png');
    assert.match(again.space, /Euclidean/);
  });

  it('summarises accuracy and confusions, and maps the dataset in 2-D with PCA and seeded UMAP, flagging misclassified images', async () => {
    const map = await embedDataset(features, { method: 'pca' });
    assert.strictEqual(map.points.length, 160);
    const wrong = features.images.filter((im, i) => im.label !== features.predictions[i]).length;
    assert.strictEqual(map.misclassified, wrong);
    map.points.forEach((p, i) => assert.strictEqual(p.correct, features.images[i].label === features.predictions[i]));
    assert.ok(map.explainedVarianceRatio![0] >= map.explainedVarianceRatio![1]);
    const summary = summarizeDataset(features);
    assert.strictEqual(summary.misclassified.length, wrong);
    assert.strictEqual(summary.accuracy, (160 - wrong) / 160);
    assert.strictEqual(
      summary.confusion.flat().reduce((s, v) => s + v, 0),
      160,
    );
    summary.confusion.forEach((row, label) =>
      assert.strictEqual(
        row.reduce((s, v) => s + v, 0),
        summary.classes[label].labelled,
      ),
    );
    assert.deepStrictEqual(
      summary.classes.map((c) => c.labelled),
      [40, 40, 40, 40],
    );
    const a = await embedDataset(features, { method: 'umap', seed: 3 });
    const b = await embedDataset(features, { method: 'umap', seed: 3 });
    assert.deepStrictEqual(a.points, b.points);
  });

  it('scores channel ablation as the head weight times the mean activation (the head is linear)', async () => {
    const w = headWeight(model);
    const k = 2; // star
    const result = await ablationImportance(model, features, { classIndex: k, channels: [0, 5, 17, 40] });
    const chosen = features.images.flatMap((_, i) => (features.predictions[i] === k ? [i] : []));
    assert.strictEqual(result.images, chosen.length);
    for (const { channel, score } of result.channels) {
      const mean = chosen.reduce((s, i) => s + features.meanPooled[i * 64 + channel], 0) / chosen.length;
      assert.ok(Math.abs(score - w(k, channel) * mean) < 1e-4, `channel ${channel}: ${score} vs ${w(k, channel) * mean}`);
    }
    const scores = result.channels.map((s) => s.score);
    assert.deepStrictEqual(
      scores,
      [...scores].sort((a, b) => b - a),
    );
  });

  it('scores gradient × activation as the head weight times the mean activation (the head is linear)', async function () {
    if (!fs.existsSync(path.join(ROOT, 'src/core/autodiff/gradients.ts'))) {
      console.log('      (skipped: src/core/autodiff/gradients.ts is not there yet)');
      this.skip();
    }
    const w = headWeight(model);
    const k = 0;
    const result = await gradientImportance(model, features, { classIndex: k, images: 'labelled' });
    const chosen = features.images.flatMap((im, i) => (im.label === k ? [i] : []));
    assert.strictEqual(result.images, chosen.length);
    for (const { channel, score } of result.channels) {
      const mean = chosen.reduce((s, i) => s + features.meanPooled[i * 64 + channel], 0) / chosen.length;
      assert.ok(Math.abs(score - w(k, channel) * mean) < 1e-4, `channel ${channel}: ${score} vs ${w(k, channel) * mean}`);
    }
  });
});
