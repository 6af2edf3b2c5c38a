// The Activations tab on a 1-D model (sample/signal1d.onnx): the worker's activations job sends
// each channel of a layer [1, C, L] as a map of shape [L] (its values min–max scaled), and the tab
// draws it as a line over its colours, in the grid and enlarged, in headless Chromium under the
// host's CSP. A picture model's channels stay pictures.
import * as assert from 'assert';
import * as path from 'path';
import { ComputeClient } from '../../src/compute/client';
import { ModelContext } from '../../src/core/context';
import type { ActivationsView, ImageView, MethodView, ModelView } from '../../src/protocol';
import { ROOT } from './fixtures';
import { assertClean, openTab, screenshotPath, useWebview } from './support';

const WORKER = path.join(ROOT, 'out/src/compute/worker.js');
const SIGNAL = path.join(ROOT, 'sample/signal1d.onnx');
const LAYER = '/block2/block2.2/Relu';
const TENSOR = '/block2/block2.2/Relu_output_0';

describe('webview: the Activations tab on a 1-D layer', function () {
  this.timeout(300_000);
  const ctx = useWebview({ view: 'panel', theme: 'dark', width: 1280, height: 900 });
  let client: ComputeClient;
  let methods: MethodView[];
  let model: ModelView;
  let image: ImageView;
  let view: ActivationsView;

  before(async () => {
    client = new ComputeClient(WORKER);
    methods = await client.call('methods', {});
    model = await client.call('openModel', { modelPath: SIGNAL, provider: 'cpu' });
    image = await client.call('loadImage', { modelPath: SIGNAL, imagePath: path.join(ROOT, 'sample/signals/chirp-0.npy') });
    view = await client.call('activations', { modelPath: SIGNAL, imageId: image.id, layer: LAYER, target: { kind: 'top' } });
  });
  after(() => client?.dispose());

  it('the job: each channel of [1, 32, 128] is a map of shape [128], its values min–max scaled', async () => {
    assert.deepStrictEqual(view.shape, [1, 32, 128]);
    assert.strictEqual(view.channels.length, 32);
    // The reference: the layer's values from the model run by the CLI's core, scaled per channel.
    const core = ModelContext.open(SIGNAL, { provider: 'cpu' });
    try {
      const input = core.loadInput(path.join(ROOT, 'sample/signals/chirp-0.npy')).tensor;
      const out = (await core.model.run(core.feeds(input), [TENSOR]))[TENSOR].data as Float32Array;
      // Grad-CAM weights of the 1-D layer: each channel's gradient averaged over its samples (the
      // gradient is checked against finite differences elsewhere; here, that every channel has one).
      assert.ok(view.channels.every((c) => Number.isFinite(c.gradcamWeight)));
      assert.ok(view.channels.some((c) => c.gradcamWeight !== 0));
      for (const c of view.channels) {
        assert.deepStrictEqual(c.map.shape, [128]);
        assert.strictEqual(c.map.width, 128);
        assert.strictEqual(c.map.height, 1);
        const values = out.subarray(c.index * 128, (c.index + 1) * 128);
        const [lo, hi] = [Math.min(...values), Math.max(...values)];
        // The view's values are rounded to 1e-4 (mapData): scaled values within that.
        values.forEach((v, i) => assert.ok(Math.abs(c.map.values[i] - (hi > lo ? (v - lo) / (hi - lo) : 0)) <= 1e-4, `channel ${c.index}, sample ${i}`));
      }
    } finally {
      await core.dispose();
    }
  });

  it('draws each channel as a line over its colours, in the grid and enlarged (screenshot)', async () => {
    const wp = ctx.page();
    await wp.send({ type: 'model', model, methods });
    await wp.send({ type: 'images', images: [image], selected: image.id });
    await openTab(wp, 'activations');
    // The layer list offers the 1-D layers.
    const offered = await wp.page.$$eval('#activations-layer vscode-option', (o) => o.map((x) => x.getAttribute('value')));
    assert.ok(offered.includes(LAYER), JSON.stringify(offered));
    await wp.page.evaluate((layer) => {
      const select = document.getElementById('activations-layer') as HTMLElement & { value: string };
      select.value = layer;
    }, LAYER);
    await wp.page.click('#activations-run');
    const asked = await wp.waitForPost('activations');
    assert.strictEqual(asked.params!.layer, LAYER);
    await wp.send({ type: 'response', requestId: asked.requestId!, kind: 'activations', result: view });
    await wp.page.waitForSelector('.channel canvas.channel-strip');
    assert.strictEqual(await wp.page.$$eval('.channel canvas.channel-strip', (c) => c.length), 32);
    // A strip is wider than tall, and its line is drawn: many pixels of the text colour over the band.
    const drawn = await wp.page.$eval('.channel[data-channel="0"] canvas', (c) => {
      const canvas = c as HTMLCanvasElement;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let bright = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i] > 200 && data[i + 1] > 200 && data[i + 2] > 200) bright++;
      return { width: canvas.width, height: canvas.height, bright };
    });
    assert.ok(drawn.width > drawn.height && drawn.bright > 40, JSON.stringify(drawn));
    // The first channel with some spread, enlarged.
    const lively = view.channels.find((c) => !c.dead && new Set(c.map.values).size > 8)!;
    await wp.page.click(`.channel[data-channel="${lively.index}"]`);
    await wp.page.waitForSelector('canvas.channel-large.channel-strip');
    assert.match((await wp.page.getAttribute('canvas.channel-large', 'aria-label'))!, new RegExp(`Channel ${lively.index} enlarged: its 128 values as a line`));
    await wp.page.screenshot({ path: screenshotPath('panel-activations-1d.png', false), fullPage: true });
    await assertClean(wp);
  });
});
