// The Explain tab on inputs that are not pictures (issue #13), in headless Chromium: a signal
// [1, C, L] drawn as lines over its map, and a video [1, C, T, H, W] as a strip of frames with
// theirs. The answers are built here with the core: the 1-D sample (sample/signal1d.onnx) on its
// tone example and the 2-channel test signal (test/models/signal1d.onnx), the 3-D test model on
// its clip, explained by Grad-CAM and saliency as the worker would (tensorMapData, ndInputView).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ndInputView } from '../../src/compute/jobs/nd-inputs';
import { tensorMapData } from '../../src/compute/jobs/state';
import { explain } from '../../src/core/explain/index';
import { pearson } from '../../src/core/inside/similarity';
import { ConvModel } from '../../src/core/model';
import { parseNpy } from '../../src/core/npy';
import { FloatTensor } from '../../src/core/tensor';
import type { ExplanationView, ImageView, ModelView } from '../../src/protocol';
import { parseWebviewMessage } from '../../src/protocol';
import { ROOT } from './fixtures';
import { WebviewPage } from './harness';
import { assertClean, canvasVersusImage, choose, openTab, screenshotPath, useWebview } from './support';

interface Case {
  model: ModelView;
  image: ImageView;
  explanation: ExplanationView;
  /** A signed map of the same input (saliency's raw gradient × input, scaled to [-1, 1]). */
  signed: ExplanationView;
}

function npy(file: string): FloatTensor {
  return parseNpy(new Uint8Array(fs.readFileSync(path.join(ROOT, file)))) as FloatTensor;
}

/** A real answer: the model's view, the input as the worker shows it and Grad-CAM's map as the worker sends it. */
async function buildCase(modelFile: string, inputFile: string, id: string, base: ModelView, targetLabel: string): Promise<Case> {
  const model = ConvModel.load(path.join(ROOT, modelFile), { provider: 'cpu' });
  try {
    const input = npy(inputFile);
    const image: ImageView = { id, name: path.basename(inputFile), ...ndInputView(input)! };
    const e = await explain('gradcam', { model, input, target: { kind: 'class', index: 'top' } });
    const gradient = await explain('input-x-gradient', { model, input, target: { kind: 'class', index: 'top' } });
    // Signed evidence per position: the raw input × gradient summed over channels, scaled by its largest magnitude.
    const [, channels] = input.dims;
    const positions = input.data.length / channels;
    const summed = Array.from({ length: positions }, (_, p) =>
      Array.from({ length: channels }, (_, c) => (gradient.raw.data as Float32Array)[c * positions + p]).reduce((a, b) => a + b, 0),
    );
    const scale = Math.max(...summed.map(Math.abs));
    const signedMap = tensorMapData({ dtype: 'float32', dims: e.map.dims, data: Float32Array.from(summed, (v) => v / scale) });
    const explanation: ExplanationView = {
      id: `${id}-gradcam`,
      imageId: id,
      method: 'gradcam',
      layer: e.layer,
      target: { kind: 'class', index: e.target.kind === 'class' ? e.target.index : 0 },
      targetLabel,
      map: tensorMapData(e.map),
      notes: e.notes,
      seconds: 0.01,
    };
    const summary = model.summary();
    const view: ModelView = {
      ...base,
      name: path.basename(modelFile),
      path: path.join(ROOT, modelFile),
      inputs: summary.inputs,
      outputs: summary.outputs,
      layers: [],
      defaultCamLayer: undefined,
    };
    const signed = {
      ...explanation,
      id: `${id}-signed`,
      method: 'input-x-gradient',
      layer: undefined,
      map: signedMap,
      notes: ['Σ over channels of x ⊙ ∂y/∂x, scaled by its largest magnitude'],
    };
    return { model: view, image, explanation, signed };
  } finally {
    await model.dispose();
  }
}

describe('webview: signals and videos in the Explain tab', function () {
  this.timeout(120_000);
  const ctx = useWebview({ view: 'panel', theme: 'dark' });
  let tone: Case;
  let stereo: Case;
  let video: Case;
  before(async () => {
    const base = ctx.fixtures().model;
    tone = await buildCase('sample/signal1d.onnx', 'sample/signals/tone-0.npy', 'tone', base, 'tone');
    stereo = await buildCase('test/models/signal1d.onnx', 'test/models/signal1d.input.npy', 'stereo', base, 'class 0');
    video = await buildCase('test/models/video3d.onnx', 'test/models/video3d.input.npy', 'clip', base, 'class 1');
  });

  async function show(wp: WebviewPage, c: Case, e: ExplanationView, selector: string): Promise<void> {
    await wp.send({ type: 'model', model: c.model, methods: ctx.fixtures().methods });
    await wp.send({ type: 'images', images: [c.image], selected: c.image.id });
    await wp.send({
      type: 'prediction',
      imageId: c.image.id,
      top: [{ index: c.explanation.target.kind === 'class' ? c.explanation.target.index : 0, label: c.explanation.targetLabel, logit: 2.5, probability: 0.97 }],
    });
    await openTab(wp, 'explain');
    await wp.send({ type: 'response', requestId: `r-${e.id}`, kind: 'explain', result: e });
    await wp.page.waitForSelector(`.explain ${selector}[data-rendered="${e.id}"]`);
  }

  it('draws a signal as a line over its map, with the map strip, the legend, a readout on hover and the arrow keys, and exports the figure', async () => {
    const wp = ctx.page();
    const e = tone.explanation;
    await show(wp, tone, e, 'canvas.signal-figure');
    const page = wp.page;
    assert.strictEqual(await page.$eval('.explain canvas.overlay', (c) => !!c.closest('[hidden]')), true, 'the picture overlay gives way');
    const label = (await page.getAttribute('.explain canvas.signal-figure', 'aria-label'))!;
    let peak = 0;
    e.map.values.forEach((v, i) => v > e.map.values[peak] && (peak = i));
    assert.strictEqual(label, `Signal of 1 channel × 256 samples, with the Grad-CAM map as a coloured band; its strongest value is at sample ${peak}`);
    assert.strictEqual(await page.textContent('.legend-labels'), 'low → high');
    assert.strictEqual(await page.textContent('.image-actions .hint'), 'or drop .npy or WAV files onto the panel');
    assert.ok((await page.getAttribute('.thumb', 'title'))!.endsWith('(1 channel × 256 samples)'));

    // Hovering the figure over sample k reads out k, the signal's value and the map's value there.
    const box = (await page.$('.explain canvas.signal-figure'))!;
    const rect = (await box.boundingBox())!;
    const k = 100;
    await page.mouse.move(rect.x + ((k + 0.5) / 256) * rect.width, rect.y + rect.height / 2);
    const values = tone.image.signal!.values;
    assert.strictEqual(await page.textContent('.signal-readout'), `Sample ${k} of 256 · value ${values[k].toFixed(3)} · map ${e.map.values[k].toFixed(3)}`);
    await page.focus('.explain canvas.signal-figure');
    await page.keyboard.press('Home');
    assert.match((await page.textContent('.signal-readout'))!, /^Sample 0 of 256 · /);
    await page.keyboard.press('ArrowRight');
    assert.match((await page.textContent('.signal-readout'))!, /^Sample 1 of 256 · /);

    // In gray at opacity 1, the strip under the lane is the map: its brightness follows the values.
    await page.focus('#opacity');
    await page.keyboard.press('End');
    await choose(page, 'colormap', 'gray');
    await page.waitForTimeout(50);
    const strip = await page.$eval('.explain canvas.signal-figure', (c) => {
      const canvas = c as HTMLCanvasElement;
      const row = canvas.getContext('2d')!.getImageData(0, canvas.height - 8, canvas.width, 1).data;
      return Array.from({ length: 256 }, (_, i) => row[Math.floor(((i + 0.5) / 256) * canvas.width) * 4]);
    });
    const r = pearson(strip, e.map.values);
    assert.ok(r > 0.99, `the strip's brightness follows the map (r = ${r.toFixed(4)})`);

    await page.click('.explain .export-png');
    const posted = await wp.waitForPost('export');
    assert.ok(parseWebviewMessage(posted), 'the export is well formed');
    assert.match(String(posted.figure), /^data:image\/png;base64,/);
    const png = Buffer.from(String(posted.figure).split(',')[1], 'base64');
    assert.deepStrictEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [720, 84 + 6 + 16], 'the figure as drawn: one lane and the strip');
    await page.click('.explain .export-npy');
    const npyExport = await wp.waitForPost('export', 2);
    assert.deepStrictEqual(npyExport, { type: 'export', explanationId: e.id, format: 'npy', colormap: 'gray', opacity: 1 });
    assert.deepStrictEqual(await wp.accessibilityViolations(), []);
    await assertClean(wp);
  });

  it('draws each channel of a 2-channel signal in its own lane; a signed map is diverging and says so', async () => {
    const wp = ctx.page();
    const e = stereo.signed;
    await show(wp, stereo, e, 'canvas.signal-figure');
    const page = wp.page;
    assert.ok(e.map.signed && e.map.values.some((v) => v < 0), 'the fixture is signed');
    assert.match(
      (await page.getAttribute('.explain canvas.signal-figure', 'aria-label'))!,
      /^Signal of 2 channels × 64 samples, with the Input × Gradient map as a coloured band \(signed: diverging map\)/,
    );
    assert.ok((await page.textContent('.legend-labels'))!.includes('diverging'));
    const height = await page.$eval('.explain canvas.signal-figure', (c) => (c as HTMLCanvasElement).height);
    assert.strictEqual(height, 2 * (84 + 6) + 16);
    const rect = (await (await page.$('.explain canvas.signal-figure'))!.boundingBox())!;
    await page.mouse.move(rect.x + (10.5 / 64) * rect.width, rect.y + 10);
    const values = stereo.image.signal!.values;
    assert.strictEqual(
      await page.textContent('.signal-readout'),
      `Sample 10 of 64 · channel 1 ${values[10].toFixed(3)} · channel 2 ${values[64 + 10].toFixed(3)} · map ${e.map.values[10].toFixed(3)}`,
    );
    // A map of another length is not drawn over the signal, and the figure says why.
    await wp.send({
      type: 'response',
      requestId: 'wrong',
      kind: 'explain',
      result: { ...e, id: 'wrong', map: { width: 32, height: 1, values: Array(32).fill(0.5), shape: [32] } },
    });
    await page.waitForSelector('.explain canvas.signal-figure[data-rendered="wrong"]');
    assert.match((await page.textContent('.signal-note'))!, /The map's shape \[32\] is not the signal's length 64; it is not drawn\./);
    await assertClean(wp);
  });

  it('shows a video as frames with the map over each, one colour scale, a Frame slider, arrow keys and clicks, and exports the strip', async () => {
    const wp = ctx.page();
    const e = video.explanation;
    await show(wp, video, e, 'canvas.video-frame');
    const page = wp.page;
    const thumbs = await page.$$eval('.frame-strip .frame-thumb', (ts) => ts.map((t) => [t.getAttribute('aria-label'), t.getAttribute('aria-selected')]));
    assert.deepStrictEqual(thumbs, [
      ['Frame 1 of 4', 'true'],
      ['Frame 2 of 4', 'false'],
      ['Frame 3 of 4', 'false'],
      ['Frame 4 of 4', 'false'],
    ]);
    assert.strictEqual(await page.getAttribute('.explain canvas.video-frame', 'aria-label'), 'Frame 1 of 4 with the Grad-CAM map over it; one colour scale for all frames');
    assert.strictEqual(await page.textContent('.image-actions .hint'), 'or drop .npy clips onto the panel');

    // In gray at opacity 1 the large frame is its slice of the map.
    await page.focus('#opacity');
    await page.keyboard.press('End');
    await choose(page, 'colormap', 'gray');
    const sampled = async (t: number) => {
      await page.waitForFunction((n) => document.querySelector('.frame-label')?.textContent === `${n + 1} / 4`, t);
      const { samples } = await canvasVersusImage(page, '.explain canvas.video-frame', video.image.frames![t], { width: 8, height: 8 });
      return pearson(samples, e.map.values.slice(t * 64, (t + 1) * 64));
    };
    assert.ok((await sampled(0)) > 0.99);
    await page.focus('#frame');
    await page.keyboard.press('ArrowRight');
    assert.ok((await sampled(1)) > 0.99, 'the slider chose frame 2');
    await page.click('.frame-thumb[data-frame="3"]');
    assert.ok((await sampled(3)) > 0.99, 'a click chose frame 4');
    assert.strictEqual(await page.getAttribute('.frame-thumb[data-frame="3"]', 'aria-selected'), 'true');
    await page.focus('.frame-thumb[data-frame="3"]');
    await page.keyboard.press('ArrowLeft');
    assert.ok((await sampled(2)) > 0.99, 'the arrow keys move along the strip');

    await page.click('.explain .export-png');
    const posted = await wp.waitForPost('export');
    assert.ok(parseWebviewMessage(posted));
    const png = Buffer.from(String(posted.figure).split(',')[1], 'base64');
    // Four frames of 8 × 8 drawn at 12× (96 px), 4 px apart.
    assert.deepStrictEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [4 * 96 + 3 * 4, 96]);
    assert.deepStrictEqual(await wp.accessibilityViolations(), []);
    await assertClean(wp);
  });

  it("the Compare tab draws a signal's map as a band over its thumbnail, and a video's first frame with its map", async () => {
    const wp = ctx.page();
    for (const [c, method] of [
      [tone, 'gradcam'],
      [video, 'gradcam'],
    ] as const) {
      await show(wp, c, c.explanation, c === tone ? 'canvas.signal-figure' : 'canvas.video-frame');
      await openTab(wp, 'compare');
      for (const box of await wp.page.$$('.method-checks vscode-checkbox')) {
        const [name, checked] = await box.evaluate((el) => [el.getAttribute('value')!, (el as HTMLElement & { checked: boolean }).checked] as const);
        if (checked !== (name === method)) await box.click();
      }
      await wp.page.click('#compare-run');
      const { requestId } = (await wp.waitForPost('compare', c === tone ? 1 : 2)) as { requestId: string };
      const e = { ...c.explanation, id: `${c.explanation.id}-compared` };
      await wp.send({ type: 'compared', requestId, explanation: e });
      await wp.send({ type: 'response', requestId, kind: 'compare', result: [e] });
      await wp.page.waitForSelector(`.compare-card canvas[data-rendered="${e.id}"]`);
      const size = await wp.page.$eval(`.compare-card canvas[data-rendered="${e.id}"]`, (el) => [(el as HTMLCanvasElement).width, (el as HTMLCanvasElement).height]);
      // A signal: its band at 2:1 (256 columns, 128 rows, scaled up); a video: its first 8 × 8 frame.
      assert.strictEqual(size[0] / size[1], c === tone ? 2 : 1, `${c.image.name}: ${size.join('×')}`);
      await wp.page.screenshot({ path: screenshotPath(`panel-compare-${c.image.id}-dark.png`, false) });
      await openTab(wp, 'explain');
    }
    await assertClean(wp);
  });

  it('files dropped on the panel: .npy and WAV files are sent to the host, other files are named as skipped', async () => {
    const wp = ctx.page();
    await show(wp, tone, tone.explanation, 'canvas.signal-figure');
    await wp.page.evaluate(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59])], 'clip.npy'));
      transfer.items.add(new File([new Uint8Array([0x52, 0x49, 0x46, 0x46])], 'voice.WAV'));
      transfer.items.add(new File(['notes'], 'notes.txt', { type: 'text/plain' }));
      const target = document.querySelector('.images')!;
      for (const type of ['dragenter', 'dragover', 'drop']) target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }));
    });
    const posted = await wp.waitForPost('dropImages');
    assert.ok(parseWebviewMessage(posted));
    assert.deepStrictEqual(
      (posted.files as { name: string; base64: string }[]).map((f) => [f.name, f.base64]),
      [
        ['clip.npy', Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]).toString('base64')],
        ['voice.WAV', Buffer.from('RIFF').toString('base64')],
      ],
    );
    assert.strictEqual(await wp.page.textContent('.notice'), 'Skipped files that are not images, .npy or WAV files: notes.txt.');
    await assertClean(wp);
  });

  for (const theme of ['dark', 'light'] as const) {
    it(`screenshots of a signal's and a video's explanation in the ${theme} theme`, async () => {
      const wp = await ctx.open({ theme, width: 1100, height: 900 });
      await show(wp, stereo, stereo.signed, 'canvas.signal-figure');
      const rect = (await (await wp.page.$('.explain canvas.signal-figure'))!.boundingBox())!;
      await wp.page.mouse.move(rect.x + rect.width * 0.4, rect.y + 20);
      await wp.page.screenshot({ path: screenshotPath(`panel-signal-${theme}.png`, false) });
      await show(wp, tone, tone.explanation, 'canvas.signal-figure');
      await wp.page.screenshot({ path: screenshotPath(`panel-signal-sample-${theme}.png`, false) });
      await show(wp, video, video.explanation, 'canvas.video-frame');
      await wp.page.screenshot({ path: screenshotPath(`panel-video-${theme}.png`, false) });
      assert.deepStrictEqual(await wp.accessibilityViolations(), []);
      await assertClean(wp);
    });
  }
});
