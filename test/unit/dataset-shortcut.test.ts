// The spurious-feature check on the sample's shortcut variant: sample/shapes-shortcut.onnx was
// trained on images where a 4×4 corner mark sits on most circles; the distilled rules and the
// channel views must point at the channels that respond to the mark.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { topPatches, layerField } from '../../src/core/dataset/exemplars';
import { DatasetFeatures, extractFeatures } from '../../src/core/dataset/features';
import { inputPipelineFor } from '../../src/core/dataset/input';
import { distillRules, rulesToText } from '../../src/core/dataset/rules';
import { MarkResponse, markResponse, readMarkBoxes } from '../../src/core/dataset/shortcut';
import { ConvModel } from '../../src/core/model';

const ROOT = path.resolve(__dirname, '../../..');
const MODEL = path.join(ROOT, 'sample/shapes-shortcut.onnx');
const CLEAN_MODEL = path.join(ROOT, 'sample/shapes.onnx');
const DATASET = path.join(ROOT, 'sample/dataset-shortcut');
const BOXES = path.join(DATASET, 'boxes.json');
const LAYER = '/block4/relu/Relu_output_0';
// A channel "responds to the mark" when removing the mark lowers its peak by at least this many
// standard deviations of that peak over the dataset.
const MIN_EFFECT = 1;
// The shortcut model must lose 'circle' on at least this share of the marked images when the mark is removed.
const MIN_CIRCLE_LOSS = 0.4;

describe('dataset tools on the shortcut sample', function () {
  let model: ConvModel;
  let features: DatasetFeatures;
  let response: MarkResponse;
  let cacheDir: string;

  before(async function () {
    if (!fs.existsSync(MODEL) || !fs.existsSync(BOXES)) {
      console.log(`    (skipped: ${path.relative(ROOT, MODEL)} or ${path.relative(ROOT, BOXES)} is missing)`);
      this.skip();
    }
    model = ConvModel.load(MODEL, { provider: 'cpu' });
    // Both sample models share one preprocessing; the shortcut model may have no sidecar of its own.
    const input = inputPipelineFor(model, { spec: inputPipelineFor(ConvModel.load(CLEAN_MODEL)).spec });
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-cache-'));
    features = await extractFeatures(model, DATASET, { layer: LAYER, cacheDir, input });
    response = await markResponse(model, features, readMarkBoxes(BOXES), { input });
  });
  after(async () => {
    await model?.dispose();
    if (cacheDir) fs.rmSync(cacheDir, { recursive: true, force: true });
  });

  it('finds the channels that respond to the planted mark', () => {
    const marked = readMarkBoxes(BOXES);
    assert.strictEqual(response.images, marked.length);
    const responding = response.channels.filter((c) => c.effect >= MIN_EFFECT);
    console.log(`      mark channels (effect ≥ ${MIN_EFFECT}σ): ${responding.map((c) => `${c.channel} (${c.effect.toFixed(1)}σ)`).join(', ')}`);
    assert.ok(responding.length >= 1);
    assert.ok(responding.every((c) => c.withMark > c.withoutMark));
  });

  it(`sees the network stop calling marked images circles when the mark is gone (≥ ${MIN_CIRCLE_LOSS * 100}% of them)`, () => {
    const circle = features.classNames.indexOf('circle');
    const lost = response.predictionChanges.filter((c) => c.withMark === circle && c.withoutMark !== circle).length;
    console.log(`      ${lost} of ${response.images} marked images are circles only with the mark`);
    assert.ok(lost >= MIN_CIRCLE_LOSS * response.images);
  });

  it("distils rules whose circle rule tests a mark channel, and that channel's top patches are the mark", async () => {
    const set = distillRules(features, { depth: 3, minLeaf: 5, pooling: 'max' });
    const markChannels = new Set(response.channels.filter((c) => c.effect >= MIN_EFFECT).map((c) => c.channel));
    console.log(
      `      rules test channels ${set.channels.join(', ')}; mark channels among them: ${set.channels.filter((c) => markChannels.has(c)).join(', ')}; fidelity ${set.fidelity.test.toFixed(3)}`,
    );
    const markTest = set.rules
      .filter((r) => r.className === 'circle')
      .flatMap((r) => r.conditions)
      .find((c) => markChannels.has(c.channel) && c.op === '>');
    assert.ok(markTest, `no rule says "mark channel high → circle":\n${rulesToText(set)}`);

    // The patches that excite that channel most are the mark's corner of marked images.
    const { field } = await layerField(model, features);
    const marks = readMarkBoxes(BOXES);
    const [mx0, my0, mx1, my1] = marks[0].box;
    const markedFiles = new Set(marks.map((m) => m.file));
    const patches = topPatches(features, markTest.channel, field, 8);
    const onMark = patches.filter((p) => p.box[0] <= mx0 && p.box[1] <= my0 && p.box[2] >= mx1 && p.box[3] >= my1 && markedFiles.has(features.images[p.image].file));
    assert.ok(onMark.length >= 6, `channel ${markTest.channel}: ${onMark.length} of 8 top patches cover the mark on a marked image`);
  });
});
