// The side view (body[data-view=side]) in headless Chromium under the host's CSP.
import * as assert from 'assert';
import { assertClean, canvasVersusImage, choose, screenshotPath, useWebview } from './support';

describe('webview: side view in Chromium', function () {
  const ctx = useWebview({ view: 'side', theme: 'dark', width: 360, height: 640 });

  it('says what to do before an image arrives', async () => {
    const wp = ctx.page();
    assert.ok((await wp.page.textContent('.empty-state'))!.includes('pick an image'));
    await assertClean(wp);
  });

  it('renders the image, its top prediction and the explanation overlay; the method switches in place', async () => {
    const wp = ctx.page();
    const f = ctx.fixtures();
    const e = f.explanation;
    const image = f.images.find((i) => i.id === e.imageId)!;
    const top = f.predictions.get(image.id)![0];
    await wp.send({ type: 'model', model: f.model, methods: f.methods });
    await wp.send({ type: 'settings', colormap: 'inferno', opacity: 0.6, method: 'cam' });
    await wp.send({ type: 'images', images: f.images, selected: image.id });
    await wp.send({ type: 'prediction', imageId: image.id, top: f.predictions.get(image.id)! });
    await wp.send({ type: 'response', requestId: 'pushed', kind: 'explain', result: e });
    await wp.page.waitForSelector(`canvas.overlay[data-rendered="${e.id}"]`);
    assert.strictEqual(await wp.page.textContent('.side-prediction'), `${top.label} #${top.index} · ${(top.probability * 100).toFixed(1)}%`);
    assert.strictEqual(await wp.page.inputValue('#side-opacity'), '60');
    const diff = await canvasVersusImage(wp.page, 'canvas.overlay', image.dataUrl);
    assert.ok(diff.meanDiff > 10, `the overlay differs from the bare image (${diff.meanDiff.toFixed(1)})`);

    await choose(wp.page, 'side-method', f.methods[1].title);
    const explain = await wp.waitForPost('explain');
    assert.deepStrictEqual(
      { ...explain, requestId: undefined },
      { type: 'request', requestId: undefined, kind: 'explain', params: { imageId: image.id, method: f.methods[1].name, layer: 'auto', target: { kind: 'top' } } },
    );
    await assertClean(wp);
  });

  for (const theme of ['dark', 'light'] as const) {
    it(`screenshot in the ${theme} theme`, async () => {
      const wp = await ctx.open({ theme });
      const f = ctx.fixtures();
      await wp.send({ type: 'model', model: f.model, methods: f.methods });
      await wp.send({ type: 'images', images: f.images, selected: f.explanation.imageId });
      await wp.send({ type: 'prediction', imageId: f.explanation.imageId, top: f.predictions.get(f.explanation.imageId)! });
      await wp.send({ type: 'response', requestId: 'pushed', kind: 'explain', result: f.explanation });
      await wp.page.waitForSelector(`canvas.overlay[data-rendered="${f.explanation.id}"]`);
      const color = await wp.page.evaluate(() => getComputedStyle(document.body).color);
      assert.strictEqual(color, theme === 'dark' ? 'rgb(204, 204, 204)' : 'rgb(59, 59, 59)');
      await wp.page.screenshot({ path: screenshotPath(`side-${theme}.png`) });
      await assertClean(wp);
    });
  }
});
