// The canvas feature map at scale in headless Chromium: 100,000 synthetic points (syntheticMap.ts)
// (100,001: ten blobs of 10,000 and a lone point) drawn in one canvas, hovered, clicked to explain, zoomed around the pointer and lassoed. How long
// a frame takes is measured in the bench (bench/dataset-map.ts), not here.
import * as assert from 'assert';
import { pointOnPage } from './map-points';
import { showSyntheticMap, syntheticMap } from './synthetic-map';
import { assertClean, screenshotPath, useWebview } from './support';

const POINTS = 100_001;

describe('webview: the feature map with 100,000 points', function () {
  const ctx = useWebview({ view: 'panel', theme: 'dark' });
  const s = syntheticMap(POINTS);

  it('draws every point on one canvas, explains a clicked point, zooms around the pointer and lassoes a blob', async function () {
    this.timeout(120_000);
    const wp = ctx.page();
    const f = ctx.fixtures();
    await showSyntheticMap(wp, s, { path: '/synthetic', label: 'synthetic' }, { type: 'model', model: f.model, methods: f.methods });
    assert.strictEqual(await wp.page.locator('.feature-map-card canvas').count(), 1);
    assert.strictEqual(await wp.page.locator('.map-plot *').count(), 2, 'the plot is one canvas and its tooltip, no element per point');
    // Every blob shows in its class colour: the canvas pixel at each blob's centre is not the background.
    let at = await pointOnPage(wp.page, s.xy);
    await wp.page.locator('.feature-map-card').screenshot({ path: screenshotPath('panel-dataset-map-100k-dark.png') });
    const coloured = await wp.page.$eval('#feature-map', (el) => {
      const c = el as HTMLCanvasElement;
      const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let lit = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) lit++;
      return lit / (c.width * c.height);
    });
    console.log(
      `      ${(s.xy.length / 2).toLocaleString('en-US')} points cover ${(coloured * 100).toFixed(1)}% of the canvas; caption: ${await wp.page.textContent('.map-caption')}`,
    );
    assert.ok(coloured > 0.05, 'the blobs cover the canvas visibly');

    // The lone point at the centre: hover shows it, a click explains it.
    const lone = at(s.xy[2 * s.lone], s.xy[2 * s.lone + 1]);
    await wp.page.mouse.move(lone.x, lone.y);
    await wp.page.waitForSelector(`.map-tooltip:not([hidden])[data-index="${s.lone}"]`);
    await wp.page.mouse.click(lone.x, lone.y);
    assert.deepStrictEqual(await wp.waitForPost('datasetOpenImage'), { type: 'datasetOpenImage', relPath: s.dataset.images[s.lone].relPath });
    await wp.page.click('vscode-tab-header[data-tab=dataset]');
    // Clicks scroll the page: the canvas is placed again after each.
    at = await pointOnPage(wp.page, s.xy);

    // Zooming in around a blob's first point keeps that point under the pointer, magnified.
    // Whole pixels: a wheel event's clientX/Y are integers, a pointer event's are not.
    const exact = at(s.xy[0], s.xy[1]);
    const first = { x: Math.round(exact.x), y: Math.round(exact.y) };
    await wp.page.mouse.move(first.x, first.y);
    await wp.page.mouse.wheel(0, -600);
    // The map zoomed by e² (a wheel step of −600 at e^(−deltaY/300)) around the pointer: point 0 lies e² times farther from it.
    const zoom = Math.exp(2);
    const zoomed = { x: first.x + (exact.x - first.x) * zoom, y: first.y + (exact.y - first.y) * zoom };
    await wp.page.mouse.move(first.x + 40, first.y + 40);
    await wp.page.mouse.move(zoomed.x, zoomed.y);
    await wp.page.waitForSelector('.map-tooltip:not([hidden])[data-index="0"]');
    await wp.page.click('#map-reset');
    at = await pointOnPage(wp.page, s.xy);

    // A lasso (Shift-drag) around blob 3 chooses exactly its points; the slice view asks for them.
    const [cx, cy] = s.blobCentre(3);
    const corners = [
      [-2, -2],
      [2, -2],
      [2, 2],
      [-2, 2],
    ].map(([dx, dy]) => at(cx + dx, cy + dy));
    await wp.page.keyboard.down('Shift');
    await wp.page.mouse.move(corners[0].x, corners[0].y);
    await wp.page.mouse.down();
    for (const c of [...corners.slice(1), corners[0]]) await wp.page.mouse.move(c.x, c.y, { steps: 4 });
    await wp.page.mouse.up();
    await wp.page.keyboard.up('Shift');
    await wp.page.waitForSelector('.map-chosen:not([hidden])');
    const blobErrors = s.dataset.images.slice(3 * s.perBlob, 4 * s.perBlob).filter((im) => im.label !== im.prediction).length;
    assert.strictEqual(await wp.page.textContent('.map-chosen'), `${s.perBlob.toLocaleString('en-US')} images chosen (${blobErrors} misclassified). Show in slice view`);
    const count = await wp.countPosts('datasetSlice');
    await wp.page.click('#map-show-chosen');
    const slice = await wp.waitForPost('datasetSlice', count + 1);
    const chosen = (slice.params as { filter: { images: number[] } }).filter.images;
    assert.deepStrictEqual(
      chosen,
      Array.from({ length: s.perBlob }, (_, k) => 3 * s.perBlob + k),
    );
    await assertClean(wp);
  });
});
