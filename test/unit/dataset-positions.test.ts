// Shortcut discovery without a marks file: where each channel's peaks land across the dataset.
// On sample/dataset-shortcut (a 4×4 mark at [58, 58, 62, 62] of a 64×64 image on most circles)
// the shortcut model's channel 48 of block4 responds to the mark (dataset-shortcut.test.ts) and
// must be flagged as firing in the bottom-right corner.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { POSITION_GRID, PositionAccumulator, SHORTCUT_SHARE, channelPositions, poolingSuggestion } from '../../src/core/dataset/channel-positions';
import { DatasetFeatures, extractFeatures } from '../../src/core/dataset/features';
import { inputPipelineFor } from '../../src/core/dataset/input';
import { ConvModel } from '../../src/core/model';

const ROOT = path.resolve(__dirname, '../../..');
const MODEL = path.join(ROOT, 'sample/shapes-shortcut.onnx');
const CLEAN_MODEL = path.join(ROOT, 'sample/shapes.onnx');
const DATASET = path.join(ROOT, 'sample/dataset-shortcut');
const LAYER = '/block4/relu/Relu_output_0';
const MARK_CHANNEL = 48;

describe('channel peak positions', () => {
  it('counts map positions in a coarse grid, border rows in border cells', () => {
    const a = new PositionAccumulator(8, 8);
    a.add(0); // (0, 0) → cell (0, 0)
    a.add(63); // (7, 7) → cell (3, 3)
    a.add(7 * 8 + 6); // (7, 6) → cell (3, 3)
    a.add(3 * 8 + 4); // (3, 4) → cell (1, 2)
    assert.deepStrictEqual(a.counts, [1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    const r = a.result(5);
    assert.deepStrictEqual(r.peakCell, { row: 3, col: 3, share: 0.5 });
    assert.strictEqual(r.where, 'bottom-right corner');
    assert.strictEqual(r.likelyShortcut, true);
    assert.throws(() => a.add(64), /outside the 8×8 map/);
  });

  it('does not flag a channel whose peaks concentrate in the centre, nor one spread out', () => {
    const centre = new PositionAccumulator(4, 4);
    for (let i = 0; i < 10; i++) centre.add(5);
    assert.strictEqual(centre.result(0).where, 'centre');
    assert.strictEqual(centre.result(0).likelyShortcut, false);
    const spread = new PositionAccumulator(4, 4);
    for (let p = 0; p < 16; p++) spread.add(p);
    assert.strictEqual(spread.result(0).peakCell.share, 1 / 16);
    assert.strictEqual(spread.result(0).likelyShortcut, false);
  });

  it('suggests max pooling only for weak mean-pooled rules', () => {
    assert.match(poolingSuggestion({ pooling: 'mean', fidelity: { train: 0.9, test: 0.6 } })!, /60%.*try max pooling/);
    assert.strictEqual(poolingSuggestion({ pooling: 'mean', fidelity: { train: 0.9, test: 0.95 } }), undefined);
    assert.strictEqual(poolingSuggestion({ pooling: 'max', fidelity: { train: 0.5, test: 0.5 } }), undefined);
  });

  describe('on the shortcut sample', function () {
    let model: ConvModel;
    let features: DatasetFeatures;
    let cacheDir: string;

    before(async function () {
      this.timeout(300_000);
      if (!fs.existsSync(MODEL)) this.skip();
      model = ConvModel.load(MODEL, { provider: 'cpu' });
      const input = inputPipelineFor(model, { spec: inputPipelineFor(ConvModel.load(CLEAN_MODEL)).spec });
      cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-positions-'));
      features = await extractFeatures(model, DATASET, { layer: LAYER, cacheDir, input });
    });
    after(async () => {
      await model?.dispose();
      if (cacheDir) fs.rmSync(cacheDir, { recursive: true, force: true });
    });

    it(`flags channel ${MARK_CHANNEL} as a likely shortcut in the bottom-right corner`, () => {
      const [c] = features.layerShape;
      const all = channelPositions(
        features,
        Array.from({ length: c }, (_, i) => i),
      );
      const mark = all[MARK_CHANNEL];
      console.log(
        `      channel ${MARK_CHANNEL}: ${(mark.peakCell.share * 100).toFixed(0)}% of its top ${mark.images} peaks in the ${mark.where}; flagged: ${all
          .filter((p) => p.likelyShortcut)
          .map((p) => `${p.channel} (${p.where})`)
          .join(', ')}`,
      );
      assert.strictEqual(mark.grid, POSITION_GRID);
      assert.strictEqual(mark.where, 'bottom-right corner');
      assert.ok(mark.peakCell.share >= SHORTCUT_SHARE);
      assert.strictEqual(mark.likelyShortcut, true);
      assert.strictEqual(
        mark.counts.reduce((a, b) => a + b, 0),
        mark.images,
      );
    });
  });
});
