// The model panel in headless Chromium, under the host's strict CSP, fed with real results of the
// core on the sample model (see fixtures.ts).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { parseWebviewMessage } from '../../src/protocol';
import type { ExplanationView } from '../../src/protocol';
import { COMPARED, ROOT } from './fixtures';
import { WebviewPage } from './harness';
import { pearson } from '../../src/core/inside/similarity';
import { assertClean, canvasVersusImage, choose, loadPanel, openTab, screenshotPath, useWebview } from './support';

describe('webview: model panel in Chromium', function () {
  const ctx = useWebview({ view: 'panel', theme: 'dark' });

  const loaded = (wp = ctx.page(), imageId = 'img0'): Promise<WebviewPage> => loadPanel(wp, ctx.fixtures(), imageId);

  /** Ticks exactly these methods in the Compare tab, clicking the checkboxes. */
  async function tickOnly(wp: WebviewPage, methods: string[]): Promise<void> {
    for (const box of await wp.page.$$('.method-checks vscode-checkbox')) {
      const [name, checked] = await box.evaluate((el) => [el.getAttribute('value')!, (el as HTMLElement & { checked: boolean }).checked] as const);
      if (checked !== methods.includes(name)) await box.click();
    }
  }

  it('renders the model overview: header, facts, inputs/outputs, op histogram and every layer with its shape', async () => {
    const wp = await loaded();
    const m = ctx.fixtures().model;
    const page = wp.page;
    assert.strictEqual(await page.textContent('.panel-header h1'), m.name);
    const facts = await page.$$eval('dl.info dt', (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling!.textContent])));
    assert.strictEqual(facts.Producer, m.producer);
    assert.strictEqual(facts.Opset, String(m.opset));
    assert.ok(facts.Parameters!.includes(m.parameterCount.toLocaleString('en-US')), facts.Parameters);
    assert.ok(facts.Provider!.includes('CPU') && facts.Provider!.includes(m.provider.reason) && facts.Provider!.includes(`${m.provider.threads} threads per op`));
    assert.ok(facts.Preprocessing!.includes(m.preprocessing.description));
    const io = await page.$$eval('table.io tbody tr', (rows) => rows.map((r) => [...r.children].map((td) => td.textContent)));
    assert.deepStrictEqual(io, [
      ...m.inputs.map((t) => ['input', t.name, t.dtype, `[${t.shape.join(', ')}]`]),
      ...m.outputs.map((t) => ['output', t.name, t.dtype, `[${t.shape.join(', ')}]`]),
    ]);
    const histogram = await page.$$eval('.hist-row', (rows) => rows.map((r) => r.getAttribute('aria-label')));
    assert.deepStrictEqual(
      histogram.sort(),
      Object.entries(m.opHistogram)
        .map(([op, n]) => `${op}: ${n}`)
        .sort(),
    );
    const rows = await page.$$eval('table.layers tbody tr', (trs) =>
      trs.map((tr) => ({ layer: tr.getAttribute('data-layer'), cells: [...tr.children].map((td) => td.textContent) })),
    );
    assert.deepStrictEqual(
      rows.map((r) => r.layer),
      m.layers.map((l) => l.name),
    );
    rows.forEach((r, i) => {
      assert.strictEqual(r.cells[2], m.layers[i].opType);
      assert.strictEqual(r.cells[3], `[${m.layers[i].shape!.join(', ')}]`);
    });
    await assertClean(wp);
  });

  it('filters the layer list and posts openSource from "go to code" (click and Enter on the row)', async () => {
    const wp = await loaded();
    await openTab(wp, 'overview');
    const m = ctx.fixtures().model;
    await wp.page.fill('#layer-filter >> input', 'relu');
    const expected = m.layers.filter((l) => `${l.name} ${l.scope} ${l.opType}`.toLowerCase().includes('relu')).map((l) => l.name);
    await wp.page.waitForFunction((n) => document.querySelectorAll('table.layers tbody tr[data-layer]').length === n, expected.length);
    assert.deepStrictEqual(await wp.page.$$eval('table.layers tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-layer'))), expected);
    assert.ok(expected.length > 0 && expected.length < m.layers.length);

    const withSource = m.layers.filter((l) => l.hasSource && expected.includes(l.name));
    assert.ok(withSource.length >= 2, 'the sample model has layers defined in sample/train.py');
    await wp.page.click(`tr[data-layer="${withSource[0].name}"] a:text-is("go to code")`);
    assert.deepStrictEqual(await wp.waitForPost('openSource'), { type: 'openSource', layer: withSource[0].name });
    await wp.page.focus(`tr[data-layer="${withSource[1].name}"]`);
    await wp.page.keyboard.press('Enter');
    assert.deepStrictEqual(await wp.waitForPost('openSource', 2), { type: 'openSource', layer: withSource[1].name });
    await assertClean(wp);
  });

  it('selecting an image and pressing Run posts a well-formed explain message with the chosen method and target', async () => {
    const wp = await loaded();
    const f = ctx.fixtures();
    const page = wp.page;
    await page.click('.thumb[data-image-id=img1]');
    assert.deepStrictEqual(await wp.waitForPost('selectImage'), { type: 'selectImage', imageId: 'img1' });
    await wp.send({ type: 'prediction', imageId: 'img1', top: f.predictions.get('img1')! });
    await openTab(wp, 'explain');
    const shown = await page.$$eval('.prediction', (bs) => bs.map((b) => ({ index: Number(b.getAttribute('data-index')), text: b.querySelector('.pred-prob')!.textContent })));
    assert.deepStrictEqual(
      shown,
      f.predictions.get('img1')!.map((p) => ({ index: p.index, text: `${(p.probability * 100).toFixed(1)}%` })),
    );

    await choose(page, 'method', f.methods[1].title);
    await page.click('#run');
    const explain = await wp.waitForPost('explain');
    assert.ok(parseWebviewMessage(explain), 'explain message is well-formed');
    assert.deepStrictEqual(
      { ...explain, requestId: undefined },
      { type: 'request', requestId: undefined, kind: 'explain', params: { imageId: 'img1', method: f.methods[1].name, layer: 'auto', target: { kind: 'top' } } },
    );
    await wp.send({ type: 'error', requestId: explain.requestId as string, message: 'stopped by the test' });

    // A prediction clicked becomes the class target and is explained at once; a CAM layer can be chosen.
    const second = f.predictions.get('img1')![1];
    await page.click(`.prediction[data-index="${second.index}"]`);
    const clicked = await wp.waitForPost('explain', 2);
    assert.deepStrictEqual(clicked.params!.target, { kind: 'class', index: second.index });
    await wp.send({ type: 'cancelled', requestId: clicked.requestId as string });
    const camLayer = f.model.layers.find((l) => l.shape?.length === 4 && l.name !== f.model.defaultCamLayer)!;
    await choose(page, 'layer', camLayer.scope!);
    await page.click('#run');
    const byClass = await wp.waitForPost('explain', 3);
    assert.deepStrictEqual(byClass.params!.target, { kind: 'class', index: second.index });
    assert.strictEqual(byClass.params!.layer, camLayer.name);
    await wp.send({ type: 'cancelled', requestId: byClass.requestId as string });

    // "Why A and not B": the top two predictions by default.
    await choose(page, 'target-mode', 'Why A and not B');
    await choose(page, 'target-class', `${f.predictions.get('img1')![0].label} (#${f.predictions.get('img1')![0].index})`);
    await page.click('#run');
    const difference = await wp.waitForPost('explain', 4);
    assert.deepStrictEqual(difference.params!.target, { kind: 'difference', a: f.predictions.get('img1')![0].index, b: second.index });
    assert.notStrictEqual(difference.requestId, byClass.requestId);
    await assertClean(wp);
  });

  it('the Layer picker shows exactly for methods that work at a layer; Guided Grad-CAM runs at the layer chosen', async () => {
    const wp = await loaded();
    const f = ctx.fixtures();
    const page = wp.page;
    await openTab(wp, 'explain');
    const layerShown = async () => page.$eval('#layer', (el) => !el.closest('[hidden]'));
    for (const m of f.methods) {
      await choose(page, 'method', m.title);
      assert.strictEqual(await layerShown(), m.usesLayer, `${m.name}: layer picker shown iff usesLayer`);
    }
    const guided = f.methods.find((m) => m.name === 'guided-gradcam')!;
    assert.ok(guided.usesLayer && guided.kind !== 'cam', 'Guided Grad-CAM works at a layer without being a CAM');
    await choose(page, 'method', guided.title);
    const camLayer = f.model.layers.find((l) => l.shape?.length === 4 && l.name !== f.model.defaultCamLayer)!;
    await choose(page, 'layer', camLayer.scope!);
    await page.click('#run');
    const explain = await wp.waitForPost('explain');
    assert.ok(parseWebviewMessage(explain), 'explain message is well-formed');
    assert.deepStrictEqual([explain.params!.method, explain.params!.layer], ['guided-gradcam', camLayer.name]);
    await assertClean(wp);
  });

  it("option controls come from the method's OptionSpecs; changed values are posted with the explain request", async () => {
    const wp = await loaded();
    const f = ctx.fixtures();
    const page = wp.page;
    await openTab(wp, 'explain');
    const ig = f.methods.find((m) => m.name === 'integrated-gradients')!;
    await choose(page, 'method', ig.title);
    const shown = await page.$$eval('.method-options [data-option]', (els) => els.map((el) => [el.getAttribute('data-option'), (el as HTMLElement & { value: string }).value]));
    assert.deepStrictEqual(
      shown,
      ig.options.map((o) => [o.name, Array.isArray(o.default) ? o.default.join(',') : String(o.default)]),
    );
    await page.fill('#option-steps >> input', '12');
    await choose(page, 'option-method', 'riemann_trapezoid');
    await page.click('#run');
    const explain = await wp.waitForPost('explain');
    assert.ok(parseWebviewMessage(explain), 'explain message with options is well-formed');
    assert.deepStrictEqual(explain.params!.options, { steps: '12', method: 'riemann_trapezoid' });
    assert.strictEqual(parseWebviewMessage({ ...explain, params: { ...explain.params, options: { steps: 12 } } }), undefined, 'options travel as strings');
    assert.strictEqual(parseWebviewMessage({ ...explain, params: { ...explain.params, options: { 'no such/option': '1' } } }), undefined, 'option names are checked');
    await assertClean(wp);
  });

  it('every method the core offers can be requested: its explain and compare messages pass the protocol check', () => {
    const rejected = ctx
      .fixtures()
      .methods.map((m) => m.name)
      .filter(
        (method) =>
          !parseWebviewMessage({ type: 'request', requestId: 'explain-1', kind: 'explain', params: { imageId: 'img0', method, layer: 'auto', target: { kind: 'top' } } }) ||
          !parseWebviewMessage({
            type: 'request',
            requestId: 'compare-1',
            kind: 'compare',
            params: { imageId: 'img0', methods: [method], layer: 'auto', target: { kind: 'top' } },
          }),
      );
    assert.deepStrictEqual(rejected, [], 'method names the protocol (src/protocol.ts isId) refuses');
  });

  it('a typed class index out of range is refused with a sentence, in range it is sent', async () => {
    const wp = await loaded();
    const classes = ctx.fixtures().model.outputs[0].shape.at(-1) as number;
    await openTab(wp, 'explain');
    await choose(wp.page, 'target-mode', 'A class');
    await choose(wp.page, 'target-class', 'Other index…');
    await wp.page.fill('#target-class-index >> input', String(classes));
    assert.ok((await wp.page.textContent('.explain .field-error'))!.includes(`${classes} classes`));
    await wp.page.click('#run');
    await wp.page.fill('#target-class-index >> input', String(classes - 1));
    await wp.page.click('#run');
    const explain = await wp.waitForPost('explain');
    assert.deepStrictEqual(explain.params!.target, { kind: 'class', index: classes - 1 });
    assert.strictEqual(await wp.countPosts('explain'), 1);
    await assertClean(wp);
  });

  it('an explanation renders as an overlay: map over the image, opacity 0 shows the image, gray at opacity 1 shows the map', async () => {
    const wp = await loaded();
    const f = ctx.fixtures();
    const e = f.explanation;
    const image = f.images.find((i) => i.id === e.imageId)!;
    await openTab(wp, 'explain');
    await wp.send({ type: 'response', requestId: 'host-pushed', kind: 'explain', result: e });
    await wp.page.waitForSelector(`.explain canvas.overlay[data-rendered="${e.id}"]`);
    const blended = await canvasVersusImage(wp.page, '.explain canvas.overlay', image.dataUrl);
    assert.ok(blended.meanDiff > 10, `the overlay differs from the bare image (mean difference ${blended.meanDiff.toFixed(1)})`);
    const notes = await wp.page.$$eval('.explain .result .notes li', (lis) => lis.map((li) => li.textContent));
    assert.deepStrictEqual(notes.slice(0, e.notes.length), e.notes);
    assert.ok((await wp.page.textContent('.explain .caption'))!.includes(e.targetLabel));

    await wp.page.focus('#opacity');
    await wp.page.keyboard.press('Home');
    await wp.page.waitForFunction(() => document.querySelector('.explain canvas.overlay') && (document.getElementById('opacity') as HTMLInputElement).value === '0');
    await wp.page.waitForTimeout(50);
    const bare = await canvasVersusImage(wp.page, '.explain canvas.overlay', image.dataUrl);
    assert.ok(bare.meanDiff < 0.5, `at opacity 0 the canvas is the image (mean difference ${bare.meanDiff.toFixed(2)})`);

    await wp.page.keyboard.press('End');
    await choose(wp.page, 'colormap', 'gray');
    await wp.page.waitForTimeout(50);
    const gray = await canvasVersusImage(wp.page, '.explain canvas.overlay', image.dataUrl, e.map);
    const r = pearson(gray.samples, e.map.values);
    assert.ok(r > 0.99, `at opacity 1 with the gray map, canvas brightness follows the map values (r = ${r.toFixed(4)})`);

    await wp.page.click('.explain .export-png');
    assert.deepStrictEqual(await wp.waitForPost('export'), { type: 'export', explanationId: e.id, format: 'png', colormap: 'gray', opacity: 1 });
    await wp.page.click('.explain .export-npy');
    assert.deepStrictEqual(await wp.waitForPost('export', 2), { type: 'export', explanationId: e.id, format: 'npy', colormap: 'gray', opacity: 1 });
    await assertClean(wp);
  });

  it('a signed map is drawn with the diverging map and says so in the legend', async () => {
    const wp = await loaded();
    const e = ctx.fixtures().explanation;
    // A real signed map: the CAM centred on its mean, scaled to [-1, 1].
    const mean = e.map.values.reduce((a, b) => a + b, 0) / e.map.values.length;
    const scale = Math.max(...e.map.values.map((v) => Math.abs(v - mean)));
    const signed: ExplanationView = { ...e, id: 'signed', map: { ...e.map, values: e.map.values.map((v) => (v - mean) / scale), signed: true } };
    await openTab(wp, 'explain');
    await wp.send({ type: 'response', requestId: 'signed', kind: 'explain', result: signed });
    await wp.page.waitForSelector('.explain canvas.overlay[data-rendered="signed"]');
    assert.ok((await wp.page.textContent('.legend-labels'))!.includes('diverging'));
    await assertClean(wp);
  });

  it('the activation grid shows one thumbnail per channel, flags the dead ones and enlarges on click or Enter', async () => {
    const wp = await loaded();
    const a = ctx.fixtures().activations;
    await openTab(wp, 'activations');
    await wp.page.click('#activations-run');
    const request = await wp.waitForPost('activations');
    assert.strictEqual(request.params!.layer, ctx.fixtures().model.defaultCamLayer);
    assert.deepStrictEqual(request.params!.target, { kind: 'top' });
    await wp.send({ type: 'response', requestId: request.requestId as string, kind: 'activations', result: { ...a, requestId: request.requestId as string } });
    await wp.page.waitForSelector('.channel');
    assert.strictEqual(await wp.page.locator('.channel').count(), a.channels.length);
    const flagged = await wp.page.$$eval('.channel.dead', (cs) => cs.map((c) => Number(c.getAttribute('data-channel'))));
    const dead = a.channels.filter((c) => c.dead).map((c) => c.index);
    assert.ok(dead.length > 0);
    assert.deepStrictEqual(flagged, dead);
    assert.ok((await wp.page.textContent('.activations .summary'))!.includes(`${a.channels.length} channels · ${dead.length} dead`));

    const busiest = [...a.channels].sort((x, y) => y.mean - x.mean)[0];
    await wp.page.click(`.channel[data-channel="${busiest.index}"]`);
    await wp.page.waitForSelector('.channel-detail:not([hidden])');
    const detail = await wp.page.$$eval('.channel-detail dt', (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling!.textContent])));
    assert.strictEqual(await wp.page.textContent('.channel-detail .channel-title'), `Channel #${busiest.index}`);
    assert.strictEqual(await wp.page.isVisible('.channel-detail .dead-badge'), busiest.dead);
    assert.strictEqual(detail.Mean, busiest.mean.toPrecision(4));
    assert.strictEqual(detail['Grad-CAM weight'], busiest.gradcamWeight!.toPrecision(4));

    // Keyboard: the first cell is the Tab stop, arrows move, Enter enlarges.
    await wp.page.focus('.channel[data-channel="0"]');
    await wp.page.keyboard.press('ArrowRight');
    await wp.page.keyboard.press('Enter');
    assert.strictEqual(await wp.page.textContent('.channel-detail .channel-title'), 'Channel #1');
    await assertClean(wp);
  });

  it('"activations" in the layer list opens the grid for that layer', async () => {
    const wp = await loaded();
    await openTab(wp, 'overview');
    const layer = ctx.fixtures().model.layers.find((l) => l.shape?.length === 4)!;
    await wp.page.click(`tr[data-layer="${layer.name}"] a:text-is("activations")`);
    const request = await wp.waitForPost('activations');
    assert.strictEqual(request.params!.layer, layer.name);
    await wp.page.waitForSelector('vscode-tab-panel[data-panel=activations]:not([hidden])');
    await assertClean(wp);
  });

  it('keyboard: Tab from the target reaches Run and Enter posts explain; arrows and Enter choose an image', async () => {
    const wp = await loaded();
    await openTab(wp, 'explain');
    await wp.page.focus('#target-mode');
    await wp.page.keyboard.press('Tab');
    assert.strictEqual(await wp.page.evaluate(() => document.activeElement?.id), 'run');
    await wp.page.keyboard.press('Enter');
    const explain = await wp.waitForPost('explain');
    assert.strictEqual(explain.params!.imageId, 'img0');

    await wp.page.focus('.thumb[data-image-id=img0]');
    await wp.page.keyboard.press('ArrowRight');
    assert.strictEqual(await wp.page.evaluate(() => (document.activeElement as HTMLElement).dataset.imageId), 'img1');
    await wp.page.keyboard.press('Enter');
    assert.deepStrictEqual(await wp.waitForPost('selectImage'), { type: 'selectImage', imageId: 'img1' });
    await assertClean(wp);
  });

  it('an error message is shown as text in an alert, and a failed request stops its progress', async () => {
    const wp = await loaded();
    await openTab(wp, 'explain');
    await wp.page.click('#run');
    const explain = await wp.waitForPost('explain');
    await wp.page.waitForSelector('.progress:not([hidden])');
    const message = "layer '/fc' has shape [1, 4]; CAM methods need a 4-D [N, C, h, w] activation";
    await wp.send({ type: 'error', requestId: explain.requestId as string, message });
    await wp.page.waitForSelector('[role=alert].error:not([hidden])');
    assert.strictEqual(await wp.page.textContent('.error .error-message'), message);
    assert.ok(await wp.page.isHidden('.progress'));
    assert.ok(!((await wp.page.getAttribute('#run', 'disabled')) !== null), 'Run is enabled again');
    await wp.page.click('.error .dismiss');
    assert.ok(await wp.page.isHidden('.error'));
    await assertClean(wp);
  });

  it('an error before anything else still shows (never a blank view)', async () => {
    const wp = ctx.page();
    await wp.send({ type: 'error', message: 'sample.onnx: not an ONNX model (invalid protobuf)' });
    await wp.page.waitForSelector('.error:not([hidden])');
    assert.strictEqual(await wp.page.textContent('.error-message'), 'sample.onnx: not an ONNX model (invalid protobuf)');
    await assertClean(wp);
  });

  it('progress shows a bar with the message; Cancel posts cancel; cancelled hides it', async () => {
    const wp = await loaded();
    await openTab(wp, 'explain');
    await choose(wp.page, 'method', ctx.fixtures().methods.find((m) => m.name === 'scorecam')!.title);
    await wp.page.click('#run');
    const { requestId } = (await wp.waitForPost('explain')) as { requestId: string };
    await wp.send({ type: 'progress', requestId, fraction: 0.4, message: 'scorecam: masked inputs 26/64' });
    await wp.page.waitForFunction(() => document.querySelector('.progress-message')?.textContent === 'scorecam: masked inputs 26/64');
    assert.strictEqual(await wp.page.getAttribute('.progress vscode-progress-bar', 'value'), '40');
    await wp.page.click('.progress .cancel');
    assert.deepStrictEqual(await wp.waitForPost('cancel'), { type: 'cancel', requestId });
    await wp.send({ type: 'cancelled', requestId });
    await wp.page.waitForSelector('.progress', { state: 'hidden' });
    assert.strictEqual(await wp.page.textContent('.notice'), 'Cancelled.');
    await assertClean(wp);
  });

  it('compare posts the ticked methods and shows each map with its faithfulness scores, best marked', async () => {
    const wp = await loaded();
    const f = ctx.fixtures();
    await openTab(wp, 'compare');
    await tickOnly(wp, COMPARED);
    await wp.page.click('#compare-run');
    const compare = await wp.waitForPost('compare');
    assert.deepStrictEqual(
      { ...compare, requestId: undefined },
      { type: 'request', requestId: undefined, kind: 'compare', params: { imageId: 'img0', methods: COMPARED, layer: 'auto', target: { kind: 'top' } } },
    );
    const requestId = compare.requestId as string;
    for (const e of f.comparison) await wp.send({ type: 'compared', requestId, explanation: e });
    await wp.send({ type: 'response', requestId, kind: 'compare', result: f.comparison });
    for (const e of f.comparison) await wp.page.waitForSelector(`.compare-card[data-method="${e.method}"] canvas[data-rendered="${e.id}"]`);
    const cards = await wp.page.$$eval('.compare-card', (cs) =>
      cs.map((c) => ({
        method: c.getAttribute('data-method'),
        scores: Object.fromEntries([...c.querySelectorAll('dl.scores dt')].map((dt) => [dt.textContent, dt.nextElementSibling!.textContent])),
        best: [...c.querySelectorAll('dd.best')].map((dd) => dd.previousElementSibling!.textContent),
      })),
    );
    const bestDeletion = Math.min(...f.comparison.map((e) => e.faithfulness!.deletionAuc));
    const bestInsertion = Math.max(...f.comparison.map((e) => e.faithfulness!.insertionAuc));
    assert.deepStrictEqual(
      cards,
      f.comparison.map((e) => ({
        method: e.method,
        scores: {
          'Deletion AUC ↓': e.faithfulness!.deletionAuc.toFixed(3),
          'Insertion AUC ↑': e.faithfulness!.insertionAuc.toFixed(3),
          ...(e.faithfulness!.pointingGame === undefined ? {} : { 'Pointing game': e.faithfulness!.pointingGame ? 'hit' : 'miss' }),
        },
        best: [...(e.faithfulness!.deletionAuc === bestDeletion ? ['Deletion AUC ↓'] : []), ...(e.faithfulness!.insertionAuc === bestInsertion ? ['Insertion AUC ↑'] : [])],
      })),
    );
    await assertClean(wp);
  });

  it('"Choose files…" posts pickImages; dropped image files are posted as base64, other files refused', async () => {
    const wp = await loaded();
    await wp.page.click('#choose-files');
    await wp.waitForPost('pickImages');
    const file = path.join(ROOT, 'sample', 'dataset', 'test', 'star', '0.png');
    const bytes = fs.existsSync(file) ? fs.readFileSync(file) : Buffer.from(ctx.fixtures().images[0].dataUrl.split(',')[1], 'base64');
    const drop = (files: { name: string; type: string; base64: string }[]) =>
      wp.page.evaluate((list) => {
        const dt = new DataTransfer();
        for (const f of list) dt.items.add(new File([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))], f.name, { type: f.type }));
        const main = document.querySelector('main')!;
        main.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true }));
        main.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
        main.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      }, files);
    await drop([
      { name: 'star.png', type: 'image/png', base64: bytes.toString('base64') },
      { name: 'second.png', type: 'image/png', base64: bytes.toString('base64') },
    ]);
    const dropped = await wp.waitForPost('dropImages');
    assert.deepStrictEqual(dropped.files, [
      { name: 'star.png', base64: bytes.toString('base64') },
      { name: 'second.png', base64: bytes.toString('base64') },
    ]);
    await drop([{ name: 'notes.txt', type: 'text/plain', base64: Buffer.from('hello').toString('base64') }]);
    await wp.page.waitForSelector('.error:not([hidden])');
    assert.ok((await wp.page.textContent('.error-message'))!.includes('notes.txt'));
    assert.strictEqual(await wp.countPosts('dropImages'), 1);
    await assertClean(wp);
  });

  it('the harness catches CSP violations (an inline script is blocked and reported)', async () => {
    const wp = ctx.page();
    await wp.page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__ran = true';
      document.body.append(s);
    });
    await wp.page.waitForFunction(() => (window as unknown as { __violations: string[] }).__violations.length > 0);
    assert.ok((await wp.allProblems()).some((p) => p.includes('script-src')));
    assert.strictEqual(await wp.page.evaluate(() => (window as unknown as { __ran?: boolean }).__ran), undefined);
  });

  for (const theme of ['dark', 'light'] as const) {
    it(`screenshots of every tab in the ${theme} theme follow the theme's colours`, async () => {
      const wp = await ctx.open({ theme, width: 1100, height: 860 });
      await loaded(wp);
      const f = ctx.fixtures();
      const background = await wp.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.strictEqual(background, theme === 'dark' ? 'rgb(31, 31, 31)' : 'rgb(255, 255, 255)');
      await openTab(wp, 'overview');
      await wp.page.screenshot({ path: screenshotPath(`panel-overview-${theme}.png`) });
      await openTab(wp, 'explain');
      await wp.send({ type: 'response', requestId: 'shot', kind: 'explain', result: f.explanation });
      await wp.page.waitForSelector(`.explain canvas.overlay[data-rendered="${f.explanation.id}"]`);
      await wp.page.screenshot({ path: screenshotPath(`panel-explain-${theme}.png`) });
      await openTab(wp, 'compare');
      await tickOnly(wp, COMPARED);
      await wp.page.click('#compare-run');
      const { requestId } = (await wp.waitForPost('compare')) as { requestId: string };
      for (const e of f.comparison) await wp.send({ type: 'compared', requestId, explanation: e });
      await wp.send({ type: 'response', requestId, kind: 'compare', result: f.comparison });
      for (const e of f.comparison) await wp.page.waitForSelector(`canvas[data-rendered="${e.id}"]`);
      await wp.page.screenshot({ path: screenshotPath(`panel-compare-${theme}.png`) });
      await openTab(wp, 'activations');
      await wp.send({ type: 'images', images: f.images, selected: f.activations.imageId });
      await wp.send({ type: 'response', requestId: f.activations.requestId, kind: 'activations', result: f.activations });
      await wp.page.click(`.channel[data-channel="${f.activations.channels.find((c) => c.dead)!.index}"]`);
      await wp.page.screenshot({ path: screenshotPath(`panel-activations-${theme}.png`) });
      await assertClean(wp);
    });
  }
});
