// Issue #16's message-order races in the panel's first minute. The host's messages (model,
// settings, images, a request it started itself: 'started', then its response) may reach the view
// in any order relative to each other and to what the user does; each test drives one order
// explicitly and waits on what the view shows, never on time. What must hold in every order: the
// first explanation yields to anyone else's, a result never gives way to one started before it,
// and what the user chose (method, layer, target, colormap) survives late or repeated messages.
import * as assert from 'assert';
import type { ExplanationView, HostToWebview } from '../../src/protocol';
import type { Fixtures } from './fixtures';
import { WebviewPage } from './harness';
import { assertClean, choose, openTab, useWebview } from './support';

/** Every order of `items`. */
function orders<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) => orders([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

describe('webview: message-order races in the first minute', function () {
  const ctx = useWebview({ view: 'panel', theme: 'dark' });
  const DEFAULT_METHOD = 'gradcam++';

  const value = (wp: WebviewPage, selector: string) => wp.page.$eval(selector, (el) => (el as HTMLElement & { value: string }).value);
  const explainPosts = async (wp: WebviewPage) => (await wp.posted()).filter((m) => m.type === 'request' && m.kind === 'explain');
  const cancels = async (wp: WebviewPage) => (await wp.posted()).filter((m) => m.type === 'cancel').map((m) => m.requestId);
  const shown = (wp: WebviewPage, id: string) => wp.page.waitForSelector(`.explain canvas.overlay[data-rendered="${id}"]`);
  const settings = (method = DEFAULT_METHOD, colormap = 'viridis', opacity = 0.5): HostToWebview => ({ type: 'settings', colormap, opacity, method });

  /** The host's explanation of img0, by a method other than the default (f.explanation is CAM). */
  const hostResult = (f: Fixtures): ExplanationView => ({ ...f.explanation, id: 'host-result' });

  /** The host's first messages to a panel, by name: each test sends them in its own order. */
  const firstMessages = (f: Fixtures, selected = 'img0', s = settings()): Record<'model' | 'settings' | 'images', HostToWebview> => ({
    model: { type: 'model', model: f.model, methods: f.methods },
    settings: s,
    images: { type: 'images', images: f.images, selected },
  });

  /**
   * Sends the selected image's prediction and waits until the view shows it: the view handles messages in order,
   * so everything sent before has been handled (and any first run it caused posted: that runs in a
   * microtask of the message that enabled it).
   */
  async function settle(wp: WebviewPage, f: Fixtures, imageId = 'img0'): Promise<void> {
    await wp.send({ type: 'prediction', imageId, top: f.predictions.get(imageId)! });
    await wp.page.waitForSelector('.explain .prediction', { state: 'attached' });
  }

  /** A page with the first run posted (model, settings, images with img0 selected) and not answered. */
  async function firstRunning(wp: WebviewPage, f: Fixtures): Promise<string> {
    for (const message of Object.values(firstMessages(f))) await wp.send(message);
    const first = await wp.waitForPost('explain');
    assert.strictEqual(first.params!.method, DEFAULT_METHOD);
    return first.requestId as string;
  }

  it('the first run waits for the model, the settings and the images in any order, and runs once', async function () {
    this.timeout(120_000);
    const f = ctx.fixtures();
    const parts: Record<string, HostToWebview> = firstMessages(f, 'img1');
    for (const order of orders(Object.keys(parts))) {
      const wp = await ctx.open();
      for (const part of order) await wp.send(parts[part]);
      const first = await wp.waitForPost('explain');
      assert.deepStrictEqual(first.params, { imageId: 'img1', method: DEFAULT_METHOD, layer: 'auto', target: { kind: 'top' } }, order.join(' → '));
      await settle(wp, f, 'img1');
      assert.strictEqual((await explainPosts(wp)).length, 1, order.join(' → '));
      await assertClean(wp);
      await wp.close();
    }
  });

  it('a host-started explanation ("started", then its result) is never raced by the first run, in any order', async function () {
    this.timeout(180_000);
    const f = ctx.fixtures();
    const result = hostResult(f);
    const parts: Record<string, HostToWebview> = {
      ...firstMessages(f),
      started: { type: 'started', requestId: 'host-explain-1', kind: 'explain', message: 'Grad-CAM…' },
    };
    for (const order of orders(Object.keys(parts))) {
      const wp = await ctx.open();
      for (const part of order) await wp.send(parts[part]);
      await wp.send({ type: 'response', requestId: 'host-explain-1', kind: 'explain', result });
      await shown(wp, result.id);
      await settle(wp, f);
      const posted = await explainPosts(wp);
      // Once images, model and settings are in before 'started', the first run may have gone out;
      // then it was cancelled as soon as the host's request was known.
      const ranFirst = order.indexOf('started') === 3;
      assert.strictEqual(posted.length, ranFirst ? 1 : 0, `${order.join(' → ')}: explain requests posted`);
      assert.deepStrictEqual(await cancels(wp), ranFirst ? [posted[0].requestId] : [], `${order.join(' → ')}: cancelled`);
      assert.strictEqual(await value(wp, '#method'), result.method, `${order.join(' → ')}: the method select names the host's method`);
      if (ranFirst) {
        // Its response, had it left the host before the cancel: dropped, the host's result stays.
        await wp.send({ type: 'response', requestId: posted[0].requestId as string, kind: 'explain', result: { ...f.comparison[1], id: 'late-first' } });
        await wp.send({ type: 'images', images: f.images, selected: 'img0' });
        await settle(wp, f);
        assert.strictEqual(await wp.page.getAttribute('.explain canvas.overlay', 'data-rendered'), result.id);
        assert.strictEqual(await value(wp, '#method'), result.method);
      }
      assert.strictEqual(await wp.page.isVisible('.status .notice'), false, `${order.join(' → ')}: no "Cancelled." notice for a run the user never asked for`);
      await assertClean(wp);
      await wp.close();
    }
  });

  it("a host result never announced (an older host, a lens) also wins, and the first run's late result is dropped, in any order", async function () {
    this.timeout(180_000);
    const f = ctx.fixtures();
    const result = hostResult(f);
    const parts: Record<string, HostToWebview> = {
      ...firstMessages(f),
      response: { type: 'response', requestId: 'lens-1', kind: 'explain', result },
    };
    for (const order of orders(Object.keys(parts))) {
      const wp = await ctx.open();
      for (const part of order) await wp.send(parts[part]);
      await shown(wp, result.id);
      await settle(wp, f);
      const posted = await explainPosts(wp);
      const ranFirst = order.indexOf('response') === 3;
      assert.strictEqual(posted.length, ranFirst ? 1 : 0, order.join(' → '));
      assert.deepStrictEqual(await cancels(wp), ranFirst ? [posted[0].requestId] : [], order.join(' → '));
      if (ranFirst) {
        // The host answers the cancel; either message may come, neither shows anything.
        await wp.send({ type: 'response', requestId: posted[0].requestId as string, kind: 'explain', result: { ...f.comparison[1], id: 'late-first' } });
        await wp.send({ type: 'cancelled', requestId: posted[0].requestId as string });
        await wp.send({ type: 'error', requestId: posted[0].requestId as string, message: 'That image is no longer loaded; choose it again.' });
        await settle(wp, f);
      }
      assert.strictEqual(await wp.page.getAttribute('.explain canvas.overlay', 'data-rendered'), result.id, order.join(' → '));
      assert.strictEqual(await value(wp, '#method'), result.method, order.join(' → '));
      assert.strictEqual(await wp.page.isVisible('.status .error'), false, `${order.join(' → ')}: no error`);
      await assertClean(wp);
      await wp.close();
    }
  });

  it('a prediction clicked while the first run is out cancels it, and its result stays when the first run answers later', async () => {
    const wp = ctx.page();
    const f = ctx.fixtures();
    const first = await firstRunning(wp, f);
    await settle(wp, f);
    const second = f.predictions.get('img0')![1];
    await wp.page.click(`.prediction[data-index="${second.index}"]`);
    const clicked = await wp.waitForPost('explain', 2);
    assert.deepStrictEqual(clicked.params!.target, { kind: 'class', index: second.index });
    assert.deepStrictEqual(await cancels(wp), [first]);
    const mine = { ...f.explanation, id: 'clicked', target: { kind: 'class' as const, index: second.index } };
    await wp.send({ type: 'response', requestId: clicked.requestId as string, kind: 'explain', result: mine });
    await shown(wp, mine.id);
    await wp.send({ type: 'response', requestId: first, kind: 'explain', result: { ...f.comparison[1], id: 'late-first' } });
    await settle(wp, f);
    assert.strictEqual(await wp.page.getAttribute('.explain canvas.overlay', 'data-rendered'), mine.id);
    await assertClean(wp);
  });

  it('of two runs answered out of order, the one started last stays shown', async () => {
    const wp = ctx.page();
    const f = ctx.fixtures();
    await wp.send({ type: 'model', model: f.model, methods: f.methods });
    await wp.send({ type: 'images', images: f.images, selected: 'img0' });
    await settle(wp, f);
    const [a, b] = f.predictions.get('img0')!;
    await wp.page.click(`.prediction[data-index="${a.index}"]`);
    await wp.page.click(`.prediction[data-index="${b.index}"]`);
    const [early, late] = await explainPosts(wp);
    assert.ok(late, 'two requests');
    const later = { ...f.explanation, id: 'later', target: { kind: 'class' as const, index: b.index } };
    await wp.send({ type: 'response', requestId: late.requestId as string, kind: 'explain', result: later });
    await shown(wp, later.id);
    await wp.send({ type: 'response', requestId: early.requestId as string, kind: 'explain', result: { ...f.explanation, id: 'earlier' } });
    await settle(wp, f);
    assert.strictEqual(await wp.page.getAttribute('.explain canvas.overlay', 'data-rendered'), later.id);
    assert.strictEqual(await value(wp, '#target-class'), String(b.index));
    await assertClean(wp);
  });

  it('a model posted again while the first run is out (the worker reopened it) runs it again on the new image list, silently', async () => {
    const wp = ctx.page();
    const f = ctx.fixtures();
    const first = await firstRunning(wp, f);
    await wp.send({ type: 'model', model: f.model, methods: f.methods });
    await wp.send(settings());
    assert.deepStrictEqual(await cancels(wp), [first]);
    // The host reloads the images under new ids (explainer.ts reload()).
    const reloaded = f.images.map((i) => ({ ...i, id: `re-${i.id}` }));
    await wp.send({ type: 'images', images: reloaded, selected: 're-img0' });
    const again = await wp.waitForPost('explain', 2);
    assert.deepStrictEqual(again.params, { imageId: 're-img0', method: DEFAULT_METHOD, layer: 'auto', target: { kind: 'top' } });
    // The reopened worker no longer knows the first run's image: its error is not the user's.
    await wp.send({ type: 'error', requestId: first, message: 'That image is no longer loaded; choose it again.' });
    const result = { ...f.explanation, id: 'again', imageId: 're-img0', method: DEFAULT_METHOD };
    await wp.send({ type: 'response', requestId: again.requestId as string, kind: 'explain', result });
    await shown(wp, result.id);
    assert.strictEqual(await wp.page.isVisible('.status .error'), false);
    assert.strictEqual((await explainPosts(wp)).length, 2);
    await assertClean(wp);
  });

  it("the first run's result does not pull a user who went to another tab back to Explain", async () => {
    const wp = ctx.page();
    const f = ctx.fixtures();
    const first = await firstRunning(wp, f);
    await openTab(wp, 'overview');
    await wp.send({ type: 'response', requestId: first, kind: 'explain', result: { ...f.explanation, method: DEFAULT_METHOD } });
    await settle(wp, f);
    assert.ok(await wp.page.isVisible('vscode-tab-panel[data-panel=overview]'), 'still on Overview');
    await openTab(wp, 'explain');
    await shown(wp, f.explanation.id);
    await assertClean(wp);
  });

  it('settings that come after the user chose a method, or after a host result set it, leave it; before any choice they set the default', async () => {
    const wp = ctx.page();
    const f = ctx.fixtures();
    await wp.send({ type: 'model', model: f.model, methods: f.methods });
    await openTab(wp, 'explain');
    const method = () => value(wp, '#method');
    // Before any choice: the settings' default, and a default changed in VS Code.
    await wp.send(settings('gradcam'));
    await wp.page.waitForFunction(() => (document.getElementById('method') as HTMLElement & { value: string }).value === 'gradcam');
    await wp.send(settings('eigencam'));
    await wp.page.waitForFunction(() => (document.getElementById('method') as HTMLElement & { value: string }).value === 'eigencam');
    // The images: the first run, with the default as it is now.
    await wp.send({ type: 'images', images: f.images, selected: 'img0' });
    const first = await wp.waitForPost('explain');
    assert.strictEqual(first.params!.method, 'eigencam');
    await wp.send({ type: 'response', requestId: first.requestId as string, kind: 'explain', result: { ...f.comparison[1], id: 'first' } });
    await shown(wp, 'first');
    // The user picks: settings sent again, changed, or with the model again leave the pick.
    const scorecam = f.methods.find((m) => m.name === 'scorecam')!;
    await choose(wp.page, 'method', scorecam.title);
    await wp.send(settings('eigencam'));
    await wp.send(settings('gradcam'));
    await wp.send({ type: 'model', model: f.model, methods: f.methods });
    await settle(wp, f);
    assert.strictEqual(await method(), 'scorecam');

    // A fresh view: a host result sets the method, late settings leave it.
    const other = await ctx.open();
    await other.send({ type: 'model', model: f.model, methods: f.methods });
    await other.send({ type: 'images', images: f.images, selected: 'img0' });
    await other.send({ type: 'response', requestId: 'host-explain-1', kind: 'explain', result: hostResult(f) });
    await shown(other, 'host-result');
    await other.send(settings('gradcam'));
    await settle(other, f);
    assert.strictEqual(await value(other, '#method'), f.explanation.method);
    assert.strictEqual((await explainPosts(other)).length, 0, 'no first run over a result already shown');
    await assertClean(wp);
    await assertClean(other);
  });

  it('a reopened model (the same model and images again) keeps the layer, the target and the colormap the user chose; a setting changed in VS Code applies', async () => {
    const wp = ctx.page();
    const f = ctx.fixtures();
    await wp.send({ type: 'model', model: f.model, methods: f.methods });
    await wp.send(settings('gradcam'));
    await wp.send({ type: 'response', requestId: 'host-explain-1', kind: 'explain', result: hostResult(f) });
    await wp.send({ type: 'images', images: f.images, selected: 'img0' });
    await settle(wp, f);
    await shown(wp, 'host-result');
    const layer = f.model.layers.find((l) => l.shape?.length === 4 && l.scope && l.name !== f.model.defaultCamLayer && l.tensor !== f.model.defaultCamLayer)!;
    const gradcam = f.methods.find((m) => m.name === 'gradcam')!;
    await choose(wp.page, 'method', gradcam.title);
    await choose(wp.page, 'layer', layer.scope!);
    const third = f.predictions.get('img0')![2];
    await choose(wp.page, 'target-mode', 'A class');
    await choose(wp.page, 'target-class', `${third.label} (#${third.index})`);
    await choose(wp.page, 'colormap', 'jet');

    // The worker reopened the model: model, settings, the same images under new ids, their predictions.
    await wp.send({ type: 'model', model: f.model, methods: f.methods });
    await wp.send(settings('gradcam'));
    const reloaded = f.images.map((i) => ({ ...i, id: `re-${i.id}` }));
    await wp.send({ type: 'images', images: reloaded, selected: 're-img0' });
    await wp.send({ type: 'prediction', imageId: 're-img0', top: f.predictions.get('img0')! });
    await wp.page.waitForSelector('.explain canvas.overlay[data-rendered="image:re-img0"]');
    assert.deepStrictEqual(
      [await value(wp, '#method'), await value(wp, '#layer'), await value(wp, '#target-mode'), await value(wp, '#target-class'), await value(wp, '#colormap')],
      ['gradcam', layer.name, 'class', String(third.index), 'jet'],
    );
    await wp.page.click('#run');
    const run = await wp.waitForPost('explain');
    assert.deepStrictEqual(run.params, { imageId: 're-img0', method: 'gradcam', layer: layer.name, target: { kind: 'class', index: third.index } });

    // Another image is another question: A starts at its top class again.
    await wp.send({ type: 'images', images: reloaded, selected: 're-img1' });
    await wp.send({ type: 'prediction', imageId: 're-img1', top: f.predictions.get('img1')! });
    await wp.page.waitForFunction((top) => (document.getElementById('target-class') as HTMLElement & { value: string }).value === top, String(f.predictions.get('img1')![0].index));
    // The colormap setting changed in VS Code: it applies.
    await wp.send(settings('gradcam', 'inferno'));
    await wp.page.waitForFunction(() => (document.getElementById('colormap') as HTMLElement & { value: string }).value === 'inferno');
    await assertClean(wp);
  });

  it('a reloaded view (VS Code shows the hidden webview again) keeps the colormap and opacity the user chose over the same settings; a changed setting applies', async () => {
    const wp = ctx.page();
    const f = ctx.fixtures();
    for (const message of Object.values(firstMessages(f, 'img0', settings('gradcam', 'viridis', 0.5)))) await wp.send(message);
    await settle(wp, f);
    await choose(wp.page, 'colormap', 'jet');
    await wp.page.$eval('#opacity', (el) => {
      const input = el as HTMLInputElement;
      input.value = '80';
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });

    // The reload: a new page from the state VS Code kept; the host sends everything again.
    const reloaded = await ctx.open({ state: await wp.savedState() });
    for (const message of Object.values(firstMessages(f, 'img0', settings('gradcam', 'viridis', 0.5)))) await reloaded.send(message);
    await settle(reloaded, f);
    assert.deepStrictEqual([await value(reloaded, '#colormap'), await value(reloaded, '#opacity')], ['jet', '80']);

    // A setting changed in VS Code while the view was hidden applies after the next reload.
    const again = await ctx.open({ state: await reloaded.savedState() });
    for (const message of Object.values(firstMessages(f, 'img0', settings('gradcam', 'inferno', 0.5)))) await again.send(message);
    await settle(again, f);
    assert.deepStrictEqual([await value(again, '#colormap'), await value(again, '#opacity')], ['inferno', '80']);

    // A colormap the setting chose (the user picked none) stays after a reload too.
    const bySetting = await ctx.open({ state: { settings: { colormap: 'inferno', opacity: 0.5, method: 'gradcam' } } });
    for (const message of Object.values(firstMessages(f, 'img0', settings('gradcam', 'turbo', 0.3)))) await bySetting.send(message);
    await settle(bySetting, f);
    const afterReload = await ctx.open({ state: await bySetting.savedState() });
    for (const message of Object.values(firstMessages(f, 'img0', settings('gradcam', 'turbo', 0.3)))) await afterReload.send(message);
    await settle(afterReload, f);
    assert.deepStrictEqual([await value(afterReload, '#colormap'), await value(afterReload, '#opacity')], ['turbo', '30']);
    await assertClean(wp);
    await assertClean(reloaded);
    await assertClean(again);
    await assertClean(bySetting);
    await assertClean(afterReload);
  });

  it('settings changed in VS Code while the first run is out: the running method stays selected, its result is shown, nothing runs twice; the new colormap applies', async () => {
    const wp = ctx.page();
    const f = ctx.fixtures();
    const first = await firstRunning(wp, f);
    await wp.send(settings('eigencam', 'inferno', 0.7));
    await settle(wp, f);
    assert.deepStrictEqual([await value(wp, '#method'), await value(wp, '#colormap')], [DEFAULT_METHOD, 'inferno']);
    const result = { ...f.explanation, id: 'first', method: DEFAULT_METHOD };
    await wp.send({ type: 'response', requestId: first, kind: 'explain', result });
    await shown(wp, result.id);
    await wp.send(settings('gradcam', 'inferno', 0.7));
    await settle(wp, f);
    assert.strictEqual(await value(wp, '#method'), DEFAULT_METHOD);
    assert.strictEqual((await explainPosts(wp)).length, 1);
    assert.deepStrictEqual(await cancels(wp), []);
    await assertClean(wp);
  });

  it("a host request's 'started' shows its progress with a Cancel that cancels it", async () => {
    const wp = ctx.page();
    const f = ctx.fixtures();
    await wp.send({ type: 'model', model: f.model, methods: f.methods });
    await wp.send({ type: 'images', images: f.images, selected: 'img0' });
    await wp.send({ type: 'started', requestId: 'host-explain-7', kind: 'explain', message: 'Grad-CAM on circle.png…' });
    await wp.page.waitForSelector('.status .progress:not([hidden])');
    assert.ok((await wp.page.textContent('.status .progress-message'))!.includes('Grad-CAM'));
    assert.ok(await wp.page.$eval('#run', (b) => b.hasAttribute('disabled')), 'Run waits for the running explanation');
    await wp.page.click('.status .cancel');
    assert.deepStrictEqual(await wp.waitForPost('cancel'), { type: 'cancel', requestId: 'host-explain-7' });
    await wp.send({ type: 'cancelled', requestId: 'host-explain-7' });
    await wp.page.waitForSelector('.status .progress', { state: 'hidden' });
    await assertClean(wp);
  });
});
