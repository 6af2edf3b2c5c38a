// The model panel's Graph tab in headless Chromium under the host's strict CSP, fed with real
// results of the worker's graph job: the sample model with an image's statistics (its layers have
// source links), resnet18 from ../shared/reference with statistics, and a generated 5,000-node
// chain with skips. Only the nodes in view are drawn; a click selects the layer and offers its code.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { encodeModel } from '../../src/core/onnx/proto';
import { ComputeClient } from '../../src/compute/client';
import type { GraphView, ModelView } from '../../src/protocol';
import { skipChain } from '../unit/skip-chain-model';
import { ROOT } from './fixtures';
import { WebviewPage } from './harness';
import { assertClean, screenshotPath, useWebview } from './support';

const WORKER = path.join(ROOT, 'out/src/compute/worker.js');
const SAMPLE = path.join(ROOT, 'sample/shapes.onnx');
const RESNET = path.resolve(ROOT, '../shared/reference/resnet18.onnx');
const IMAGE = path.join(ROOT, 'sample/images/star.png');
const CHAIN_NODES = 5000;

/** A model view whose layers are the graph's nodes (what the Graph tab matches a click against). */
function modelViewOf(base: ModelView, graph: GraphView, file: string): ModelView {
  return {
    ...base,
    name: path.basename(file),
    path: file,
    layers: graph.nodes.filter((n) => n.opType !== 'Input').map((n) => ({ name: n.name, opType: n.opType, tensor: n.tensor, shape: n.shape })),
  };
}

describe('webview: Graph tab in Chromium', function () {
  const ctx = useWebview({ view: 'panel', theme: 'dark', width: 1280, height: 900 });
  const graphs: { sample?: GraphView; resnet?: GraphView; chain?: GraphView } = {};
  let chainFile: string;

  before(async function () {
    this.timeout(600_000);
    const client = new ComputeClient(WORKER);
    try {
      await client.call('openModel', { modelPath: SAMPLE, provider: 'cpu' });
      const image = await client.call('loadImage', { modelPath: SAMPLE, imagePath: IMAGE });
      graphs.sample = await client.call('graph', { modelPath: SAMPLE, imageId: image.id });
      if (fs.existsSync(RESNET)) {
        await client.call('openModel', { modelPath: RESNET, provider: 'cpu' });
        const photo = await client.call('loadImage', { modelPath: RESNET, imagePath: IMAGE });
        graphs.resnet = await client.call('graph', { modelPath: RESNET, imageId: photo.id });
      }
      chainFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-graph-')), 'skip-chain.onnx');
      fs.writeFileSync(chainFile, encodeModel(skipChain(CHAIN_NODES)));
      await client.call('openModel', { modelPath: chainFile, provider: 'cpu' });
      graphs.chain = await client.call('graph', { modelPath: chainFile });
    } finally {
      await client.dispose();
    }
  });
  after(() => chainFile && fs.rmSync(path.dirname(chainFile), { recursive: true, force: true }));

  /** Opens the Graph tab on `model`, answers its graph request with `graph`, waits for the drawing. */
  async function showGraph(wp: WebviewPage, model: ModelView, graph: GraphView, imageId?: string): Promise<void> {
    const f = ctx.fixtures();
    await wp.send({ type: 'model', model, methods: f.methods });
    if (imageId) await wp.send({ type: 'images', images: f.images, selected: imageId });
    await wp.page.click('vscode-tab-header[data-tab=graph]');
    const posted = await wp.waitForPost('graph');
    assert.deepStrictEqual(posted.params, imageId ? { imageId } : {});
    // The worker named the image by its own id; the host's images here are the fixtures'.
    await wp.send({ type: 'response', requestId: posted.requestId as string, kind: 'graph', result: imageId ? { ...graph, imageId } : graph });
    await wp.page.waitForFunction(() => Number(document.getElementById('graph-canvas')?.dataset.visibleNodes) > 0);
  }

  /** Clicks node `index` where the canvas draws it (from the view's transform), scrolling it into view with the keys first if needed. */
  async function clickNode(wp: WebviewPage, graph: GraphView, index: number): Promise<void> {
    const [scale, tx, ty] = (await wp.page.getAttribute('#graph-canvas', 'data-transform'))!.split(' ').map(Number);
    const box = (await wp.page.locator('.graph-viewport').boundingBox())!;
    const node = graph.nodes[index];
    await wp.page.mouse.click(box.x + node.x * scale + tx, box.y + node.y * scale + ty);
  }

  async function visibleNodes(wp: WebviewPage): Promise<number> {
    return Number(await wp.page.getAttribute('#graph-canvas', 'data-visible-nodes'));
  }

  it("draws the sample model with the image's statistics; a click selects the layer, shows its numbers and offers its code", async () => {
    const wp = ctx.page();
    const f = ctx.fixtures();
    const g = graphs.sample!;
    await showGraph(wp, f.model, g, 'img0');
    assert.strictEqual(await visibleNodes(wp), g.nodes.length, 'a small graph is all in view');
    assert.match((await wp.page.textContent('.graph-toolbar'))!, new RegExp(`${g.nodes.length} nodes, ${g.edges.length} edges · activations of ${f.images[0].name}`));
    const index = g.nodes.findIndex((n) => n.opType === 'Relu' && f.model.layers.find((l) => l.name === n.name)?.hasSource);
    assert.ok(index > 0, 'the sample model has a ReLU with a source link');
    await clickNode(wp, g, index);
    await wp.page.waitForSelector('.graph-detail h3');
    assert.strictEqual(await wp.page.textContent('.graph-detail h3'), g.nodes[index].name);
    const stats = g.nodes[index].stats!;
    const detail = (await wp.page.textContent('.graph-detail dl'))!;
    assert.ok(detail.includes(stats.mean.toPrecision(4)) && detail.includes(`${stats.dead} of ${stats.channels}`), detail);
    assert.strictEqual(await wp.page.getAttribute('.graph-detail img.graph-thumb', 'src'), stats.thumbnail);
    assert.strictEqual(await wp.page.$eval('#layer', (el) => (el as HTMLElement & { value: string }).value), g.nodes[index].name, "the Explain tab's layer follows");
    await wp.page.screenshot({ path: screenshotPath('graph-sample-dark.png') });
    await wp.page.click('#graph-open-source');
    assert.deepStrictEqual(await wp.waitForPost('openSource'), { type: 'openSource', layer: g.nodes[index].name });
    await wp.page.click('#graph-activations');
    const activations = await wp.waitForPost('activations');
    assert.strictEqual(activations.params?.layer, g.nodes[index].name);
    await wp.page.waitForSelector('vscode-tab-panel[data-panel=activations]:not([hidden])');
    await assertClean(wp);
  });

  it('draws resnet18 (skips joined by Add) with statistics and thumbnails; zoomed in, only the nodes in view are drawn', async function () {
    if (!graphs.resnet) {
      console.log(`      (skipped: ${RESNET} is absent)`);
      this.skip();
    }
    const wp = ctx.page();
    const g = graphs.resnet!;
    await showGraph(wp, modelViewOf(ctx.fixtures().model, g, RESNET), g, 'img0');
    const adds = g.nodes.filter((n) => n.opType === 'Add');
    assert.ok(adds.length >= 8, 'resnet18 has 8 residual Adds');
    for (const add of adds) assert.strictEqual(g.edges.filter((e) => g.nodes[e.to] === add).length, 2, `${add.name} joins two branches`);
    await wp.page.screenshot({ path: screenshotPath('graph-resnet18-fit-dark.png') });
    const all = await visibleNodes(wp);
    await wp.page.focus('.graph-viewport');
    for (let i = 0; i < 6; i++) await wp.page.keyboard.press('+');
    await wp.page.waitForFunction((n) => Number(document.getElementById('graph-canvas')?.dataset.visibleNodes) < n, all);
    const conv = g.nodes.find((n) => n.opType === 'Conv')!;
    await wp.page.screenshot({ path: screenshotPath('graph-resnet18-zoomed-dark.png') });
    assert.ok((await visibleNodes(wp)) < g.nodes.length);
    assert.ok(conv.stats?.thumbnail && conv.stats.channels === 64, 'the stem conv has 64 channels and a thumbnail');
    await assertClean(wp);
  });

  it(`draws a ${CHAIN_NODES.toLocaleString('en-US')}-node chain with skips drawing only what is in view, and selects a node deep in it`, async () => {
    const wp = ctx.page();
    const g = graphs.chain!;
    assert.strictEqual(g.nodes.length, CHAIN_NODES + 1);
    await showGraph(wp, modelViewOf(ctx.fixtures().model, g, chainFile), g);
    const drawn = await visibleNodes(wp);
    assert.ok(drawn > 0 && drawn < 200, `${drawn} of ${g.nodes.length} nodes drawn`);
    await wp.page.focus('.graph-viewport');
    for (let i = 0; i < 40; i++) await wp.page.keyboard.press('ArrowDown');
    // 40 steps of 80 px down: the view's top is about 3,200 px into the graph.
    await wp.page.waitForFunction(() => Number(document.getElementById('graph-canvas')!.dataset.transform!.split(' ')[2]) < -3000);
    const [scale, , ty] = (await wp.page.getAttribute('#graph-canvas', 'data-transform'))!.split(' ').map(Number);
    const target = g.nodes.findIndex((n, i) => i > 10 && n.y * scale + ty > 100);
    assert.ok(target > 10);
    await clickNode(wp, g, target);
    await wp.page.waitForFunction((name) => document.querySelector('.graph-detail h3')?.textContent === name, g.nodes[target].name);
    assert.match((await wp.page.textContent('.graph-detail'))!, /Choose an image for activation statistics/);
    await wp.page.screenshot({ path: screenshotPath('graph-chain-5000-dark.png') });
    await assertClean(wp);
  });
});
