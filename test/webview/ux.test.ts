// Issue #16's webview bugs, each pinned by the behaviour that was wrong, and the panel's layout and
// accessibility: no sideways scrolling from 400 px up, menus that open where there is room, WCAG AA
// contrast (axe-core) in the light, dark and high-contrast themes, with screenshots of each.
import * as assert from 'assert';
import type { ExplanationView, ImageView } from '../../src/protocol';
import { Theme, WebviewPage } from './harness';
import { assertClean, choose, loadPanel, openTab, screenshotPath, useWebview } from './support';

describe('webview: issue #16 bugs, layout and accessibility', function () {
  const ctx = useWebview({ view: 'panel', theme: 'dark' });

  const loaded = (wp = ctx.page()): Promise<WebviewPage> => loadPanel(wp, ctx.fixtures());

  /** The panel loaded, on the Explain tab (chosen, so that only the first test depends on the default tab). */
  async function onExplain(wp = ctx.page()): Promise<WebviewPage> {
    await loaded(wp);
    await openTab(wp, 'explain');
    return wp;
  }

  const value = (wp: WebviewPage, selector: string) => wp.page.$eval(selector, (el) => (el as HTMLElement & { value: string }).value);
  const visible = (wp: WebviewPage, selector: string) => wp.page.isVisible(selector);

  it('opens on the Explain tab with the chosen image and its predictions', async () => {
    const wp = await loaded();
    assert.ok(await visible(wp, 'vscode-tab-panel[data-panel=explain] .prediction'));
    assert.ok(await visible(wp, '#run'));
    await assertClean(wp);
  });

  it('#2 Export sends the colormap and opacity the view shows', async () => {
    const wp = await onExplain();
    const f = ctx.fixtures();
    await wp.send({ type: 'response', requestId: 'host-1', kind: 'explain', result: f.explanation });
    await wp.page.waitForSelector(`.explain canvas.overlay[data-rendered="${f.explanation.id}"]`);
    await choose(wp.page, 'colormap', 'jet');
    await wp.page.$eval('#opacity', (el) => {
      (el as HTMLInputElement).value = '60';
      el.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await wp.page.click('.explain .export-png');
    assert.deepStrictEqual(await wp.waitForPost('export'), { type: 'export', explanationId: f.explanation.id, format: 'png', colormap: 'jet', opacity: 0.6 });
    await assertClean(wp);
  });

  it('#3 "A class" starts at the top prediction and "Why A and not B" at the top two, without an error', async () => {
    const wp = await onExplain();
    const top = ctx.fixtures().predictions.get('img0')!;
    await choose(wp.page, 'target-mode', 'A class');
    assert.strictEqual(await value(wp, '#target-class'), String(top[0].index));
    assert.strictEqual(await visible(wp, '#target-class-index'), false, 'no empty index box');
    assert.strictEqual(await visible(wp, '.target .field-error'), false, 'no error before the user typed anything');
    await choose(wp.page, 'target-mode', 'Why A and not B');
    assert.deepStrictEqual([await value(wp, '#target-class'), await value(wp, '#target-other')], [String(top[0].index), String(top[1].index)]);
    assert.strictEqual(await visible(wp, '.target .field-error'), false);
    await wp.page.click('#run');
    assert.deepStrictEqual((await wp.waitForPost('explain')).params!.target, { kind: 'difference', a: top[0].index, b: top[1].index });
    await assertClean(wp);
  });

  it('the first minute: with the model, its settings and an image, the default method runs once without a click', async () => {
    const wp = ctx.page();
    const f = ctx.fixtures();
    // The host's order (explainer.ts): the model, then the settings, then the images it chose.
    await wp.send({ type: 'model', model: f.model, methods: f.methods });
    await wp.send({ type: 'settings', colormap: 'viridis', opacity: 0.5, method: 'gradcam++' });
    assert.strictEqual(await wp.countPosts('explain'), 0, 'nothing runs before there is an image');
    await wp.send({ type: 'images', images: f.images, selected: 'img1' });
    const first = await wp.waitForPost('explain');
    assert.deepStrictEqual(first.params, { imageId: 'img1', method: 'gradcam++', layer: 'auto', target: { kind: 'top' } });
    assert.strictEqual(await value(wp, '#method'), 'gradcam++');
    // Later renders, tab switches, settings and, once it answered, a reopened model do not run it
    // again (a model reopened while it runs does: races.test.ts).
    await wp.send({ type: 'prediction', imageId: 'img1', top: f.predictions.get('img1')! });
    await openTab(wp, 'compare');
    await openTab(wp, 'explain');
    await wp.send({ type: 'settings', colormap: 'jet', opacity: 0.5, method: 'gradcam++' });
    await wp.send({ type: 'response', requestId: first.requestId as string, kind: 'explain', result: { ...f.explanation, imageId: 'img1' } });
    await wp.send({ type: 'model', model: f.model, methods: f.methods });
    await wp.send({ type: 'images', images: f.images, selected: 'img0' });
    await wp.page.waitForTimeout(200);
    assert.strictEqual(await wp.countPosts('explain'), 1);
    await assertClean(wp);
  });

  it('the first minute does not fight a user who already clicked Run', async () => {
    const wp = await onExplain();
    const f = ctx.fixtures();
    await choose(wp.page, 'method', f.methods.find((m) => m.name === 'eigencam')!.title);
    await wp.page.click('#run');
    assert.strictEqual((await wp.waitForPost('explain')).params!.method, 'eigencam');
    // The settings arrive late: the user's run stands, no second one.
    await wp.send({ type: 'settings', colormap: 'viridis', opacity: 0.5, method: 'gradcam' });
    await wp.page.waitForTimeout(200);
    assert.strictEqual(await wp.countPosts('explain'), 1);
    await assertClean(wp);
  });

  it('"Why A and not B" is drawn signed: the diverging map, and a legend that says signed', async () => {
    const wp = await onExplain();
    const f = ctx.fixtures();
    await choose(wp.page, 'target-mode', 'Why A and not B');
    await wp.page.click('#run');
    const request = await wp.waitForPost('explain');
    const { a, b } = request.params!.target as { a: number; b: number };
    // The core's Grad-CAM of the first image for its top class against its second (fixtures.ts).
    assert.deepStrictEqual(f.difference.target, { kind: 'difference', a, b });
    assert.ok(f.difference.map.signed && f.difference.map.values.some((v) => v < 0), 'the core gave a signed map with negative values');
    await wp.send({ type: 'response', requestId: request.requestId as string, kind: 'explain', result: f.difference });
    await wp.page.waitForSelector(`.explain canvas.overlay[data-rendered="${f.difference.id}"]`);
    assert.match((await wp.page.textContent('.explain .legend-labels'))!, /signed/);
    assert.ok((await wp.page.textContent('.explain .result .notes'))!.includes('map: signed'));
    await assertClean(wp);
  });

  it('"Copy command" and "Copy Python" under a result (Explain and Compare) post copyReproduction for it', async () => {
    const wp = await onExplain();
    const f = ctx.fixtures();
    await wp.send({ type: 'response', requestId: 'host-1', kind: 'explain', result: f.explanation });
    await wp.page.waitForSelector(`.explain canvas.overlay[data-rendered="${f.explanation.id}"]`);
    // Found by role and accessible name, as a screen reader finds them.
    const explain = wp.page.locator('vscode-tab-panel[data-panel=explain]');
    await explain.getByRole('button', { name: 'Copy command' }).click();
    assert.deepStrictEqual(await wp.waitForPost('copyReproduction'), { type: 'copyReproduction', explanationId: f.explanation.id, form: 'command' });
    await explain.getByRole('button', { name: 'Copy Python' }).click();
    assert.deepStrictEqual(await wp.waitForPost('copyReproduction', 2), { type: 'copyReproduction', explanationId: f.explanation.id, form: 'python' });

    await openTab(wp, 'compare');
    await wp.page.click('#compare-run');
    const { requestId } = (await wp.waitForPost('compare')) as { requestId: string };
    for (const e of f.comparison) await wp.send({ type: 'compared', requestId, explanation: e });
    await wp.send({ type: 'response', requestId, kind: 'compare', result: f.comparison });
    const card = f.comparison[1];
    await wp.page.waitForSelector(`.compare-card[data-method="${card.method}"] canvas[data-rendered="${card.id}"]`);
    await wp.page.locator(`.compare-card[data-method="${card.method}"]`).getByRole('button', { name: 'Copy command' }).click();
    assert.deepStrictEqual(await wp.waitForPost('copyReproduction', 3), { type: 'copyReproduction', explanationId: card.id, form: 'command' });
    // assertClean checks every posted message against the host's validator (parseWebviewMessage).
    await assertClean(wp);
  });

  it('#4 a result from elsewhere brings the Explain tab and sets its method, layer and target', async () => {
    const wp = await loaded();
    const f = ctx.fixtures();
    await openTab(wp, 'overview');
    const other = f.model.layers.find((l) => l.shape?.length === 4 && l.tensor !== f.model.defaultCamLayer && l.name !== f.model.defaultCamLayer && l.scope)!;
    const target = f.predictions.get('img0')![2];
    const pushed: ExplanationView = { ...f.explanation, id: 'pushed-gradcam', method: 'gradcam', layer: other.tensor, target: { kind: 'class', index: target.index } };
    await wp.send({ type: 'response', requestId: 'lens-1', kind: 'explain', result: pushed });
    await wp.page.waitForSelector('vscode-tab-panel[data-panel=explain]:not([hidden])');
    await wp.page.waitForSelector(`.explain canvas.overlay[data-rendered="${pushed.id}"]`);
    assert.strictEqual(await value(wp, '#method'), 'gradcam');
    assert.strictEqual(await value(wp, '#layer'), other.name, 'the Layer select names the layer the result was computed at, not "auto"');
    assert.deepStrictEqual([await value(wp, '#target-mode'), await value(wp, '#target-class')], ['class', String(target.index)]);
    await assertClean(wp);
  });

  it('a prediction clicked is explained at once', async () => {
    const wp = await onExplain();
    const second = ctx.fixtures().predictions.get('img0')![1];
    await wp.page.click(`.prediction[data-index="${second.index}"]`);
    assert.deepStrictEqual((await wp.waitForPost('explain')).params!.target, { kind: 'class', index: second.index });
    await assertClean(wp);
  });

  it('#7 Activations open on the CAM layer, not the 1×1 pooled one', async () => {
    const wp = await loaded();
    const f = ctx.fixtures();
    const cam = f.model.layers.find((l) => l.tensor === f.model.defaultCamLayer || l.name === f.model.defaultCamLayer)!;
    // The worker names the CAM layer by its output tensor (test/unit/jobs.test.ts).
    await wp.send({ type: 'model', model: { ...f.model, defaultCamLayer: cam.tensor }, methods: f.methods });
    await openTab(wp, 'activations');
    assert.ok(cam.shape![2] * cam.shape![3] > 1);
    assert.strictEqual(await value(wp, '#activations-layer'), cam.name);
    await wp.page.click('#activations-run');
    assert.strictEqual((await wp.waitForPost('activations')).params!.layer, cam.name);
    await assertClean(wp);
  });

  it('#7 Feature visualisation takes any channel by number, and refuses one the layer lacks', async () => {
    const wp = await loaded();
    const f = ctx.fixtures();
    await openTab(wp, 'inside');
    const layer = f.model.layers.find((l) => l.tensor === f.model.defaultCamLayer || l.name === f.model.defaultCamLayer)!;
    const channels = layer.shape![1];
    await wp.page.fill('#gallery-channels >> input', `${channels - 16}, 3`);
    await wp.page.click('#gallery-run');
    const posted = await wp.waitForPost('featureGallery');
    assert.deepStrictEqual([posted.params!.layer, posted.params!.channels, posted.params!.count], [layer.tensor, [channels - 16, 3], 2]);
    await wp.send({ type: 'cancelled', requestId: posted.requestId as string });
    await wp.page.fill('#gallery-channels >> input', String(channels));
    await wp.page.waitForSelector('.gallery-card .field-error:not([hidden])');
    assert.ok((await wp.page.textContent('.gallery-card .field-error'))!.includes(`${channels} channels`));
    assert.ok(await wp.page.$eval('#gallery-run', (b) => b.hasAttribute('disabled')));
    await assertClean(wp);
  });

  it('#7 the Attention section is not offered for a plain CNN, and is for a graph with attention', async () => {
    const wp = await loaded();
    const f = ctx.fixtures();
    await openTab(wp, 'inside');
    assert.strictEqual(await visible(wp, 'section.attention'), false);
    await wp.send({ type: 'model', model: { ...f.model, opHistogram: { ...f.model.opHistogram, MatMul: 8, Softmax: 2 } }, methods: f.methods });
    await wp.page.waitForSelector('section.attention', { state: 'visible' });
    await assertClean(wp);
  });

  it('#7 the side view shows no method before there is an image', async () => {
    const wp = await ctx.open({ view: 'side', width: 360, height: 640 });
    const f = ctx.fixtures();
    await wp.send({ type: 'model', model: f.model, methods: f.methods });
    assert.strictEqual(await visible(wp, '#side-method'), false);
    await wp.send({ type: 'images', images: f.images, selected: 'img0' });
    await wp.page.waitForSelector('#side-method', { state: 'visible' });
    await assertClean(wp);
  });

  it('#8 thumbnails say their folder, are ordered by folder and natural name, and the chosen one is in view and marked', async () => {
    const wp = await ctx.open({ width: 857 });
    await openTab(wp, 'explain');
    const f = ctx.fixtures();
    const base = f.images[0];
    const names = ['10.png', '2.png', '1.png'];
    const images: ImageView[] = [
      ...names.map((name, i) => ({ ...base, id: `counter${i}`, name, folder: 'sample/dataset-shortcut/counter' })),
      ...Array.from({ length: 20 }, (_, i) => ({ ...base, id: `test${i}`, name: `${i}.png`, folder: 'sample/dataset/test/circle' })),
      { ...base, id: 'sample', name: 'circle.png', folder: 'sample/images' },
    ];
    await wp.send({ type: 'model', model: f.model, methods: f.methods });
    await wp.send({ type: 'images', images, selected: 'sample' });
    await wp.page.waitForSelector('.thumb[data-image-id=sample][aria-selected=true]');
    const shown = await wp.page.$$eval('.thumb', (ts) => ts.map((t) => `${t.querySelector('.thumb-folder')?.textContent}/${t.querySelector('.thumb-name')?.textContent}`));
    assert.deepStrictEqual(shown.slice(0, 3), ['sample/dataset-shortcut/counter/1.png', 'sample/dataset-shortcut/counter/2.png', 'sample/dataset-shortcut/counter/10.png']);
    assert.strictEqual(shown.at(-1), 'sample/images/circle.png');
    assert.strictEqual(await wp.page.getAttribute('.thumb[data-image-id=sample]', 'aria-label'), 'sample/images/circle.png');
    const [strip, thumb] = await Promise.all(['.thumbs', '.thumb[data-image-id=sample]'].map((s) => wp.page.$eval(s, (el) => el.getBoundingClientRect().toJSON() as DOMRect)));
    assert.ok(
      thumb.left >= strip.left - 1 && thumb.right <= strip.right + 1,
      `the chosen thumbnail is inside the strip's view (${thumb.left}–${thumb.right} of ${strip.left}–${strip.right})`,
    );
    const run = await wp.page.$eval('#run', (el) => el.getBoundingClientRect().toJSON() as DOMRect);
    assert.ok(run.left >= 0 && run.right <= 857, `Run lies within the 857 px view (${run.left}–${run.right})`);
    await assertClean(wp);
  });

  it('#10 a select near the bottom opens its list upwards, inside the window', async () => {
    const wp = await onExplain(await ctx.open({ width: 800, height: 600 }));
    const f = ctx.fixtures();
    await wp.send({ type: 'response', requestId: 'host-1', kind: 'explain', result: f.explanation });
    await wp.page.waitForSelector(`.explain canvas.overlay[data-rendered="${f.explanation.id}"]`);
    // The colormap select sits under the overlay: scrolled to the bottom edge of the window.
    await wp.page.$eval('#colormap', (el) => el.scrollIntoView({ block: 'end' }));
    await wp.page.click('#colormap');
    const list = await wp.page.waitForSelector('#colormap >> .dropdown, #colormap >> ul', { state: 'visible' });
    const box = (await list.boundingBox())!;
    assert.ok(box.y >= 0 && box.y + box.height <= 600, `the list (${box.y}–${box.y + box.height}) is inside the 600 px window`);
    assert.strictEqual(await wp.page.$eval('#colormap', (el) => (el as HTMLElement & { position: string }).position), 'above');
    await assertClean(wp);
  });

  // Every tab at each width (560 px: an 800 px window with the sidebar open): nothing wider than
  // the window, and table cells no narrower than a word.
  for (const width of [400, 560]) {
    it(`#10 at ${width} px no tab scrolls sideways and the layer table reflows`, async () => {
      const wp = await loaded(await ctx.open({ width, height: 800 }));
      const f = ctx.fixtures();
      await wp.send({ type: 'response', requestId: 'host-1', kind: 'explain', result: f.explanation });
      for (const tab of ['overview', 'explain', 'explain-all', 'compare', 'activations', 'dataset', 'inside']) {
        await openTab(wp, tab);
        if (tab === 'activations') {
          await wp.send({ type: 'response', requestId: f.activations.requestId, kind: 'activations', result: f.activations });
          await wp.page.click(`.channel[data-channel="${f.activations.channels[0].index}"]`);
        }
        const overflow = await wp.page.evaluate(() => {
          const wide = [...document.querySelectorAll<HTMLElement>('main *')].filter(
            (el) => el.getBoundingClientRect().right > window.innerWidth + 1 && el.checkVisibility() && !el.closest('.thumbs, .table-scroll'),
          );
          return { scroll: document.scrollingElement!.scrollWidth - window.innerWidth, wide: wide.slice(0, 3).map((el) => `${el.tagName.toLowerCase()}.${el.className}`) };
        });
        assert.deepStrictEqual(overflow, { scroll: 0, wide: [] }, `the ${tab} tab fits ${width} px`);
      }
      await openTab(wp, 'overview');
      const narrowest = await wp.page.$$eval('table.layers td.layer-name', (tds) => Math.min(...tds.map((td) => td.getBoundingClientRect().width)));
      assert.ok(narrowest >= 80, `layer names get at least 80 px (got ${narrowest})`);
      await assertClean(wp);
    });
  }

  // Screenshots in each theme and width, and axe-core's WCAG A/AA check of the tabs as shown.
  for (const theme of ['light', 'dark', 'high-contrast'] as Theme[]) {
    for (const width of [400, 800, 1600]) {
      it(`${theme} theme at ${width} px: screenshots, and axe-core finds no serious accessibility violation`, async () => {
        const wp = await onExplain(await ctx.open({ theme, width, height: 900 }));
        const f = ctx.fixtures();
        await wp.send({ type: 'response', requestId: 'host-1', kind: 'explain', result: f.explanation });
        await wp.page.waitForSelector(`.explain canvas.overlay[data-rendered="${f.explanation.id}"]`);
        const violations: string[] = [];
        violations.push(...(await wp.accessibilityViolations()).map((v) => `explain: ${v}`));
        await wp.page.screenshot({ path: screenshotPath(`ux-explain-${theme}-${width}.png`, false), fullPage: width === 400 });
        await openTab(wp, 'overview');
        violations.push(...(await wp.accessibilityViolations()).map((v) => `overview: ${v}`));
        await wp.page.screenshot({ path: screenshotPath(`ux-overview-${theme}-${width}.png`, false) });
        await openTab(wp, 'activations');
        await wp.send({ type: 'response', requestId: f.activations.requestId, kind: 'activations', result: f.activations });
        await wp.page.click(`.channel[data-channel="${f.activations.channels.find((c) => c.dead)!.index}"]`);
        violations.push(...(await wp.accessibilityViolations()).map((v) => `activations: ${v}`));
        await wp.page.screenshot({ path: screenshotPath(`ux-activations-${theme}-${width}.png`, false) });
        await openTab(wp, 'inside');
        violations.push(...(await wp.accessibilityViolations()).map((v) => `inside: ${v}`));
        assert.deepStrictEqual(violations, []);
        await assertClean(wp);
      });
    }
  }
});
