// The links between the sample model's layers and sample/train.py: "go to code" opens the line
// that defines the layer (for a layer of a block, the line that instantiates the block), and the
// training script gets lenses over those lines that run activations and Grad-CAM at that layer.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { ConvLensTestApi } from '../../../src/extension/test-hooks';
import { WORKSPACE_FILES } from '../workspace';
import { bridge, closeAllEditors, convlens, nextMessage, nextResponse, panelId, postedError, waitFor, workspaceFile } from './helpers';

/** 0-based line of the first line containing `needle` at or after line `from`. */
async function lineOf(relative: string, needle: string, from = 0): Promise<number> {
  const document = await vscode.workspace.openTextDocument(workspaceFile(relative));
  for (let i = from; i < document.lineCount; i++) if (document.lineAt(i).text.includes(needle)) return i;
  throw new Error(`'${needle}' is not in ${relative}`);
}

describe('links to the training code', () => {
  let api: ConvLensTestApi;
  const panel = () => panelId('panel', WORKSPACE_FILES.model);

  before(async () => {
    api = await convlens();
    const since = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(WORKSPACE_FILES.model));
    await nextMessage(api, panel(), 'images', since);
  });
  after(closeAllEditors);

  it('opens a layer of a block from the panel ("go to code") at the line that instantiates that block', async () => {
    // Not ConvBlock's `self.conv = ...`, which all four blocks share.
    const expected = await lineOf(WORKSPACE_FILES.train, 'self.block4 = ConvBlock(');
    await api.sendFromWebview(panel(), { type: 'openSource', layer: '/block4/conv/Conv' });
    const editor = await waitFor(
      'train.py in an editor',
      () => {
        const e = vscode.window.activeTextEditor;
        return e?.document.uri.fsPath === workspaceFile(WORKSPACE_FILES.train).fsPath ? e : undefined;
      },
      20_000,
    );
    assert.strictEqual(editor.selection.active.line, expected);
  });

  it('opens the top-level convolution at its own line with "ConvLens: Open Layer Source"', async () => {
    const expected = await lineOf(WORKSPACE_FILES.train, 'self.conv1 = nn.Conv2d(');
    await vscode.commands.executeCommand('convlens.openLayerSource', workspaceFile(WORKSPACE_FILES.model).fsPath, '/conv1/Conv');
    const editor = vscode.window.activeTextEditor;
    assert.strictEqual(editor?.document.uri.fsPath, workspaceFile(WORKSPACE_FILES.train).fsPath);
    assert.strictEqual(editor.selection.active.line, expected);
  });

  it('puts "Activations" and "Grad-CAM for this layer" lenses over the layer definitions of the open model', async () => {
    const uri = workspaceFile(WORKSPACE_FILES.train);
    const document = await vscode.workspace.openTextDocument(uri);
    const conv1 = await lineOf(WORKSPACE_FILES.train, 'self.conv1 = nn.Conv2d(');
    const found = await waitFor(
      'layer lenses in train.py',
      async () => {
        const all = (await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri, 100)) ?? [];
        const layerLenses = all.filter((l) => l.command?.command === 'convlens.layerActivations' || l.command?.command === 'convlens.layerGradCam');
        return layerLenses.length > 0 ? layerLenses : undefined;
      },
      30_000,
    );
    const onConv1 = found.filter((l) => l.range.start.line === conv1).map((l) => l.command!.title);
    assert.deepStrictEqual(onConv1, ['$(pulse) Activations', '$(flame) Grad-CAM for this layer']);
    const lines = new Set(found.map((l) => document.lineAt(l.range.start.line).text.trim().split(' = ')[0]));
    for (const attribute of ['self.conv1', 'self.conv', 'self.block4', 'self.head']) assert.ok(lines.has(attribute), `${attribute} has lenses`);
  });

  it('runs Grad-CAM at the layer of a definition lens', async () => {
    const since = api.posted().length;
    await vscode.commands.executeCommand('convlens.layerGradCam', workspaceFile(WORKSPACE_FILES.model).fsPath, ['/conv1/Conv']);
    const { result: explanation } = await nextResponse(api, panel(), 'explain', since).catch((err: Error) => {
      throw new Error(postedError(api, panel(), since) ?? err.message);
    });
    assert.strictEqual(explanation.method, 'gradcam');
    assert.ok(explanation.layer?.includes('conv1'), `computed at conv1 (got ${explanation.layer})`);
    if (bridge) await bridge.ask({ action: 'screenshot', name: 'layer-gradcam' });
  });

  it('brings the panel to the front with the Grad-CAM of a block lens, computed at that block', async () => {
    const train = await vscode.window.showTextDocument(workspaceFile(WORKSPACE_FILES.train));
    assert.strictEqual(vscode.window.activeTextEditor, train);
    const since = api.posted().length;
    await vscode.commands.executeCommand('convlens.layerGradCam', workspaceFile(WORKSPACE_FILES.model).fsPath, ['/block4/conv/Conv']);
    const { result: explanation } = await nextResponse(api, panel(), 'explain', since).catch((err: Error) => {
      throw new Error(postedError(api, panel(), since) ?? err.message);
    });
    assert.ok(explanation.layer?.includes('block4'), `computed at block4 (got ${explanation.layer})`);
    // The workbench reports tab changes to the extension host a moment later.
    await waitFor('the panel in front', () => vscode.window.tabGroups.activeTabGroup.activeTab?.label === 'ConvLens: shapes.onnx' || undefined, 10_000);
  });
});
