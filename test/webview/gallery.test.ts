// The model panel's "Explain all" tab in headless Chromium, under the host's strict CSP, fed with
// a real page of the worker's explainAll job (src/compute/jobs/explain-all.ts, run in this
// process) on the sample model and sample/images: the request it posts, progress, the cards,
// sorting and filtering, paging, Cancel and Resume, a card's click, virtualisation of thousands
// of cards, and screenshots in the light, dark and high-contrast themes at 400 and 1200 px.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { JobContext } from '../../src/compute/jobs';
import { explainAllJobs } from '../../src/compute/jobs/explain-all';
import { WorkerState } from '../../src/compute/jobs/state';
import { ModelContext } from '../../src/core/context';
import { ExplainAllView, GALLERY_PAGE as PAGE, parseWebviewMessage } from '../../src/protocol';
import { ROOT } from './fixtures';
import { Posted, WebviewPage } from './harness';
import { assertClean, choose, loadPanel, openTab, screenshotPath, useWebview } from './support';

const MODEL = path.join(ROOT, 'sample', 'shapes.onnx');
const IMAGES = path.join(ROOT, 'sample', 'images');
const FOLDERS = [
  { path: IMAGES, label: 'sample/images', images: 6 },
  { path: path.join(ROOT, 'sample', 'dataset'), label: 'sample/dataset', images: 160 },
];

/** The job's page for all of sample/images with Grad-CAM on each image's top class. */
async function computePage(): Promise<ExplainAllView> {
  const ctx = ModelContext.open(MODEL, { provider: 'cpu' });
  const state: WorkerState = { contextFor: () => ctx, imageFor: () => assert.fail('no loaded image is needed') };
  const job: JobContext = { signal: new AbortController().signal, progress: () => undefined };
  try {
    const jobs = explainAllJobs(state, async (_ctx, spec) => (spec.kind === 'top' ? { kind: 'class', index: 'top' } : assert.fail('the fixture asks for the top class')));
    return await jobs.explainAll({ modelPath: MODEL, folder: IMAGES, roots: [ROOT], method: 'gradcam', layer: 'auto', target: { kind: 'top' }, offset: 0, limit: 64 }, job);
  } finally {
    await ctx.dispose();
  }
}

describe('webview: the "Explain all" tab in Chromium', function () {
  const ctx = useWebview({ view: 'panel', theme: 'dark' });
  let page: ExplainAllView;

  before(async function () {
    this.timeout(300_000);
    if (!fs.existsSync(MODEL) || !fs.existsSync(IMAGES)) this.skip();
    page = await computePage();
  });

  async function opened(wp = ctx.page()): Promise<WebviewPage> {
    await loadPanel(wp, ctx.fixtures());
    await wp.send({ type: 'galleryFolders', folders: FOLDERS });
    await openTab(wp, 'explain-all');
    return wp;
  }

  /** Clicks Run (or Resume) and returns the explainAll request it posts. */
  async function run(wp: WebviewPage): Promise<Posted> {
    const count = await wp.countPosts('explainAll');
    await wp.page.click('#explain-all-run');
    return wp.waitForPost('explainAll', count + 1);
  }

  const answer = (wp: WebviewPage, requestId: string, result: ExplainAllView) => wp.send({ type: 'response', requestId, kind: 'explainAll', result });

  /** The rel paths of the cards in the DOM, in the grid's order (row by row). */
  const cardOrder = (wp: WebviewPage) =>
    wp.page.$$eval('.explain-all-card', (cards) =>
      cards
        .map((c) => ({ rel: c.getAttribute('data-rel-path')!, pos: Number(c.parentElement!.getAttribute('aria-posinset')) }))
        .sort((a, b) => a.pos - b.pos)
        .map((c) => c.rel),
    );

  it('runs on the chosen folder with the chosen settings, shows progress, then one card per image', async () => {
    const wp = await opened();
    assert.deepStrictEqual(
      await wp.page.$$eval('#explain-all-folder vscode-option', (os) => os.map((o) => o.getAttribute('value'))),
      FOLDERS.map((f) => f.path),
    );
    await choose(wp.page, 'explain-all-method', 'Grad-CAM');
    const posted = await run(wp);
    assert.deepStrictEqual(posted.params, { folder: IMAGES, method: 'gradcam', layer: 'auto', target: { kind: 'top' }, offset: 0, limit: PAGE });
    assert.ok(parseWebviewMessage(posted), 'the host accepts the request');
    await wp.send({ type: 'progress', requestId: posted.requestId!, fraction: 0.5, message: 'gradcam: 3/6 images, 9.5 images/s, 0 s left' });
    await wp.page.waitForFunction(() => document.querySelector('.explain-all-message')?.textContent === 'gradcam: 3/6 images, 9.5 images/s, 0 s left');
    assert.strictEqual(await wp.page.$eval('#explain-all-progress', (b) => (b as HTMLElement & { value: number }).value), 50);
    assert.ok(await wp.page.isVisible('#explain-all-cancel'));
    assert.ok((await wp.page.getAttribute('#explain-all-run', 'disabled')) !== null, 'no second run while one runs');
    await answer(wp, posted.requestId!, page);
    await wp.page.waitForFunction((n) => document.querySelectorAll('.explain-all-card').length === n, page.cards.length);
    assert.deepStrictEqual(
      await cardOrder(wp),
      page.cards.map((c) => c.relPath),
    );
    const star = page.cards.find((c) => c.relPath === 'star.png')!;
    // The card's accessible name is what it shows: the file name, the predicted class and its score.
    assert.strictEqual(
      await wp.page.locator('.explain-all-card[data-rel-path="star.png"]').evaluate((b) => (b as HTMLElement).innerText.replace(/\s+/g, ' ')),
      `star.png star · ${Math.round(star.prediction!.probability * 100)}%`,
    );
    assert.strictEqual(await wp.page.getByRole('button', { name: 'star.png star' }).count(), 1);
    assert.match((await wp.page.textContent('.explain-all-message'))!, /^6 images explained in \d+\.\d s\.$/);
    assert.strictEqual(await wp.page.textContent('.explain-all-summary'), '6 of 6 images shown (6 of 6 explained).');
    assert.strictEqual(await wp.countPosts('explainAll'), 1, 'no further page: the folder is done');
    // The card's picture is the image with the map over it: not the bare image.
    const drawn = await wp.page.$eval('.explain-all-card[data-rel-path="star.png"] canvas', (c) => {
      const data = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, (c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height).data;
      let colourful = 0;
      for (let i = 0; i < data.length; i += 4) if (Math.max(data[i], data[i + 1], data[i + 2]) - Math.min(data[i], data[i + 1], data[i + 2]) > 40) colourful++;
      return colourful / (data.length / 4);
    });
    assert.ok(drawn > 0.5, `the viridis overlay colours the picture (${drawn})`);
    await assertClean(wp);
  });

  it('sorts and filters the cards by score and predicted class', async () => {
    const wp = await opened();
    await answer(wp, (await run(wp)).requestId!, page);
    await wp.page.waitForSelector('.explain-all-card');
    await choose(wp.page, 'explain-all-sort', 'Score, lowest first');
    const byScore = [...page.cards].sort((a, b) => a.prediction!.probability - b.prediction!.probability || a.index - b.index).map((c) => c.relPath);
    await wp.page.waitForFunction((first) => document.querySelector('.explain-all-item[aria-posinset="1"] .explain-all-card')?.getAttribute('data-rel-path') === first, byScore[0]);
    assert.deepStrictEqual(await cardOrder(wp), byScore);
    const circles = page.cards.filter((c) => c.prediction!.label === 'circle');
    await choose(wp.page, 'explain-all-class', `circle (${circles.length})`);
    await wp.page.waitForFunction((n) => document.querySelectorAll('.explain-all-card').length === n, circles.length);
    assert.deepStrictEqual((await cardOrder(wp)).sort(), circles.map((c) => c.relPath).sort());
    await wp.page.fill('#explain-all-min-score', '101');
    await wp.page.waitForFunction(() => document.querySelectorAll('.explain-all-card').length === 0);
    assert.match((await wp.page.textContent('.explain-all-summary'))!, /^0 of 6 images shown/);
    await assertClean(wp);
  });

  it("a click on a card posts a valid galleryOpenImage with the run's settings and opens the Explain tab", async () => {
    const wp = await opened();
    await choose(wp.page, 'explain-all-method', 'Grad-CAM++');
    await answer(wp, (await run(wp)).requestId!, { ...page, method: 'gradcam++' });
    // Settings changed after the run do not change what a card opens with.
    await choose(wp.page, 'explain-all-method', 'Saliency (input gradient)');
    await wp.page.click('.explain-all-card[data-rel-path="triangle.png"]');
    const posted = await wp.waitForPost('galleryOpenImage');
    assert.deepStrictEqual(posted, { type: 'galleryOpenImage', relPath: 'triangle.png', folder: IMAGES, method: 'gradcam++', layer: 'auto', target: { kind: 'top' } });
    assert.ok(parseWebviewMessage(posted), 'the host accepts it');
    await wp.page.waitForSelector('vscode-tab-panel[data-panel=explain]:not([hidden])');
    await assertClean(wp);
  });

  it('asks page after page until the folder is done; Cancel stops it and Resume goes on from the next image', async () => {
    const wp = await opened();
    const total = 2 * PAGE + 3;
    const pageOf = (offset: number, limit: number): ExplainAllView => ({
      ...page,
      total,
      offset,
      cards: Array.from({ length: Math.min(limit, total - offset) }, (_, i) => ({
        ...page.cards[(offset + i) % page.cards.length],
        index: offset + i,
        relPath: `many/${offset + i}.png`,
      })),
    });
    const first = await run(wp);
    await answer(wp, first.requestId!, pageOf(0, PAGE));
    const second = await wp.waitForPost('explainAll', 2);
    assert.deepStrictEqual([second.params!.offset, second.params!.limit], [PAGE, PAGE], 'the next page follows by itself');
    await wp.page.click('#explain-all-cancel');
    assert.deepStrictEqual(await wp.waitForPost('cancel'), { type: 'cancel', requestId: second.requestId });
    assert.strictEqual(await wp.page.textContent('.explain-all-message'), 'Cancelling…', 'until the request ends');
    await wp.send({ type: 'cancelled', requestId: second.requestId! });
    // Resume is offered from the click on; the message changes once the cancellation arrives.
    await wp.page.waitForFunction(
      (expected) => document.querySelector('.explain-all-message')?.textContent === expected,
      `Stopped at ${PAGE} of ${total} images; Resume goes on from there.`,
    );
    assert.strictEqual(await wp.page.textContent('#explain-all-run'), 'Resume');
    assert.strictEqual(await wp.page.textContent('.explain-all-summary'), `${PAGE} of ${PAGE} images shown (${PAGE} of ${total} explained).`, 'what arrived stays');
    const resumed = await run(wp);
    assert.deepStrictEqual([resumed.params!.offset, resumed.params!.limit], [PAGE, PAGE]);
    await answer(wp, resumed.requestId!, pageOf(PAGE, PAGE));
    const last = await wp.waitForPost('explainAll', 4);
    assert.deepStrictEqual([last.params!.offset, last.params!.limit], [2 * PAGE, 3], 'the last page asks only for what is left');
    await answer(wp, last.requestId!, pageOf(2 * PAGE, 3));
    await wp.page.waitForFunction((t) => document.querySelector('.explain-all-summary')?.textContent === `${t} of ${t} images shown (${t} of ${t} explained).`, total);
    assert.strictEqual(await wp.countPosts('explainAll'), 4);
    await assertClean(wp);
  });

  it('keeps a few dozen cards in the DOM for 2,000 images, and scrolls to the last', async () => {
    const wp = await opened();
    const total = 2000;
    const many: ExplainAllView = {
      ...page,
      total,
      cards: Array.from({ length: total }, (_, i) => ({ ...page.cards[i % page.cards.length], index: i, relPath: `many/${String(i).padStart(4, '0')}.png` })),
    };
    await answer(wp, (await run(wp)).requestId!, many);
    await wp.page.waitForSelector('.explain-all-card');
    const inDom = await wp.page.$$eval('.explain-all-card', (cs) => cs.length);
    assert.ok(inDom > 0 && inDom < 120, `${inDom} cards in the DOM`);
    await wp.page.$eval('.explain-all-scroll', (el) => el.scrollTo(0, el.scrollHeight));
    await wp.page.waitForSelector('.explain-all-card[data-rel-path="many/1999.png"]');
    assert.ok((await wp.page.$$eval('.explain-all-card', (cs) => cs.length)) < 120);
    await assertClean(wp);
  });

  for (const theme of ['light', 'dark', 'high-contrast'] as const) {
    for (const width of [400, 1200]) {
      it(`screenshot in the ${theme} theme at ${width} px; axe-core finds no serious accessibility violation`, async () => {
        const wp = await opened(await ctx.open({ theme, width, height: 900 }));
        const posted = await run(wp);
        await answer(wp, posted.requestId!, page);
        await wp.page.waitForFunction((n) => document.querySelectorAll('.explain-all-card').length === n, page.cards.length);
        await choose(wp.page, 'explain-all-sort', 'Score, highest first');
        await wp.page.waitForTimeout(150);
        await wp.page.screenshot({
          path: screenshotPath(`panel-explain-all-${theme}${width === 400 ? '-400' : ''}.png`, width !== 400 && theme !== 'high-contrast'),
          fullPage: true,
        });
        const scroll = await wp.page.$eval('.explain-all-scroll', (el) => ({
          overflow: el.scrollWidth - el.clientWidth,
          page: document.documentElement.scrollWidth - window.innerWidth,
        }));
        assert.deepStrictEqual(scroll, { overflow: 0, page: 0 }, 'nothing runs off the side');
        assert.deepStrictEqual(await wp.accessibilityViolations(), []);
        await assertClean(wp);
      });
    }
  }
});
