import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { IMAGENET_CLASSES } from '../../src/core/labels/imagenet-classes';
import { LabelsError, LabelsSource, findLabelsFile, isProbabilityRow, labelsFor, softmax, topK } from '../../src/core/labels/labels';

function writeTemp(name: string, text: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-labels-')), name);
  fs.writeFileSync(file, text);
  return file;
}

/** A labels file as a sidecar beside a model in the same folder names it. */
function besideModel(file: string): LabelsSource {
  const folder = path.dirname(file);
  return { file: path.basename(file), base: folder, inside: { folder, name: "the model's folder" }, origin: 'net.convlens.json' };
}

describe('class labels', () => {
  it("has torchvision's 1000 ImageNet names in index order", () => {
    assert.strictEqual(IMAGENET_CLASSES.length, 1000);
    assert.strictEqual(IMAGENET_CLASSES[0], 'tench');
    assert.strictEqual(IMAGENET_CLASSES[281], 'tabby');
    assert.strictEqual(IMAGENET_CLASSES[285], 'Egyptian cat');
    assert.strictEqual(IMAGENET_CLASSES[999], 'toilet tissue');
  });

  it('uses ImageNet names for 1000 outputs (and 1001 with background), none otherwise', () => {
    assert.strictEqual(labelsFor(1000)?.[281], 'tabby');
    const tf = labelsFor(1001)!;
    assert.deepStrictEqual([tf[0], tf[282]], ['background', 'tabby']);
    assert.strictEqual(labelsFor(4), undefined);
  });

  it('reads labels files: lines, a JSON list, or a JSON {index: name} object', () => {
    assert.deepStrictEqual(labelsFor(3, besideModel(writeTemp('a.txt', 'cat\r\ndog\nbird\n\n'))), ['cat', 'dog', 'bird']);
    assert.deepStrictEqual(labelsFor(2, besideModel(writeTemp('b.json', '["cat", "dog"]'))), ['cat', 'dog']);
    assert.deepStrictEqual(labelsFor(2, besideModel(writeTemp('c.json', '{"1": "dog", "0": "cat"}'))), ['cat', 'dog']);
    assert.deepStrictEqual(labelsFor(2, { names: ['cat', 'dog'], origin: 'net.convlens.json' }), ['cat', 'dog']);
  });

  it("reads the sample model's labels file", () => {
    const sample = path.resolve(__dirname, '../../../sample/shapes.labels.txt');
    assert.deepStrictEqual(labelsFor(4, besideModel(sample)), ['circle', 'square', 'star', 'triangle']);
  });

  it('refuses a labels file whose count does not match the outputs, or that is missing or malformed', () => {
    assert.throws(
      () => labelsFor(4, besideModel(writeTemp('few.txt', 'cat\ndog\n'))),
      (err: Error) => err instanceof LabelsError && err.message === 'few.txt has 2 names but the model has 4 outputs',
    );
    assert.throws(
      () => labelsFor(3, { names: ['cat', 'dog'], origin: 'net.convlens.json' }),
      (err: Error) => err instanceof LabelsError && err.message === "'labels' in net.convlens.json has 2 names but the model has 3 outputs",
    );
    const missing = path.join(path.dirname(writeTemp('x.txt', '')), 'missing.txt');
    assert.throws(
      () => labelsFor(4, besideModel(missing)),
      (err: Error) => err instanceof LabelsError && err.message === 'labels file "missing.txt" named by net.convlens.json not found',
    );
    assert.throws(() => labelsFor(2, besideModel(writeTemp('bad.json', '["cat", '))), /bad\.json looks like JSON but does not parse/);
    assert.throws(() => labelsFor(2, besideModel(writeTemp('keys.json', '{"0": "cat", "5": "dog"}'))), /keys must be the class indices 0\.\.1/);
  });

  it('finds <model>.labels.txt beside a model', () => {
    const labels = writeTemp('net.labels.txt', 'a\nb\n');
    assert.deepStrictEqual(findLabelsFile(path.join(path.dirname(labels), 'net.onnx')), {
      file: 'net.labels.txt',
      base: path.dirname(labels),
      inside: { folder: path.dirname(labels), name: "the model's folder" },
    });
    assert.strictEqual(findLabelsFile(path.join(path.dirname(labels), 'other.onnx')), undefined);
  });
});

describe('top-k predictions', () => {
  it('orders by score and gives softmax probabilities', () => {
    const logits = [1, 3, 2, 0];
    const top = topK(logits, 3, ['a', 'b', 'c', 'd']);
    assert.deepStrictEqual(
      top.map((p) => [p.index, p.label, p.logit]),
      [
        [1, 'b', 3],
        [2, 'c', 2],
        [0, 'a', 1],
      ],
    );
    const total = Math.exp(0) + Math.exp(1) + Math.exp(2) + Math.exp(3);
    for (const p of top) assert.ok(Math.abs(p.probability - Math.exp(p.logit) / total) < 1e-12);
  });

  it('names unlabelled classes "class i" and keeps ties in index order', () => {
    assert.deepStrictEqual(
      topK([5, 7, 7], 2).map((p) => p.label),
      ['class 1', 'class 2'],
    );
  });

  it('does not apply softmax twice to an output that is already probabilities', () => {
    const probabilities = [0.1, 0.6, 0.3];
    assert.ok(isProbabilityRow(probabilities));
    assert.deepStrictEqual(topK(probabilities, 1)[0].probability, 0.6);
    assert.ok(!isProbabilityRow([0.5, 0.6, 0.3]));
    assert.ok(!isProbabilityRow([-0.1, 0.6, 0.5]));
  });

  it('stays finite for large logits', () => {
    const p = softmax([1000, 1001, 999]);
    assert.ok(Math.abs(p[1] - 1 / (1 + Math.exp(-1) + Math.exp(-2))) < 1e-12);
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  });
});
