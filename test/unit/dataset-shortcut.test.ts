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

  it("distils rules that test a mark channel, and the channel's top patches are the mark", async () => {
    const set = distillRules(features, { depth: 3, minLeaf: 5, pooling: 'max' });
    const markChannels = new Set(response.channels.filter((c) => c.effect >= MIN_EFFECT).map((c) => c.channel));
    const named = set.channels.filter((c) => markChannels.has(c));
    console.log(`      rules test channels ${set.channels.join(', ')}; mark channels among them: ${named.join(', ')}; fidelity ${set.fidelity.test.toFixed(3)}`);
    assert.ok(named.length >= 1, `no mark channel in the rules:\n${rulesToText(set)}`);
    const circleRule = set.rules.find((r) => r.className === 'circle' && r.conditions.some((c) => markChannels.has(c.channel) && c.op === '>'));
    assert.ok(circleRule, `no rule says "mark channel high → circle":\n${rulesToText(set)}`);

    // The patches that excite the first mark channel the rules name are the mark's corner of marked images.
    const { field } = await layerField(model, features);
    const [mx0, my0, mx1, my1] = readMarkBoxes(BOXES)[0].box;
    const markedFiles = new Set(readMarkBoxes(BOXES).map((m) => m.file));
    const patches = topPatches(features, named[0], field, 8);
    const onMark = patches.filter((p) => p.box[0] <= mx0 && p.box[1] <= my0 && p.box[2] >= mx1 && p.box[3] >= my1 && markedFiles.has(features.images[p.image].file));
    assert.ok(onMark.length >= 6, `${onMark.length} of 8 top patches cover the mark on a marked image`);
  });
});
