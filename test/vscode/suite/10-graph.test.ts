// The Graph tab in a real extension host: opening it lays out the sample model in the compute worker
// with the selected image's statistics; a click on a node (the one the view is centred on) shows it
// and, when the training code defining it was found, "Go to code" opens that code.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { ConvLensTestApi } from '../../../src/extension/test-hooks';
import { WORKSPACE_FILES } from '../workspace';
import { bridge, closeAllEditors, convlens, nextMessage, nextResponse, panelId, postedError, waitFor, workspaceFile } from './helpers';

describe('graph tab', () => {
  let api: ConvLensTestApi;
  const panel = () => panelId('panel', WORKSPACE_FILES.model);
  const where = { view: 'panel', title: 'shapes.onnx' } as const;

  before(async () => {
    api = await convlens();
  });
  after(closeAllEditors);

  it("lays out the sample model with the selected image's statistics; a click selects a node and goes to its code", async () => {
    const since = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(WORKSPACE_FILES.model));
    const { model } = await nextMessage(api, panel(), 'model', since);
    const images = await nextMessage(api, panel(), 'images', since);
    const imageId = images.selected ?? images.images[0].id;
    const requested = api.posted().length;
    if (bridge) {
      const tab = await bridge.ask({ action: 'webviewClick', ...where, selector: 'vscode-tab-header[data-tab="graph"]' });
      assert.ok(tab.ok, tab.error);
    } else {
      await api.sendFromWebview(panel(), { type: 'request', requestId: 'e2e-graph', kind: 'graph', params: { imageId } });
    }
    const { result: graph } = await nextResponse(api, panel(), 'graph', requested, undefined, 120_000).catch((err: Error) => {
      throw new Error(postedError(api, panel(), requested) ?? err.message);
    });
    assert.strictEqual(graph.imageId, imageId);
    assert.deepStrictEqual(graph.nodes.map((n) => n.opType).slice(0, 3), ['Input', 'Conv', 'Relu']);
    assert.strictEqual(graph.nodes.length, 1 + model.layers.length, "the sample model's graph input and its 14 layers");
    for (const node of graph.nodes.slice(1)) assert.ok(node.stats && node.stats.channels === node.shape![1], `${node.name} has statistics`);
    if (!bridge) return;

    const clicked = await bridge.ask({ action: 'webviewClick', ...where, selector: '#graph-canvas' });
    assert.ok(clicked.ok, clicked.error);
    // The detail card names the node's output tensor; the canvas has no text of its own.
    const node = await waitFor(
      "the clicked node's details",
      async () => {
        const text = (await bridge!.ask({ action: 'webviewText', ...where })).text ?? '';
        const shown = graph.nodes.filter((n) => text.includes(n.tensor) && n.opType !== 'Input');
        return shown.length === 1 ? shown[0] : undefined;
      },
      20_000,
    );
    await bridge.ask({ action: 'screenshot', name: 'graph-panel' });
    const layer = model.layers.find((l) => l.name === node.name);
    assert.ok(layer?.hasSource, `${node.name} is defined in sample/train.py`);
    const open = await bridge.ask({ action: 'webviewClick', ...where, selector: '#graph-open-source' });
    assert.ok(open.ok, open.error);
    await waitFor(
      'train.py in an editor',
      () => {
        const e = vscode.window.activeTextEditor;
        return e?.document.uri.fsPath === workspaceFile(WORKSPACE_FILES.train).fsPath ? e : undefined;
      },
      20_000,
    );
  });
});
