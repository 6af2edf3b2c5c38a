// Segmentation and detection in the Explain tab (webview/panel/tasks.ts), in headless Chromium
// under the host's CSP, fed with real answers of the worker (taskOutputs, explain) on the samples:
// the predicted mask with its legend, a legend class and a drawn region explained as region
// targets, the detector's boxes with their thresholds, a box clicked on the image and one chosen
// from the list explained as box:I, the explained box or region outlined over the explanation.
import * as assert from 'assert';
import * as path from 'path';
import { ComputeClient } from '../../src/compute/client';
import type { ExplanationView, ImageView, MethodView, ModelView, TargetSpec, TaskOutputsView } from '../../src/protocol';
import { parseWebviewMessage } from '../../src/protocol';
import { ROOT } from './fixtures';
import { Theme, WebviewPage } from './harness';
import { assertClean, choose, screenshotPath, useWebview } from './support';

const WORKER = path.join(ROOT, 'out/src/compute/worker.js');
const SEG = path.join(ROOT, 'sample/shapes-seg.onnx');
const DET = path.join(ROOT, 'sample/shapes-det.onnx');

interface Sample {
  model: ModelView;
  image: ImageView;
  outputs: TaskOutputsView;
  /** Outputs with a score threshold of 0.9. */
  strict?: TaskOutputsView;
  explain(target: TargetSpec): Promise<ExplanationView>;
}

describe('webview: segmentation and detection in the Explain tab', function () {
  const ctx = useWebview({ view: 'panel', theme: 'dark', width: 1280, height: 1000 });
  let client: ComputeClient;
  let methods: MethodView[];
  const samples: { seg?: Sample; det?: Sample } = {};

  before(async function () {
    this.timeout(300_000);
    client = new ComputeClient(WORKER);
    methods = await client.call('methods', {});
    for (const [key, modelPath, imagePath] of [
      ['seg', SEG, 'sample/scenes-demo/seg-0.png'],
      ['det', DET, 'sample/scenes-demo/det-1.png'],
    ] as const) {
      const model = await client.call('openModel', { modelPath, provider: 'cpu' });
      const image = await client.call('loadImage', { modelPath, imagePath: path.join(ROOT, imagePath) });
      samples[key] = {
        model,
        image,
        outputs: await client.call('taskOutputs', { modelPath, imageId: image.id }),
        strict: key === 'det' ? await client.call('taskOutputs', { modelPath, imageId: image.id, minScore: 0.9, iou: 0.45 }) : undefined,
        explain: (target) => client.call('explain', { modelPath, imageId: image.id, method: 'gradcam', layer: 'auto', target }),
      };
    }
  });
  after(() => client?.dispose());

  /** Opens the panel on a sample and answers its taskOutputs request. */
  async function show(wp: WebviewPage, sample: Sample): Promise<void> {
    await wp.send({ type: 'model', model: sample.model, methods });
    await wp.send({ type: 'images', images: [sample.image], selected: sample.image.id });
    const asked = await wp.waitForPost('taskOutputs');
    assert.strictEqual(asked.params!.imageId, sample.image.id);
    await wp.send({ type: 'response', requestId: asked.requestId!, kind: 'taskOutputs', result: sample.outputs });
    await wp.page.waitForSelector('section.task:not([hidden]) .task-item');
  }

  /** Answers the latest explain request with the worker's explanation of its target; returns the target. */
  async function answerExplain(wp: WebviewPage, sample: Sample, count: number): Promise<TargetSpec> {
    const posted = await wp.waitForPost('explain', count);
    assert.ok(parseWebviewMessage(posted), 'the explain request is valid');
    const target = posted.params!.target as TargetSpec;
    const explanation = await sample.explain(target);
    await wp.send({ type: 'response', requestId: posted.requestId!, kind: 'explain', result: explanation });
    await wp.page.waitForFunction((id) => document.querySelector('canvas.overlay')?.getAttribute('data-rendered') === id, explanation.id);
    return target;
  }

  /** Pixels of the outline canvas that are drawn (alpha > 0). */
  async function outlinePixels(wp: WebviewPage): Promise<number> {
    return wp.page.evaluate(() => {
      const canvas = document.querySelector('canvas.task-outline') as HTMLCanvasElement;
      if (canvas.hidden) return 0;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      return n;
    });
  }

  it('segmentation: the mask over the image, a legend with pixel shares; a class explains its predicted region, outlined over the map', async () => {
    const wp = ctx.page();
    const seg = samples.seg!;
    assert.ok(seg.outputs.kind === 'segmentation');
    await show(wp, seg);
    assert.strictEqual(await wp.page.textContent('section.task h3'), 'Segmentation');
    // Accessible names: the class and its share of the pixels (the visible text).
    const names = await wp.page.$$eval('.task-legend .task-item', (items) => items.map((b) => (b as HTMLElement).innerText.replace(/\s+/g, ' ').trim()));
    assert.deepStrictEqual(
      names,
      seg.outputs.classes.map((c) => `${c.label} ${(c.share * 100).toFixed(1)}%`),
    );
    // The mask is drawn: the figure differs from a blank canvas where a class other than background is predicted.
    const tinted = await wp.page.evaluate(() => {
      const c = document.querySelector('canvas.task-figure') as HTMLCanvasElement;
      return (
        c.width > 0 &&
        c
          .getContext('2d')!
          .getImageData(0, 0, c.width, c.height)
          .data.some((v, i) => i % 4 === 3 && v > 0)
      );
    });
    assert.ok(tinted);
    const present = seg.outputs.classes.find((c) => c.index > 0 && c.pixels > 0)!;
    await wp.page.click(`.task-legend .task-item[data-class="${present.index}"]`);
    const target = await answerExplain(wp, seg, 1);
    assert.deepStrictEqual(target, { kind: 'region', class: present.index, mask: 'predicted', output: seg.outputs.output });
    assert.ok((await outlinePixels(wp)) > 50, 'the explained region is outlined over the explanation');
    // The Target control names what was chosen on the image.
    assert.match((await wp.page.textContent('#target-mode'))!, new RegExp(`Chosen on the image: ${present.label} region`));
    await assertClean(wp);
  });

  it('segmentation: a region typed with the keyboard, and one dragged with the pointer, are explained for the chosen class', async () => {
    const wp = ctx.page();
    const seg = samples.seg!;
    assert.ok(seg.outputs.kind === 'segmentation');
    await show(wp, seg);
    // Keyboard: x, y, width, height in mask pixels, then Explain region.
    for (const [field, value] of [
      ['x', '10'],
      ['y', '12'],
      ['width', '8'],
      ['height', '5'],
    ]) {
      await wp.page.fill(`#region-${field} >> input`, value);
    }
    await wp.page.focus('#explain-region');
    await wp.page.keyboard.press('Enter');
    const typed = await answerExplain(wp, seg, 1);
    assert.ok(typed.kind === 'region' && typeof typed.mask === 'object');
    assert.strictEqual(
      typed.mask.values.reduce((a, b) => a + b, 0),
      40,
    );
    assert.strictEqual(typed.mask.values[12 * seg.outputs.width + 10], 1);
    assert.strictEqual(typed.mask.values[17 * seg.outputs.width + 10], 0);
    // Pointer: Draw region, drag a rectangle over the figure's middle.
    await wp.page.click('#draw-region');
    assert.strictEqual(await wp.page.getAttribute('#draw-region', 'aria-pressed'), 'true');
    const box = (await wp.page.locator('canvas.task-figure').boundingBox())!;
    await wp.page.mouse.move(box.x + box.width * 0.25, box.y + box.height * 0.25);
    await wp.page.mouse.down();
    await wp.page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.4, { steps: 4 });
    await wp.page.mouse.move(box.x + box.width * 0.75, box.y + box.height * 0.75, { steps: 4 });
    await wp.page.mouse.up();
    assert.strictEqual(await wp.page.getAttribute('#draw-region', 'aria-pressed'), 'false');
    await wp.page.click('#explain-region');
    const dragged = await answerExplain(wp, seg, 2);
    assert.ok(dragged.kind === 'region' && typeof dragged.mask === 'object');
    // About half the mask's side each way: ~ (W/2)·(H/2) pixels.
    const ones = dragged.mask.values.reduce((a, b) => a + b, 0);
    const quarter = (seg.outputs.width * seg.outputs.height) / 4;
    assert.ok(Math.abs(ones - quarter) < 0.15 * quarter, `${ones} pixels, about ${quarter} expected`);
    assert.ok((await outlinePixels(wp)) > 50);
    await assertClean(wp);
  });

  it('detection: boxes with labels, thresholds re-query; a box clicked on the image and one chosen in the list explain box:I', async () => {
    const wp = ctx.page();
    const det = samples.det!;
    assert.ok(det.outputs.kind === 'detection' && det.strict?.kind === 'detection');
    await show(wp, det);
    assert.strictEqual(await wp.page.textContent('section.task h3'), 'Detections');
    const names = await wp.page.$$eval('.task-boxes .task-item', (items) => items.map((b) => (b as HTMLElement).innerText.replace(/\s+/g, ' ').trim()));
    assert.deepStrictEqual(
      names,
      det.outputs.detections.map((d) => `Box ${d.index}: ${d.label} score ${d.score.toFixed(2)}`),
    );
    // A higher score threshold asks again, with it.
    await wp.page.fill('#task-min-score >> input', '0.9');
    await wp.page.press('#task-min-score >> input', 'Tab');
    const again = await wp.waitForPost('taskOutputs', 2);
    assert.deepStrictEqual(again.params, { imageId: det.image.id, minScore: 0.9, iou: 0.45 });
    await wp.send({ type: 'response', requestId: again.requestId!, kind: 'taskOutputs', result: det.strict });
    await wp.page.waitForFunction((n) => document.querySelectorAll('.task-boxes .task-item').length === n, det.strict.detections.length);
    // Click the middle of box 0 on the figure.
    const d = det.strict.detections[0];
    const figure = (await wp.page.locator('canvas.task-figure').boundingBox())!;
    const [w, h] = det.strict.space;
    await wp.page.mouse.click(figure.x + (((d.box[0] + d.box[2]) / 2) * figure.width) / w, figure.y + (((d.box[1] + d.box[3]) / 2) * figure.height) / h);
    const clicked = await answerExplain(wp, det, 1);
    assert.deepStrictEqual(clicked, { kind: 'box', index: 0, output: 'detections', iou: 0.45, minScore: 0.9, sigmoid: false });
    assert.ok((await outlinePixels(wp)) > 50, 'the explained box is outlined over the explanation');
    // The accessible list: the last box, with the keyboard.
    const last = det.strict.detections.length - 1;
    await wp.page.focus(`.task-boxes .task-item[data-box="${last}"]`);
    await wp.page.keyboard.press('Enter');
    const listed = await answerExplain(wp, det, 2);
    assert.strictEqual(listed.kind === 'box' && listed.index, last);
    await assertClean(wp);
  });

  it('segmentation: no Predictions card of a flattened mask; the first run, "Top-1" and "A class" explain predicted regions', async () => {
    const wp = ctx.page();
    const seg = samples.seg!;
    assert.ok(seg.outputs.kind === 'segmentation');
    // The first run: the default method on the chosen image, with the Top-1 target.
    await wp.send({ type: 'settings', colormap: 'jet', opacity: 0.5, method: 'gradcam' });
    await show(wp, seg);
    const top = await client.call('predict', { modelPath: SEG, imageId: seg.image.id, topK: 5 });
    await wp.send({ type: 'prediction', imageId: seg.image.id, top });
    assert.strictEqual(await wp.page.isHidden('section[aria-label="Predictions"]'), true, 'the task card lists the classes instead');
    const first = await answerExplain(wp, seg, 1);
    assert.deepStrictEqual(first, { kind: 'top' });
    // The worker answered with the region of the largest class other than background: the star.
    const star = seg.outputs.classes.find((c) => c.label === 'star')!;
    assert.match((await wp.page.textContent('.result .caption'))!, new RegExp(`for class ${star.index} summed over its predicted mask`));
    // "A class" offers the mask's classes by pixel share, not indices of the flattened output.
    await choose(wp.page, 'target-mode', 'A class');
    const offered = await wp.page.$$eval('#target-class vscode-option', (o) => o.map((x) => x.textContent));
    assert.deepStrictEqual(offered, ['background (#0)', 'star (#3)', 'Other index…']);
    await choose(wp.page, 'target-class', 'star (#3)');
    await wp.page.click('#run');
    const chosen = await answerExplain(wp, seg, 2);
    assert.deepStrictEqual(chosen, { kind: 'class', index: star.index });
    // The control follows the answer, the star's region, with no class picker left beside it.
    assert.match((await wp.page.textContent('#target-mode'))!, /Chosen on the image: class 3 region/);
    assert.strictEqual(await wp.page.isHidden('#target-class'), true);
    await wp.page.screenshot({ path: screenshotPath('panel-segmentation-first-run.png', false), fullPage: true });
    await assertClean(wp);
  });

  for (const theme of ['light', 'dark'] as Theme[]) {
    it(`screenshots in ${theme}: the mask with its legend, the boxes with their labels, each explained and outlined`, async () => {
      for (const [key, click] of [
        ['seg', '.task-legend .task-item:not([disabled]) >> nth=1'],
        ['det', '.task-boxes .task-item >> nth=0'],
      ] as const) {
        const wp = await ctx.open({ theme, width: 1100, height: 1000 });
        const sample = samples[key]!;
        await show(wp, sample);
        await wp.page.click(click);
        await answerExplain(wp, sample, 1);
        await wp.page.screenshot({ path: screenshotPath(`panel-${key === 'seg' ? 'segmentation' : 'detection'}-${theme}.png`, false), fullPage: true });
        assert.deepStrictEqual(await wp.accessibilityViolations(), [], `${key} in ${theme}`);
        await assertClean(wp);
      }
    });
  }
});
