// Issue #16's first minute and what follows it, in a real extension host: the sample model's panel
// answers without a click (the default method runs on the image it chose, once); "why A and not B"
// comes back signed and "Copy command" puts a `convlens explain` line naming the same method and
// target on the clipboard; the graph view on resnet18 (../shared/reference) and on a generated
// 5,000-node model answers with every node, and a click on a node selects it; the shortcut
// heatmap of the shortcut model on its sample dataset flags the corner channel.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import * as vscode from 'vscode';
import { encodeModel } from '../../../src/core/onnx/proto';
import type { ConvLensTestApi } from '../../../src/extension/test-hooks';
import { skipChain } from '../../unit/skip-chain-model';
import { WORKSPACE_FILES } from '../workspace';
import { bridge, closeAllEditors, convlens, nextMessage, nextResponse, panelId, postedError, waitFor, workspaceFile } from './helpers';

const CHAIN_NODES = 5_000;
const CHAIN = 'generated/skip-chain-5000.onnx';
const RESNET = 'reference/resnet18.onnx';
const SHORTCUT_DATASET = 'sample/dataset-shortcut';
/** The shortcut model's mark channel at block4 (test/unit/dataset-positions.test.ts). */
const SHORTCUT_LAYER = '/block4/relu/Relu_output_0';
const MARK_CHANNEL = 48;

/** Words of a POSIX command line as shellWord (src/extension/reproduce.ts) quotes them: bare or single-quoted. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  const pattern = /'((?:[^']|'\\'')*)'|(\S+)/g;
  for (let m = pattern.exec(line); m; m = pattern.exec(line)) words.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]);
  return words;
}

async function webviewText(title: string): Promise<string> {
  return (await bridge!.ask({ action: 'webviewText', view: 'panel', title })).text ?? '';
}

describe('the first minute', () => {
  let api: ConvLensTestApi;
  const panel = () => panelId('panel', WORKSPACE_FILES.model);
  const where = { view: 'panel', title: 'shapes.onnx' } as const;
  let opened = 0;

  before(async () => {
    api = await convlens();
    await closeAllEditors();
  });
  after(closeAllEditors);

  it('opens the sample model on an answer: the default method runs on the chosen image without a click, once', async function () {
    this.timeout(240_000);
    opened = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(WORKSPACE_FILES.model));
    const images = await nextMessage(api, panel(), 'images', opened, undefined, 120_000);
    const imageId = images.selected ?? images.images[0].id;
    const { requestId, result } = await nextResponse(api, panel(), 'explain', opened, undefined, 180_000).catch((err: Error) => {
      throw new Error(postedError(api, panel(), opened) ?? err.message);
    });
    const defaultMethod = vscode.workspace.getConfiguration('convlens').get<string>('defaultMethod');
    assert.strictEqual(result.method, defaultMethod, 'the setting convlens.defaultMethod');
    assert.strictEqual(result.imageId, imageId, 'the image the panel opened on');
    assert.ok(!requestId.startsWith('host-'), `the webview asked for it (${requestId}), not the host`);
    assert.ok(Math.max(...result.map.values) > 0.5, 'the map is not blank');
    if (bridge) {
      await waitFor('the answer on the first screen', async () => (await webviewText('shapes.onnx')).includes(`for ${result.targetLabel}`) || undefined, 30_000);
      await bridge.ask({ action: 'screenshot', name: 'first-minute' });
      // Tab switches re-render the panel; they do not run it again.
      for (const tab of ['compare', 'graph', 'explain']) {
        const clicked = await bridge.ask({ action: 'webviewClick', ...where, selector: `vscode-tab-header[data-tab="${tab}"]` });
        assert.ok(clicked.ok, clicked.error);
      }
    }
    await new Promise((r) => setTimeout(r, 1_500));
    const explains = api
      .posted()
      .slice(opened)
      .filter((p) => p.view === panel() && p.message.type === 'response' && p.message.kind === 'explain');
    assert.strictEqual(explains.length, 1, 'one explanation, not one per render');
  });

  it('draws "why A and not B" signed, and "Copy command" copies a convlens command with the same method and target', async function () {
    this.timeout(180_000);
    const { images, selected } = await nextMessage(api, panel(), 'images', opened);
    const imageId = selected ?? images[0].id;
    const prediction = await nextMessage(api, panel(), 'prediction', opened, (m) => m.imageId === imageId, 60_000);
    const [a, b] = prediction.top.map((p) => p.index);
    const since = api.posted().length;
    await api.sendFromWebview(panel(), {
      type: 'request',
      requestId: 'e2e-why-not',
      kind: 'explain',
      params: { imageId, method: 'gradcam', layer: 'auto', target: { kind: 'difference', a, b } },
    });
    const { result } = await nextResponse(api, panel(), 'explain', since, (m) => m.requestId === 'e2e-why-not', 120_000).catch((err: Error) => {
      throw new Error(postedError(api, panel(), since) ?? err.message);
    });
    assert.deepStrictEqual(result.target, { kind: 'difference', a, b });
    assert.strictEqual(result.map.signed, true, 'the contrast is drawn signed');
    assert.ok(
      result.map.values.every((v) => v >= -1 && v <= 1),
      'in [-1, 1]',
    );

    await vscode.env.clipboard.writeText('');
    if (bridge) {
      await waitFor('the signed legend', async () => /signed/.test(await webviewText('shapes.onnx')) || undefined, 30_000);
      await bridge.ask({ action: 'screenshot', name: 'why-not-signed' });
      const clicked = await bridge.ask({ action: 'webviewClick', ...where, selector: '.explain .copy-command' });
      assert.ok(clicked.ok, clicked.error);
    } else {
      await api.sendFromWebview(panel(), { type: 'copyReproduction', explanationId: result.id, form: 'command' });
    }
    const command = await waitFor(
      'the command on the clipboard',
      async () => {
        const text = await vscode.env.clipboard.readText();
        return text.startsWith('convlens explain ') ? text : undefined;
      },
      20_000,
    );
    const words = shellWords(command);
    const { values, positionals } = parseArgs({
      args: words.slice(2),
      // The flags `convlens explain` takes for Grad-CAM (strict: any other word fails the test).
      options: {
        method: { type: 'string' },
        layer: { type: 'string' },
        target: { type: 'string' },
        versus: { type: 'string' },
        output: { type: 'string' },
        out: { type: 'string' },
      },
      strict: true,
      allowPositionals: true,
    });
    assert.strictEqual(positionals.length, 2, command);
    assert.strictEqual(positionals[0], workspaceFile(WORKSPACE_FILES.model).fsPath);
    assert.strictEqual(path.basename(positionals[1]), images.find((i) => i.id === imageId)!.name);
    assert.strictEqual(values.method, 'gradcam');
    assert.deepStrictEqual([values.target, values.versus], [String(a), String(b)], command);
    assert.strictEqual(values.layer, result.layer, command);
  });
});

describe('shortcut heatmap, in the extension host', () => {
  let api: ConvLensTestApi;
  const panel = () => panelId('panel', WORKSPACE_FILES.secondModel);
  let folder: string;

  before(async () => {
    api = await convlens();
    const extension = vscode.extensions.getExtension('convlens.convlens')!;
    folder = workspaceFile(SHORTCUT_DATASET).fsPath;
    fs.cpSync(path.join(extension.extensionPath, SHORTCUT_DATASET), folder, { recursive: true });
  });
  after(closeAllEditors);

  it(`flags channel ${MARK_CHANNEL} of the shortcut model as firing in the bottom-right corner across its dataset`, async function () {
    this.timeout(420_000);
    const since = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(WORKSPACE_FILES.secondModel));
    await nextMessage(api, panel(), 'datasetFolders', since, (m) => m.folders.some((f) => f.path === folder), 120_000);
    const fail = (from: number) => (err: Error) => {
      throw new Error(postedError(api, panel(), from) ?? err.message);
    };
    await api.sendFromWebview(panel(), { type: 'request', requestId: 'e2e-shortcut-features', kind: 'datasetFeatures', params: { folder, layer: SHORTCUT_LAYER } });
    const { result: dataset } = await nextResponse(api, panel(), 'datasetFeatures', since, undefined, 300_000).catch(fail(since));
    assert.strictEqual(dataset.layer, SHORTCUT_LAYER);
    const rulesSince = api.posted().length;
    await api.sendFromWebview(panel(), { type: 'request', requestId: 'e2e-shortcut-rules', kind: 'datasetRules', params: { depth: 3, minLeaf: 5, pooling: 'mean' } });
    const { result: rules } = await nextResponse(api, panel(), 'datasetRules', rulesSince, undefined, 120_000).catch(fail(rulesSince));
    // The rules' channels, and the mark's channel whether or not the rules picked it.
    const channels = [...new Set([...rules.channels.map((c) => c.channel), MARK_CHANNEL])];
    const positionsSince = api.posted().length;
    await api.sendFromWebview(panel(), { type: 'request', requestId: 'e2e-shortcut-positions', kind: 'datasetChannelPositions', params: { channels } });
    const { result: positions } = await nextResponse(api, panel(), 'datasetChannelPositions', positionsSince, undefined, 120_000).catch(fail(positionsSince));
    const mark = positions.channels.find((c) => c.channel === MARK_CHANNEL);
    assert.ok(mark, `channel ${MARK_CHANNEL} is placed`);
    assert.strictEqual(mark.where, 'bottom-right corner');
    assert.strictEqual(mark.likelyShortcut, true);
    assert.ok(mark.peakShare >= positions.shortcutShare, `${mark.peakShare} of its peaks in one cell`);
    if (!bridge) return;
    const tab = await bridge.ask({ action: 'webviewClick', view: 'panel', title: 'shapes-shortcut.onnx', selector: 'vscode-tab-header[data-tab="dataset"]' });
    assert.ok(tab.ok, tab.error);
    const text = await waitFor(
      'the heatmap of the flagged channel in the Dataset tab',
      async () => {
        const shown = await webviewText('shapes-shortcut.onnx');
        return shown.includes(`channel ${MARK_CHANNEL}`) && shown.includes('likely shortcut') ? shown : undefined;
      },
      30_000,
    );
    assert.ok(text.includes('bottom-right corner'), 'the heatmap names the corner');
    // A click on the flagged heatmap (it has no action) scrolls it into view for the screenshot.
    const flagged = await bridge.ask({
      action: 'webviewClick',
      view: 'panel',
      title: 'shapes-shortcut.onnx',
      selector: `.position.shortcut[data-channel="${MARK_CHANNEL}"] .position-grid`,
    });
    assert.ok(flagged.ok, `channel ${MARK_CHANNEL}'s heatmap is marked as a likely shortcut: ${flagged.error}`);
    await bridge.ask({ action: 'screenshot', name: 'shortcut-heatmap' });
  });
});

describe('graph view at scale, in the extension host', () => {
  let api: ConvLensTestApi;

  before(async function () {
    this.timeout(120_000);
    api = await convlens();
    const chain = workspaceFile(CHAIN).fsPath;
    fs.mkdirSync(path.dirname(chain), { recursive: true });
    fs.writeFileSync(chain, encodeModel(skipChain(CHAIN_NODES)));
  });
  after(closeAllEditors);

  /** Opens `relative` in its panel, asks for its graph (the Graph tab's click through the bridge), checks every node came, and clicks one. */
  async function graphOf(relative: string, minimumNodes: (layers: number) => number, openTimeoutMs: number): Promise<void> {
    const view = panelId('panel', relative);
    const title = path.basename(relative);
    const since = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(relative));
    const { model } = await nextMessage(api, view, 'model', since, undefined, openTimeoutMs).catch((err: Error) => {
      throw new Error(postedError(api, view, since) ?? err.message);
    });
    const requested = api.posted().length;
    if (bridge) {
      const tab = await bridge.ask({ action: 'webviewClick', view: 'panel', title, selector: 'vscode-tab-header[data-tab="graph"]' });
      assert.ok(tab.ok, tab.error);
    } else {
      await api.sendFromWebview(view, { type: 'request', requestId: `e2e-graph-${requested}`, kind: 'graph', params: {} });
    }
    const { result: graph } = await nextResponse(api, view, 'graph', requested, undefined, 300_000).catch((err: Error) => {
      throw new Error(postedError(api, view, requested) ?? err.message);
    });
    const minimum = minimumNodes(model.layers.length);
    assert.ok(graph.nodes.length >= minimum, `${title}: ${graph.nodes.length} graph nodes for ${model.layers.length} layers (at least ${minimum})`);
    for (const layer of model.layers.slice(0, 50))
      assert.ok(
        graph.nodes.some((n) => n.name === layer.name),
        `${layer.name} is a node`,
      );
    if (!bridge) return;
    // Drawn once the tab's status line counts the nodes; the view opens centred on a node, and a
    // click there selects it and shows its details (clicked again if the first click came while
    // the canvas was still taking the layout: 5,001 nodes arrive as one message).
    const counted = `${graph.nodes.length.toLocaleString('en-US')} nodes`;
    await waitFor(`"${counted}" in ${title}'s Graph tab`, async () => (await webviewText(title)).includes(counted) || undefined, 120_000);
    const details = async () => {
      const text = await webviewText(title);
      // The details card's "Output" row names the node's tensor (t2 must not match t20).
      const shown = graph.nodes.filter((n) => n.opType !== 'Input' && new RegExp(`Output\\s*${n.tensor.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(\\s|$)`).test(text));
      return shown.length >= 1 ? shown : undefined;
    };
    let node: typeof graph.nodes | undefined;
    for (let attempt = 0; attempt < 3 && !node; attempt++) {
      const clicked = await bridge.ask({ action: 'webviewClick', view: 'panel', title, selector: '#graph-canvas' });
      assert.ok(clicked.ok, clicked.error);
      node = await waitFor(`the clicked node's details in ${title}`, details, 20_000).catch(() => undefined);
    }
    assert.ok(node, `a click on ${title}'s graph shows the node it selected`);
    assert.strictEqual(node.length, 1, `one node's details: ${node.map((n) => n.name).join(', ')}`);
    await bridge.ask({ action: 'screenshot', name: `graph-${title.replace(/\.onnx$/, '')}` });
  }

  it('lays out resnet18 with every node, and a click selects one', async function () {
    this.timeout(420_000);
    const reference = process.env.CONVLENS_REFERENCE ?? path.resolve(vscode.extensions.getExtension('convlens.convlens')!.extensionPath, '../shared/reference');
    const source = path.join(reference, 'resnet18.onnx');
    if (!fs.existsSync(source)) {
      console.log(`      skipped: ${source} is absent (the shared reference models are not on this machine; set CONVLENS_REFERENCE)`);
      return this.skip();
    }
    fs.mkdirSync(path.dirname(workspaceFile(RESNET).fsPath), { recursive: true });
    fs.copyFileSync(source, workspaceFile(RESNET).fsPath);
    await graphOf(RESNET, (layers) => layers, 180_000);
  });

  it(`lays out a generated ${CHAIN_NODES.toLocaleString('en-US')}-node model with every node, and a click selects one`, async function () {
    // The open builds the gradient graph but not its session (tens of seconds in onnxruntime for
    // 5,000 nodes); the graph's layout took 36 s on the loaded 2-core machine: generous bounds.
    this.timeout(900_000);
    await graphOf(CHAIN, (layers) => Math.max(layers, CHAIN_NODES), 600_000);
  });
});
