// The model panel's Dataset and Inside tabs in headless Chromium, under the host's strict CSP, fed
// with real results of the worker's jobs on the sample model and sample/dataset (analysisFixtures.ts).
import * as assert from 'assert';
import { parseWebviewMessage } from '../../src/protocol';
import { AnalysisFixtures, DATASET_LAYER, GALLERY_LAYER, analysisFixturesAvailable, computeAnalysisFixtures } from './analysis-fixtures';
import { Posted, WebviewPage } from './harness';
import { decodedMap, loneliestPoint, pointOnPage } from './map-points';
import { assertClean, choose, openTab, screenshotPath, sharedFixtures, useWebview } from './support';

describe('webview: Dataset and Inside tabs in Chromium', function () {
  const ctx = useWebview({ view: 'panel', theme: 'dark' });
  let a: AnalysisFixtures;

  before(async function () {
    this.timeout(300_000);
    if (!analysisFixturesAvailable()) this.skip();
    a = await computeAnalysisFixtures((await sharedFixtures()).images);
  });

  /** The panel with the model, its images, the selected image's prediction and the dataset folders. */
  async function loaded(wp = ctx.page()): Promise<WebviewPage> {
    const f = ctx.fixtures();
    await wp.send({ type: 'model', model: f.model, methods: f.methods });
    await wp.send({ type: 'images', images: f.images, selected: 'img0' });
    await wp.send({ type: 'prediction', imageId: 'img0', top: f.predictions.get('img0')! });
    await wp.send({ type: 'datasetFolders', folders: a.folders });
    return wp;
  }

  /** choose() on a select scrolled to the middle of the view first, so its option list opens inside the window. */
  async function pick(wp: WebviewPage, selectId: string, label: string): Promise<void> {
    await wp.page.$eval(`#${selectId}`, (el) => el.scrollIntoView({ block: 'center' }));
    await choose(wp.page, selectId, label);
  }

  /** Clicks a button, answers the request it posts with `reply`, returns the posted message. */
  async function request(wp: WebviewPage, button: string, type: string, reply: (requestId: string) => Parameters<WebviewPage['send']>[0]): Promise<Posted> {
    const count = await wp.countPosts(type);
    await wp.page.click(button);
    const posted = await wp.waitForPost(type, count + 1);
    const requestId = posted.requestId as string;
    await wp.send(reply(requestId));
    return posted;
  }

  /** The Dataset tab with the sample dataset's features extracted (or another dataset's). */
  async function withDataset(wp = ctx.page(), dataset = a.dataset): Promise<WebviewPage> {
    await loaded(wp);
    await openTab(wp, 'dataset');
    await request(wp, '#dataset-run', 'datasetFeatures', (requestId) => ({ type: 'response', requestId, kind: 'datasetFeatures', result: dataset }));
    await wp.page.waitForSelector('.dataset-summary:not([hidden])');
    return wp;
  }

  it('extracts the features of a chosen folder at the CAM layer, with progress, and summarises the dataset', async () => {
    const wp = await loaded();
    await openTab(wp, 'dataset');
    const offered = await wp.page.$$eval('#dataset-folder vscode-option', (os) => os.map((o) => o.getAttribute('value')));
    assert.deepStrictEqual(
      offered,
      a.folders.map((f) => f.path),
    );
    await choose(wp.page, 'dataset-folder', a.folders[0].label);
    await wp.page.click('#dataset-run');
    const posted = await wp.waitForPost('datasetFeatures');
    assert.deepStrictEqual(
      { ...posted, requestId: undefined },
      { type: 'request', requestId: undefined, kind: 'datasetFeatures', params: { folder: a.folders[0].path, layer: DATASET_LAYER } },
    );
    const requestId = posted.requestId as string;
    await wp.send({ type: 'progress', requestId, fraction: 0.5, message: 'features: 80/160 images (0 from the cache)' });
    await wp.page.waitForFunction(() => document.querySelector('.progress-message')?.textContent === 'features: 80/160 images (0 from the cache)');
    assert.ok((await wp.page.getAttribute('#dataset-run', 'disabled')) !== null, 'no second extraction while one runs');
    await wp.send({ type: 'response', requestId, kind: 'datasetFeatures', result: a.dataset });
    await wp.page.waitForSelector('.dataset-summary:not([hidden])');
    const d = a.dataset;
    const line = await wp.page.textContent('.summary-line');
    assert.ok(line!.includes(`${d.images.length} images · ${d.classNames.length} classes`), line!);
    assert.strictEqual(await wp.page.textContent('.summary-line .accuracy'), `${(d.accuracy! * 100).toFixed(1)}%`);
    const rows = await wp.page.$$eval('table.class-table tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
    assert.deepStrictEqual(
      rows.map((r) => r.slice(0, 4)),
      d.classes.map((c) => [c.name, String(c.labelled), String(c.predicted), String(c.correct)]),
    );
    const wrong = d.images.filter((im) => im.label !== im.prediction).sort((x, y) => y.confidence - x.confidence);
    assert.deepStrictEqual(
      await wp.page.$$eval('.mistakes .mini-thumb', (bs) => bs.map((b) => b.getAttribute('data-rel-path'))),
      wrong.slice(0, 8).map((im) => im.relPath),
    );
    await wp.page.click(`.mistakes .mini-thumb[data-rel-path="${wrong[0].relPath}"]`);
    assert.deepStrictEqual(await wp.waitForPost('datasetOpenImage'), { type: 'datasetOpenImage', relPath: wrong[0].relPath });
    await wp.page.waitForSelector('vscode-tab-panel[data-panel=explain]:not([hidden])');
    await assertClean(wp);
  });

  it('"Choose folder…" asks the host; a folder the host adds becomes the chosen one', async () => {
    const wp = await loaded();
    await openTab(wp, 'dataset');
    await wp.page.click('#dataset-pick');
    await wp.waitForPost('pickDataset');
    const picked = { path: '/data/elsewhere/shapes', label: '/data/elsewhere/shapes' };
    await wp.send({ type: 'datasetFolders', folders: [...a.folders, picked], chosen: picked.path });
    await wp.page.waitForFunction((p) => (document.getElementById('dataset-folder') as HTMLElement & { value: string }).value === p, picked.path);
    await wp.page.click('#dataset-run');
    assert.strictEqual((await wp.waitForPost('datasetFeatures')).params!.folder, picked.path);
    await assertClean(wp);
  });

  it("shows the distilled rules as text with fidelity, coverage and purity, and each tested channel's top patches; exports", async () => {
    const wp = await withDataset();
    const r = a.rules;
    await pick(wp, 'rules-depth', '3');
    await pick(wp, 'rules-min-leaf', '5');
    const posted = await request(wp, '#rules-run', 'datasetRules', (requestId) => ({ type: 'response', requestId, kind: 'datasetRules', result: r }));
    assert.deepStrictEqual([posted.params!.depth, posted.params!.minLeaf], [3, 5]);
    await wp.page.waitForSelector('.rule');
    assert.deepStrictEqual(
      await wp.page.$$eval('.rule-text', (cs) => cs.map((c) => c.textContent)),
      r.rules.map((rule) => rule.text),
    );
    const scores = await wp.page.$$eval('.rule-scores dt', (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling!.textContent])));
    assert.strictEqual(scores['Fidelity (held out)'], `${(r.fidelity.test * 100).toFixed(1)}% of ${r.testImages} images`);
    const chips = await wp.page.$$eval('.rule', (rules) => rules.map((rule) => [...rule.querySelectorAll('.chip')].slice(0, 2).map((c) => c.textContent)));
    assert.deepStrictEqual(
      chips,
      r.rules.map((rule) => [`coverage ${(rule.coverage * 100).toFixed(1)}%`, `purity ${(rule.purity * 100).toFixed(1)}%`]),
    );
    // Every condition shows its channel's patches (decoded images) and the activation map of the top one.
    const conditions = r.rules.reduce((n, rule) => n + rule.conditions.length, 0);
    assert.strictEqual(await wp.page.locator('.condition').count(), conditions);
    assert.strictEqual(await wp.page.locator('.condition img.patch').count(), conditions * 6);
    await wp.page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('img.patch')].every((img) => img.complete && img.naturalWidth > 0));
    await wp.page.waitForFunction((n) => document.querySelectorAll('canvas.patch-map[data-patch="0"]').length === n, conditions);
    const first = r.rules[0].conditions[0].channel;
    await wp.page.hover(`.rule[data-rule="0"] .condition[data-channel="${first}"] img.patch:nth-child(3)`);
    await wp.page.waitForSelector(`.rule[data-rule="0"] .condition[data-channel="${first}"] canvas.patch-map[data-patch="2"]`);

    await wp.page.click('#rules-export-json');
    assert.deepStrictEqual(await wp.waitForPost('exportRules'), { type: 'exportRules', format: 'json' });
    await wp.page.click('#rules-export-text');
    assert.deepStrictEqual(await wp.waitForPost('exportRules', 2), { type: 'exportRules', format: 'txt' });
    await assertClean(wp);
  });

  it("a rule's channel opens that channel of the layer in Activations and puts it in Feature visualisation", async () => {
    const wp = await withDataset();
    await request(wp, '#rules-run', 'datasetRules', (requestId) => ({ type: 'response', requestId, kind: 'datasetRules', result: a.rules }));
    const channel = a.rules.rules[0].conditions[0].channel;
    await wp.page.click(`.rule[data-rule="0"] .condition[data-channel="${channel}"] button.channel-link`);
    await wp.page.waitForSelector('vscode-tab-panel[data-panel=activations]:not([hidden])');
    const posted = await wp.waitForPost('activations');
    const layer = ctx.fixtures().model.layers.find((l) => l.tensor === a.dataset.layer || l.name === a.dataset.layer)!;
    assert.deepStrictEqual([posted.params!.imageId, posted.params!.layer], ['img0', layer.name]);
    assert.strictEqual(await wp.page.$eval('#gallery-channels', (el) => (el as HTMLElement & { value: string }).value), String(channel));
    assert.strictEqual(await wp.page.$eval('#gallery-layer', (el) => (el as HTMLElement & { value: string }).value), a.dataset.layer);
    await assertClean(wp);
  });

  it('sends the chosen channel pooling with the rules request, and the rules say which pooling they use', async () => {
    const s = a.shortcut;
    const wp = await withDataset(ctx.page(), s.dataset);
    const first = await request(wp, '#rules-run', 'datasetRules', (requestId) => ({ type: 'cancelled', requestId }));
    assert.strictEqual(first.params!.pooling, 'mean', 'mean by default, as the CLI');
    await pick(wp, 'rules-pooling', 'Max over the image');
    const posted = await request(wp, '#rules-run', 'datasetRules', (requestId) => ({ type: 'response', requestId, kind: 'datasetRules', result: s.rules }));
    assert.deepStrictEqual({ ...posted, requestId: undefined }, { type: 'request', requestId: undefined, kind: 'datasetRules', params: { depth: 3, minLeaf: 5, pooling: 'max' } });
    await wp.page.waitForSelector('.rule');
    const scores = await wp.page.$$eval('.rule-scores dt', (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling!.textContent])));
    assert.strictEqual(scores.Channel, `${s.rules.pooling} of its activation over the image`);
    assert.strictEqual(s.rules.pooling, 'max');
    await assertClean(wp);
  });

  it("checks the planted mark with the dataset's boxes.json: verdict, mark channels, the rules that read them, changed images", async () => {
    const s = a.shortcut;
    const c = s.markCheck;
    const wp = await withDataset(ctx.page(), s.dataset);
    await wp.page.waitForFunction((n) => document.querySelector('.marks-file')?.textContent === `boxes.json at the dataset root (${n} marked images)`, s.dataset.marks!.marked);
    await pick(wp, 'rules-pooling', 'Max over the image');
    await request(wp, '#rules-run', 'datasetRules', (requestId) => ({ type: 'response', requestId, kind: 'datasetRules', result: s.rules }));
    await wp.page.waitForSelector('.rule');
    const posted = await request(wp, '#marks-run', 'datasetMarkCheck', (requestId) => ({ type: 'response', requestId, kind: 'datasetMarkCheck', result: c }));
    assert.deepStrictEqual(
      { ...posted, requestId: undefined },
      { type: 'request', requestId: undefined, kind: 'datasetMarkCheck', params: { marksFile: s.dataset.marks!.file, pooling: 'max' } },
    );
    await wp.page.waitForSelector('.mark-verdict');

    // The shortcut sample's rules decide "circle" on a channel that responds to the mark.
    const marks = new Set(c.markChannels);
    const circleOnMark = s.rules.rules
      .filter((r) => r.className === 'circle')
      .flatMap((r) => r.conditions)
      .filter((cond) => cond.op === '>' && marks.has(cond.channel));
    assert.ok(circleOnMark.length > 0);
    const used = s.rules.channels.map((ch) => ch.channel).filter((ch) => marks.has(ch));
    const verdict = `${c.predictionChanges.length} of ${c.images} marked images change prediction without the mark; the rules test mark channel${used.length > 1 ? 's' : ''} ${used.join(', ')}: the network relies on the mark.`;
    assert.strictEqual(await wp.page.textContent('.mark-verdict .badge'), 'rules read the mark');
    assert.strictEqual(await wp.page.textContent('.mark-verdict'), `rules read the mark ${verdict}`);
    assert.deepStrictEqual(
      await wp.page.$$eval('.mark-table tbody tr', (trs) => trs.map((tr) => Number(tr.getAttribute('data-channel')))),
      c.channels.map((ch) => ch.channel),
    );
    const shownInRules = await wp.page.$$eval('.mark-table tbody tr', (trs) =>
      trs.filter((tr) => tr.textContent!.includes('in the rules')).map((tr) => Number(tr.getAttribute('data-channel'))),
    );
    assert.deepStrictEqual(
      shownInRules,
      c.channels.map((ch) => ch.channel).filter((ch) => used.includes(ch)),
    );
    // The rules flag the conditions on mark channels.
    const flagged = await wp.page.$$eval('.condition.mark', (cs) => cs.map((el) => Number(el.getAttribute('data-channel'))));
    assert.deepStrictEqual(
      flagged,
      s.rules.rules
        .flatMap((r) => r.conditions)
        .map((cond) => cond.channel)
        .filter((ch) => marks.has(ch)),
    );
    assert.ok(flagged.includes(circleOnMark[0].channel));

    // The changes without the mark, counted by class change; a changed image opens in Explain.
    const transitions = await wp.page.textContent('.mark-transitions');
    for (const p of c.predictionChanges) {
      const n = c.predictionChanges.filter((q) => q.withMark === p.withMark && q.withoutMark === p.withoutMark).length;
      assert.ok(transitions!.includes(`${p.withMark} → ${p.withoutMark} ×${n}`), transitions!);
    }
    const thumbs = await wp.page.$$eval('.mark-changes .mini-thumb', (bs) => bs.map((b) => b.getAttribute('data-rel-path')));
    assert.deepStrictEqual(
      thumbs,
      c.predictionChanges.slice(0, 8).map((p) => p.relPath),
    );
    await wp.page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('.mark-changes img')].every((img) => img.complete && img.naturalWidth > 0));
    await wp.page.$eval('.mark-check', (el) => el.scrollIntoView({ block: 'start' }));
    await wp.page.locator('.mark-check').screenshot({ path: screenshotPath('panel-dataset-marks-dark.png') });
    await wp.page.click(`.mark-changes .mini-thumb[data-rel-path="${thumbs[0]}"]`);
    assert.deepStrictEqual(await wp.waitForPost('datasetOpenImage'), { type: 'datasetOpenImage', relPath: thumbs[0] });
    await assertClean(wp);
  });

  it('"Choose marks file…" asks the host; the check reads the picked file, and its error shows in the section', async () => {
    const wp = await withDataset();
    assert.ok((await wp.page.textContent('.marks-file'))!.startsWith('none:'), 'sample/dataset has no marks');
    assert.ok((await wp.page.getAttribute('#marks-run', 'disabled')) !== null);
    await wp.page.click('#marks-pick');
    await wp.waitForPost('pickMarks');
    const picked = { path: '/data/elsewhere/marks.json', label: '/data/elsewhere/marks.json' };
    await wp.send({ type: 'datasetMarks', marks: picked });
    await wp.page.waitForFunction((l) => document.querySelector('.marks-file')?.textContent === l, picked.label);
    await wp.page.waitForSelector('#marks-run:not([disabled])');
    const message = 'none of the dataset images is listed as marked (the marks file names images by their path relative to the file)';
    const posted = await request(wp, '#marks-run', 'datasetMarkCheck', (requestId) => ({ type: 'error', requestId, message }));
    assert.deepStrictEqual(
      { ...posted, requestId: undefined },
      { type: 'request', requestId: undefined, kind: 'datasetMarkCheck', params: { marksFile: picked.path, pooling: 'mean' } },
    );
    await wp.page.waitForFunction((m) => document.querySelector('.mark-error')?.textContent === m, message);
    await assertClean(wp);
  });

  it('draws the feature map on a canvas from typed arrays, shows a thumbnail on hover and explains on click', async () => {
    const wp = await withDataset();
    const d = a.dataset;
    const posted = await request(wp, '#map-run', 'datasetMap', (requestId) => ({ type: 'response', requestId, kind: 'datasetMap', result: a.pca }));
    assert.strictEqual(posted.params!.method, 'pca');
    await wp.page.waitForFunction(() => document.querySelector('.map-caption')?.textContent?.startsWith('PCA'));
    assert.strictEqual(await wp.page.locator('#feature-map').count(), 1);
    assert.strictEqual(await wp.page.locator('.map-plot *').count(), 2, 'the plot is one canvas and its tooltip, no element per point');
    const { xy } = decodedMap(a.pca);
    const at = await pointOnPage(wp.page, xy);
    const target = loneliestPoint(xy);
    const p = at(xy[2 * target], xy[2 * target + 1]);
    await wp.page.mouse.move(p.x, p.y);
    await wp.page.waitForSelector(`.map-tooltip:not([hidden])[data-index="${target}"]`);
    assert.strictEqual(await wp.page.getAttribute('.map-tooltip img', 'src'), d.images[target].thumbnail);
    assert.ok((await wp.page.textContent('.map-tooltip'))!.includes(d.images[target].relPath));
    await wp.page.mouse.click(p.x, p.y);
    assert.deepStrictEqual(await wp.waitForPost('datasetOpenImage'), { type: 'datasetOpenImage', relPath: d.images[target].relPath });
    await wp.page.waitForSelector('vscode-tab-panel[data-panel=explain]:not([hidden])');

    // Choosing UMAP asks for it; its map replaces PCA's.
    await openTab(wp, 'dataset');
    await pick(wp, 'map-method', 'UMAP');
    const umap = await wp.waitForPost('datasetMap', 2);
    assert.strictEqual(umap.params!.method, 'umap');
    await wp.send({ type: 'response', requestId: umap.requestId as string, kind: 'datasetMap', result: a.umap });
    await wp.page.waitForFunction(() => document.querySelector('.map-caption')?.textContent?.startsWith('UMAP'));

    // Keyboard: arrows move between images (the tooltip follows), Enter explains the one shown.
    await wp.page.focus('#feature-map');
    await wp.page.keyboard.press('ArrowRight');
    await wp.page.keyboard.press('ArrowRight');
    await wp.page.waitForSelector('.map-tooltip:not([hidden])[data-index="1"]');
    await wp.page.keyboard.press('Enter');
    assert.deepStrictEqual(await wp.waitForPost('datasetOpenImage', 2), { type: 'datasetOpenImage', relPath: d.images[1].relPath });
    await assertClean(wp);
  });

  it('error analysis: confusion matrix, confused pairs and error clusters open the slice view, whose thumbnails explain', async () => {
    const wp = await withDataset();
    const d = a.dataset;
    await request(wp, '#map-run', 'datasetMap', (requestId) => ({ type: 'response', requestId, kind: 'datasetMap', result: a.pca }));
    const posted = await request(wp, '#errors-run', 'datasetErrors', (requestId) => ({ type: 'response', requestId, kind: 'datasetErrors', result: a.errors }));
    assert.deepStrictEqual(posted.params, { method: 'pca' });
    await wp.page.waitForSelector('table.confusion');
    const cells = await wp.page.$$eval('table.confusion tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => Number(td.textContent))));
    assert.deepStrictEqual(cells, d.confusion);
    assert.strictEqual(await wp.page.locator('.confused-pairs li').count(), a.errors.pairs.length);
    assert.strictEqual(await wp.page.locator('.error-clusters li').count(), a.errors.clusters.length);
    // The misclassified slice (answered with the real page) from the filter controls.
    await pick(wp, 'slice-correctness', 'misclassified');
    const wrong = await request(wp, '#slice-run', 'datasetSlice', (requestId) => ({ type: 'response', requestId, kind: 'datasetSlice', result: a.wrongSlice }));
    assert.deepStrictEqual(wrong.params!.filter, { correctness: 'wrong' });
    await wp.page.waitForSelector('.slice-grid .mini-thumb');
    assert.strictEqual(await wp.page.locator('.slice-grid .mini-thumb').count(), a.wrongSlice.images.length);
    assert.ok((await wp.page.textContent('.slice-heading'))!.includes(`of ${a.wrongSlice.total}`));
    await wp.page.click('.slice-grid .mini-thumb:first-child');
    assert.deepStrictEqual(await wp.waitForPost('datasetOpenImage'), { type: 'datasetOpenImage', relPath: a.wrongSlice.images[0].relPath });
    await openTab(wp, 'dataset');
    // The most confused pair asks for its slice.
    if (a.errors.pairs.length) {
      const top = a.errors.pairs[0];
      const count = await wp.countPosts('datasetSlice');
      await wp.page.click('.confused-pairs li:first-child button');
      const slice = await wp.waitForPost('datasetSlice', count + 1);
      assert.deepStrictEqual(slice.params, { filter: { label: top.label, prediction: top.prediction }, offset: 0, pageSize: 24 });
    }
    await assertClean(wp);
  });

  it("shortcut heatmaps: the rule channels' peak positions, the corner channel flagged, and the map coloured by it", async () => {
    const wp = await withDataset(ctx.page(), a.shortcut.dataset);
    await request(wp, '#rules-run', 'datasetRules', (requestId) => ({ type: 'response', requestId, kind: 'datasetRules', result: a.shortcut.rules }));
    await request(wp, '#positions-run', 'datasetChannelPositions', (requestId) => ({ type: 'response', requestId, kind: 'datasetChannelPositions', result: a.shortcut.positions }));
    await wp.page.waitForSelector('.positions figure');
    assert.strictEqual(await wp.page.locator('.positions figure').count(), a.shortcut.positions.channels.length);
    const flagged = a.shortcut.positions.channels.filter((c) => c.likelyShortcut).map((c) => c.channel);
    assert.ok(flagged.includes(48));
    assert.deepStrictEqual(await wp.page.$$eval('.positions figure.shortcut', (fs) => fs.map((f) => Number((f as HTMLElement).dataset.channel))), flagged);
    await wp.page.locator('.positions-card').screenshot({ path: screenshotPath('panel-dataset-positions-dark.png') });
    // Colouring the map by channel 48 asks for the map first, then for the channel's values.
    await wp.page.click('.positions figure[data-channel="48"] button');
    const map = await wp.waitForPost('datasetMap');
    await wp.send({ type: 'response', requestId: map.requestId as string, kind: 'datasetMap', result: a.shortcut.map });
    const values = await wp.waitForPost('datasetChannelValues');
    assert.deepStrictEqual(values.params, { channel: 48, pooling: 'max' });
    await assertClean(wp);
  });

  it('lists the images most like the selected one, with labels and predictions, and follows the selection', async () => {
    const wp = await withDataset();
    const n = a.neighbors;
    const posted = await request(wp, '#neighbors-run', 'datasetNeighbors', (requestId) => ({ type: 'response', requestId, kind: 'datasetNeighbors', result: n }));
    assert.deepStrictEqual({ ...posted, requestId: undefined }, { type: 'request', requestId: undefined, kind: 'datasetNeighbors', params: { imageId: 'img0', k: 5 } });
    await wp.page.waitForSelector('.neighbor');
    const shown = await wp.page.$$eval('.neighbor', (bs) => bs.map((b) => ({ path: b.getAttribute('data-rel-path'), label: b.querySelector('.neighbor-label')!.textContent })));
    assert.deepStrictEqual(
      shown,
      n.neighbors.map((nb) => ({ path: nb.relPath, label: `${nb.labelName ?? '–'} → ${nb.predictionName}` })),
    );
    await wp.page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('.neighbor img')].every((img) => img.complete && img.naturalWidth > 0));
    await wp.page.click('.thumb[data-image-id=img1]');
    const followed = await wp.waitForPost('datasetNeighbors', 2);
    assert.strictEqual(followed.params!.imageId, 'img1');
    await assertClean(wp);
  });

  it('ranks channels for a class and ablates the top 16', async () => {
    const wp = await withDataset();
    await pick(wp, 'importance-class', a.dataset.classNames[0]);
    const ranked = await request(wp, '#importance-run', 'datasetImportance', (requestId) => ({ type: 'response', requestId, kind: 'datasetImportance', result: a.importance }));
    assert.deepStrictEqual(
      { ...ranked, requestId: undefined },
      { type: 'request', requestId: undefined, kind: 'datasetImportance', params: { classIndex: 0, method: 'gradient' } },
    );
    await wp.page.waitForSelector('.importance-table tbody tr');
    assert.deepStrictEqual(
      await wp.page.$$eval('.importance-table tbody tr', (trs) => trs.map((tr) => Number(tr.getAttribute('data-channel')))),
      a.importance.channels.slice(0, 16).map((c) => c.channel),
    );
    const ablation = await request(wp, '#importance-ablate', 'datasetImportance', (requestId) => ({ type: 'response', requestId, kind: 'datasetImportance', result: a.ablation }));
    assert.deepStrictEqual(
      ablation.params!.channels,
      a.importance.channels.slice(0, 16).map((c) => c.channel),
    );
    await wp.page.waitForSelector('.importance-table .bar.ablation');
    assert.strictEqual(await wp.page.locator('.importance-table .bar.ablation').count(), 16);
    await assertClean(wp);
  });

  it('Inside: receptive field table and effective field map, kernel montage, gallery images', async () => {
    const wp = await loaded();
    await openTab(wp, 'inside');
    await request(wp, '#fields-run', 'receptiveFields', (requestId) => ({ type: 'response', requestId, kind: 'receptiveFields', result: a.fields }));
    await wp.page.waitForSelector('.fields-table tbody tr');
    const rows = await wp.page.$$eval('.fields-table tbody tr', (trs) => trs.map((tr) => ({ tensor: tr.getAttribute('data-tensor'), size: tr.children[2].textContent })));
    assert.deepStrictEqual(
      rows,
      a.fields.fields.map((f) => ({ tensor: f.tensor, size: f.global ? 'whole input' : `${f.size[0]}×${f.size[1]}` })),
    );
    const effective = await request(wp, `.fields-table tr[data-tensor="${DATASET_LAYER}"] button.effective`, 'effectiveField', (requestId) => ({
      type: 'response',
      requestId,
      kind: 'effectiveField',
      result: a.effectiveField,
    }));
    assert.strictEqual(effective.params!.layer, DATASET_LAYER);
    await wp.page.waitForSelector('.effective-field:not([hidden]) canvas.effective-map');
    assert.ok((await wp.page.textContent('.effective-caption'))!.includes(`${a.effectiveField.area} pixels`));

    await request(wp, '#kernels-run', 'kernels', (requestId) => ({ type: 'response', requestId, kind: 'kernels', result: a.kernels }));
    await wp.page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('img.kernel-montage');
      return !!img && img.complete && img.naturalWidth > 0;
    });
    assert.strictEqual(await wp.page.$eval('img.kernel-montage', (img) => (img as HTMLImageElement).naturalWidth), a.kernels.montageSize[0]);

    await pick(wp, 'gallery-count', String(a.gallery.items.length));
    const layer = ctx.fixtures().model.layers.find((l) => l.tensor === GALLERY_LAYER)!;
    await pick(wp, 'gallery-layer', layer.scope ?? layer.name);
    const gallery = await request(wp, '#gallery-run', 'featureGallery', (requestId) => ({ type: 'response', requestId, kind: 'featureGallery', result: a.gallery }));
    assert.deepStrictEqual([gallery.params!.layer, gallery.params!.count, gallery.params!.steps], [GALLERY_LAYER, a.gallery.items.length, 128]);
    await wp.page.waitForFunction((n) => {
      const imgs = [...document.querySelectorAll<HTMLImageElement>('.gallery-item img')];
      return imgs.length === n && imgs.every((img) => img.complete && img.naturalWidth === 64);
    }, a.gallery.items.length);
    assert.deepStrictEqual(
      await wp.page.$$eval('.gallery-item', (fs) => fs.map((f) => Number(f.getAttribute('data-channel')))),
      a.gallery.items.map((i) => i.channel),
    );
    await assertClean(wp);
  });

  it('Inside: offers no Attention section for a CNN; for a model with attention, draws per-head maps and the rollout', async () => {
    const wp = await loaded();
    await openTab(wp, 'inside');
    assert.strictEqual(await wp.page.isVisible('section.attention'), false, 'no Attention section for the sample CNN');
    assert.ok(a.noAttention.message!.includes('no self-attention'), 'the worker agrees: the CNN has none');

    const f = ctx.fixtures();
    await wp.send({ type: 'model', model: { ...f.model, name: 'hybrid.onnx', opHistogram: a.hybridOps }, methods: f.methods });
    const posted = await request(wp, '#attention-run', 'attention', (requestId) => ({ type: 'response', requestId, kind: 'attention', result: a.attention }));
    assert.strictEqual(posted.params!.imageId, 'img0');
    await wp.page.waitForSelector('canvas.attention-map.rollout');
    const heads = a.attention.layers.reduce((n, l) => n + l.heads, 0);
    assert.strictEqual(await wp.page.locator('canvas.attention-map.head').count(), heads);
    assert.strictEqual(await wp.page.locator('canvas.attention-map.mean').count(), a.attention.layers.length);
    await assertClean(wp);
  });

  it('Inside: the sanity check posts the chosen method and shows the verdict and one chart point per randomised layer', async () => {
    const wp = await loaded();
    await openTab(wp, 'inside');
    await pick(wp, 'sanity-method', 'Grad-CAM');
    const posted = await request(wp, '#sanity-run', 'sanityCheck', (requestId) => ({ type: 'response', requestId, kind: 'sanityCheck', result: a.sanity }));
    assert.deepStrictEqual(
      { ...posted, requestId: undefined },
      { type: 'request', requestId: undefined, kind: 'sanityCheck', params: { imageId: 'img0', method: 'gradcam', layer: 'auto' } },
    );
    await wp.page.waitForSelector('.verdict');
    const verdict = await wp.page.textContent('.verdict');
    assert.ok(verdict!.includes(a.sanity.verdict) && verdict!.startsWith(a.sanity.passed ? 'passes' : 'fails'), verdict!);
    assert.strictEqual(await wp.page.locator('.series-spearman circle').count(), a.sanity.steps.length);
    const ys = await wp.page.$$eval('.series-spearman circle', (cs) => cs.map((c) => Number(c.getAttribute('cy'))));
    // Higher correlation is drawn higher (smaller y).
    a.sanity.steps.forEach((s, i) =>
      a.sanity.steps.forEach((t, j) => {
        if (s.spearman > t.spearman + 1e-6) assert.ok(ys[i] < ys[j]);
      }),
    );
    await assertClean(wp);
  });

  it('the protocol refuses malformed dataset and inside messages', () => {
    const refused = [
      { type: 'request', requestId: 'r-1', kind: 'datasetRules', params: { depth: 0, minLeaf: 5, pooling: 'mean' } },
      { type: 'request', requestId: 'r-1', kind: 'datasetRules', params: { depth: 3, minLeaf: 2.5, pooling: 'mean' } },
      { type: 'request', requestId: 'r-1', kind: 'datasetRules', params: { depth: 3, minLeaf: 5, pooling: 'median' } },
      { type: 'request', requestId: 'r-1', kind: 'datasetRules', params: { depth: 3, minLeaf: 5 } },
      { type: 'request', requestId: 'm-1', kind: 'datasetMarkCheck', params: { marksFile: '/data/boxes.json', pooling: 'median' } },
      { type: 'request', requestId: 'm-1', kind: 'datasetMarkCheck', params: { marksFile: 'boxes.json', pooling: 'max' } },
      { type: 'request', requestId: 'm-1', kind: 'datasetMarkCheck', params: { marksFile: '/data/\0boxes.json', pooling: 'max' } },
      { type: 'request', requestId: 'm 1', kind: 'datasetMarkCheck', params: { marksFile: '/data/boxes.json', pooling: 'max' } },
      { type: 'request', requestId: 'm-1', kind: 'datasetMarkCheck', params: { pooling: 'max' } },
      { type: 'request', requestId: 'e-1', kind: 'datasetMap', params: { method: 'tsne' } },
      { type: 'request', requestId: 'n-1', kind: 'datasetNeighbors', params: { imageId: 'img0', k: 500 } },
      { type: 'request', requestId: 'i-1', kind: 'datasetImportance', params: { classIndex: -1, method: 'gradient' } },
      { type: 'request', requestId: 'i-1', kind: 'datasetImportance', params: { classIndex: 0, method: 'ablation', channels: [] } },
      { type: 'datasetOpenImage', relPath: '../../etc/passwd' },
      { type: 'datasetOpenImage', relPath: '/etc/passwd' },
      { type: 'datasetOpenImage', relPath: 'C:\\Windows\\win.ini' },
      { type: 'request', requestId: 'd-1', kind: 'datasetFeatures', params: { folder: 'x'.repeat(5000), layer: 'auto' } },
      { type: 'request', requestId: 'g-1', kind: 'featureGallery', params: { layer: 'conv', count: 100, steps: 64 } },
      { type: 'exportRules', format: 'csv' },
      { type: 'request', requestId: 'x-1', kind: 'noSuchAnalysis', params: {} },
      { type: 'request', requestId: 'x-1', kind: '__proto__', params: {} },
      { type: 'request', requestId: 'x-1', kind: 'kernels' },
      { type: 'request', kind: 'kernels', params: {} },
      { type: 'datasetRules', requestId: 'r-1', depth: 3, minLeaf: 5, pooling: 'max' },
      { type: 'request', requestId: 's-1', kind: 'sanityCheck', params: { imageId: 'img0', method: 'grad cam', layer: 'auto' } },
    ];
    assert.deepStrictEqual(
      refused.filter((m) => parseWebviewMessage(m)),
      [],
    );
    assert.ok(parseWebviewMessage({ type: 'datasetOpenImage', relPath: 'test/star/3.png' }));
    assert.ok(parseWebviewMessage({ type: 'request', requestId: 'r-1', kind: 'datasetRules', params: { depth: 3, minLeaf: 5, pooling: 'max' } }));
    assert.ok(parseWebviewMessage({ type: 'request', requestId: 'm-1', kind: 'datasetMarkCheck', params: { marksFile: '/data/dataset-shortcut/boxes.json', pooling: 'max' } }));
    assert.ok(parseWebviewMessage({ type: 'request', requestId: 'm-1', kind: 'datasetMarkCheck', params: { marksFile: 'C:\\data\\boxes.json', pooling: 'mean' } }));
    assert.ok(parseWebviewMessage({ type: 'pickMarks' }));
    assert.ok(parseWebviewMessage({ type: 'request', requestId: 'i-1', kind: 'datasetImportance', params: { classIndex: 1, method: 'ablation', channels: [3, 7] } }));
  });

  for (const theme of ['dark', 'light', 'high-contrast'] as const) {
    it(`screenshots of the Dataset and Inside tabs in the ${theme} theme; axe-core finds no serious accessibility violation`, async () => {
      const wp = await ctx.open({ theme, width: 1200, height: 900 });
      await withDataset(wp);
      await request(wp, '#rules-run', 'datasetRules', (requestId) => ({ type: 'response', requestId, kind: 'datasetRules', result: a.rules }));
      await request(wp, '#map-run', 'datasetMap', (requestId) => ({ type: 'response', requestId, kind: 'datasetMap', result: a.pca }));
      await request(wp, '#errors-run', 'datasetErrors', (requestId) => ({ type: 'response', requestId, kind: 'datasetErrors', result: a.errors }));
      await pick(wp, 'slice-correctness', 'misclassified');
      await request(wp, '#slice-run', 'datasetSlice', (requestId) => ({ type: 'response', requestId, kind: 'datasetSlice', result: a.wrongSlice }));
      await request(wp, '#neighbors-run', 'datasetNeighbors', (requestId) => ({ type: 'response', requestId, kind: 'datasetNeighbors', result: a.neighbors }));
      await request(wp, '#importance-run', 'datasetImportance', (requestId) => ({ type: 'response', requestId, kind: 'datasetImportance', result: a.importance }));
      await request(wp, '#importance-ablate', 'datasetImportance', (requestId) => ({ type: 'response', requestId, kind: 'datasetImportance', result: a.ablation }));
      await wp.page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('img')].every((img) => img.complete));
      // A misclassified image's thumbnail shown by hovering its point.
      const map = decodedMap(a.pca);
      const wrong = a.dataset.images.findIndex((im) => im.label !== im.prediction);
      const p = (await pointOnPage(wp.page, map.xy))(map.xy[2 * wrong], map.xy[2 * wrong + 1]);
      await wp.page.mouse.move(p.x, p.y);
      await wp.page.waitForSelector('.map-tooltip:not([hidden]) img');
      await wp.page.screenshot({ path: screenshotPath(`panel-dataset-${theme}.png`, theme !== 'high-contrast'), fullPage: true });
      const violations = (await wp.accessibilityViolations()).map((v) => `dataset: ${v}`);

      await openTab(wp, 'inside');
      await request(wp, '#fields-run', 'receptiveFields', (requestId) => ({ type: 'response', requestId, kind: 'receptiveFields', result: a.fields }));
      await request(wp, `.fields-table tr[data-tensor="${DATASET_LAYER}"] button.effective`, 'effectiveField', (requestId) => ({
        type: 'response',
        requestId,
        kind: 'effectiveField',
        result: a.effectiveField,
      }));
      await request(wp, '#kernels-run', 'kernels', (requestId) => ({ type: 'response', requestId, kind: 'kernels', result: a.kernels }));
      await request(wp, '#gallery-run', 'featureGallery', (requestId) => ({ type: 'response', requestId, kind: 'featureGallery', result: a.gallery }));
      await request(wp, '#sanity-run', 'sanityCheck', (requestId) => ({ type: 'response', requestId, kind: 'sanityCheck', result: a.sanity }));
      await wp.page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('img')].every((img) => img.complete));
      await wp.page.waitForTimeout(100);
      await wp.page.screenshot({ path: screenshotPath(`panel-inside-${theme}.png`, theme !== 'high-contrast'), fullPage: true });
      violations.push(...(await wp.accessibilityViolations()).map((v) => `inside: ${v}`));
      assert.deepStrictEqual(violations, []);
      await assertClean(wp);
    });
  }
});
