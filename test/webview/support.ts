// What the webview test files share: fixtures and the bundle computed once per mocha process,
// a browser per file, and small page helpers (choosing in a vscode-single-select, reading canvases).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { Browser, Page } from 'playwright-core';
import { parseWebviewMessage } from '../../src/protocol';
import { Fixtures, ROOT, computeFixtures } from './fixtures';
import { OpenOptions, WebviewPage, buildWebview, launchChromium, loadPageBuilder } from './harness';

let fixtures: Promise<Fixtures> | undefined;
let app: Promise<{ script: string; page: Awaited<ReturnType<typeof loadPageBuilder>> }> | undefined;

export function sharedFixtures(): Promise<Fixtures> {
  fixtures ??= computeFixtures();
  return fixtures;
}

/** The bundled app and the host's page builder, built once per process. */
export function sharedApp(): Promise<{ script: string; page: Awaited<ReturnType<typeof loadPageBuilder>> }> {
  app ??= Promise.all([buildWebview(), loadPageBuilder()]).then(([script, page]) => ({ script, page }));
  return app;
}

/** Hooks for a suite: fixtures, bundle and a browser before; a fresh page for each test. */
export function useWebview(options: OpenOptions): { page: () => WebviewPage; fixtures: () => Fixtures; open: (o?: Partial<OpenOptions>) => Promise<WebviewPage> } {
  let browser: Browser;
  let f: Fixtures;
  let code: Awaited<ReturnType<typeof sharedApp>>;
  const pages: WebviewPage[] = [];
  before(async function () {
    this.timeout(180_000);
    [f, code, browser] = await Promise.all([sharedFixtures(), sharedApp(), launchChromium()]);
  });
  after(async () => {
    await browser?.close();
  });
  const open = async (o: Partial<OpenOptions> = {}) => {
    const wp = await WebviewPage.open(browser, code, { ...options, ...o });
    pages.push(wp);
    return wp;
  };
  beforeEach(async () => {
    await open();
  });
  afterEach(async () => {
    for (const wp of pages.splice(0)) await wp.close();
  });
  return { page: () => pages[0], fixtures: () => f, open };
}

/**
 * Fails on CSP violations, console errors, uncaught exceptions or requests outside the webview,
 * and on any posted message the host would reject (parseWebviewMessage).
 */
export async function assertClean(wp: WebviewPage): Promise<void> {
  assert.deepStrictEqual(await wp.allProblems(), [], 'the page reported CSP violations, console errors or outside requests');
  const malformed = (await wp.posted()).filter((m) => !parseWebviewMessage(m));
  assert.deepStrictEqual(malformed, [], 'the app posted messages the host would reject');
}

/** The panel after the host's first messages: the model, the images, predictions of the selected one. */
export async function loadPanel(wp: WebviewPage, f: Fixtures, imageId = 'img0'): Promise<WebviewPage> {
  await wp.send({ type: 'model', model: f.model, methods: f.methods });
  await wp.send({ type: 'images', images: f.images, selected: imageId });
  await wp.send({ type: 'prediction', imageId, top: f.predictions.get(imageId)! });
  await wp.page.waitForSelector('.prediction', { state: 'attached' });
  return wp;
}

export async function openTab(wp: WebviewPage, tab: string): Promise<void> {
  await wp.page.click(`vscode-tab-header[data-tab=${tab}]`);
  await wp.page.waitForSelector(`vscode-tab-panel[data-panel=${tab}]:not([hidden])`);
}

/** Picks an option of a vscode-single-select the way a user does: open it, click the option. */
export async function choose(page: Page, selectId: string, label: string): Promise<void> {
  await page.click(`#${selectId}`);
  await page.click(`#${selectId} li[role=option]:text-is("${label}")`);
  await page.waitForFunction(
    ([id, l]) => {
      const select = document.getElementById(id) as HTMLElement & { value: string };
      return [...select.querySelectorAll('vscode-option')].some((o) => o.textContent === l && o.getAttribute('value') === select.value);
    },
    [selectId, label] as const,
  );
}

/**
 * Compares a rendered canvas with the bare image drawn the same size: mean absolute difference
 * per channel (0–255), and the gray level sampled at each map pixel's centre.
 */
export async function canvasVersusImage(
  page: Page,
  canvasSelector: string,
  dataUrl: string,
  map?: { width: number; height: number },
): Promise<{ meanDiff: number; samples: number[] }> {
  return page.evaluate(
    async ([selector, url, m]) => {
      const canvas = document.querySelector(selector) as HTMLCanvasElement;
      const img = new Image();
      img.src = url;
      await img.decode();
      const bare = document.createElement('canvas');
      bare.width = canvas.width;
      bare.height = canvas.height;
      const ctx = bare.getContext('2d')!;
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = 'high';
      ctx.drawImage(img, 0, 0, bare.width, bare.height);
      const shown = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      const base = ctx.getImageData(0, 0, bare.width, bare.height).data;
      let diff = 0;
      let count = 0;
      for (let i = 0; i < shown.length; i += 4) {
        for (let c = 0; c < 3; c++) diff += Math.abs(shown[i + c] - base[i + c]);
        count += 3;
      }
      const samples: number[] = [];
      if (m) {
        const sx = canvas.width / m.width;
        const sy = canvas.height / m.height;
        for (let y = 0; y < m.height; y++) {
          for (let x = 0; x < m.width; x++) {
            const i = (Math.floor((y + 0.5) * sy) * canvas.width + Math.floor((x + 0.5) * sx)) * 4;
            samples.push(shown[i]);
          }
        }
      }
      return { meanDiff: diff / count, samples };
    },
    [canvasSelector, dataUrl, map ?? null] as const,
  );
}

/**
 * Where screenshots go: media/screenshots when UPDATE_SCREENSHOTS=1 (for the README), else
 * out/screenshots; those not in the README (`readme` false) always go to out/screenshots.
 */
export function screenshotPath(name: string, readme = true): string {
  const dir = readme && process.env.UPDATE_SCREENSHOTS === '1' ? path.join(ROOT, 'media', 'screenshots') : path.join(ROOT, 'out', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}
