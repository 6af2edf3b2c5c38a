// The canvas feature map's frame time with 100,001 points (test/webview/synthetic-map.ts) in headless
// Chromium: the first draw and the draws after each of a series of wheel zooms, as median and
// worst next to the 16.7 ms of one frame at 60 Hz.
import { WebviewPage, launchChromium } from '../test/webview/harness';
import { showSyntheticMap, syntheticMap } from '../test/webview/synthetic-map';
import { sharedApp, sharedFixtures } from '../test/webview/support';

const POINTS = 100_001;
const FRAME_BUDGET_MS = 1000 / 60;

export async function benchDatasetMap(quick: boolean): Promise<Record<string, unknown>[]> {
  const [app, fixtures, browser] = await Promise.all([sharedApp(), sharedFixtures(), launchChromium()]);
  try {
    const wp = await WebviewPage.open(browser, app, { view: 'panel', theme: 'dark' });
    const s = syntheticMap(POINTS);
    await showSyntheticMap(wp, s, { path: '/synthetic', label: 'synthetic' }, { type: 'model', model: fixtures.model, methods: fixtures.methods });
    const frame = () => wp.page.$eval('#feature-map', (el) => ({ ms: Number((el as HTMLElement).dataset.frameMs), frames: Number((el as HTMLElement).dataset.frames) }));
    const first = await frame();
    await wp.page.$eval('#feature-map', (el) => el.scrollIntoView({ block: 'center' }));
    const box = (await wp.page.locator('#feature-map').boundingBox())!;
    const times: number[] = [];
    const steps = quick ? 10 : 40;
    for (let k = 0; k < steps; k++) {
      const before = (await frame()).frames;
      await wp.page.mouse.move(box.x + box.width * (0.3 + (0.4 * ((k * 7) % 10)) / 10), box.y + box.height / 2);
      await wp.page.mouse.wheel(0, k % 4 < 2 ? -150 : 150);
      await wp.page.waitForFunction((n) => Number((document.querySelector('#feature-map') as HTMLElement).dataset.frames) > n, before);
      times.push((await frame()).ms);
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    const worst = times[times.length - 1];
    console.log(
      `\nfeature map, ${POINTS.toLocaleString('en-US')} points on a canvas in headless Chromium: first draw ${first.ms.toFixed(1)} ms; over ${steps} zooms median ${median.toFixed(1)} ms, worst ${worst.toFixed(1)} ms a frame (${(median / FRAME_BUDGET_MS).toFixed(2)}× the ${FRAME_BUDGET_MS.toFixed(1)} ms of a 60 Hz frame)`,
    );
    await wp.close();
    return [
      {
        bench: 'feature map frame time',
        points: POINTS,
        first_draw_ms: first.ms,
        zooms: steps,
        median_frame_ms: median,
        worst_frame_ms: worst,
        frame_budget_ms: FRAME_BUDGET_MS,
        median_frame_ratio: median / FRAME_BUDGET_MS,
      },
    ];
  } finally {
    await browser.close();
  }
}

if (require.main === module) {
  benchDatasetMap(process.argv.includes('--quick')).catch((err) => {
    console.error(`bench failed: ${(err as Error).stack}`);
    process.exitCode = 1;
  });
}
