// Restricted Mode: the harness's second pass opens the workspace untrusted, and runs only the
// files in this folder. What ConvLens declares (package.json capabilities.untrustedWorkspaces):
// models open in the overview editor and the panel, and predict and explain images; the lenses on
// code, the links from layers to training code and the CUDA installer are off. The same files and
// calls get lenses and links in the trusted pass (3-codelens, 4-training-code).
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { ConvLensTestApi } from '../../../../src/extension/test-hooks';
import { WORKSPACE_FILES } from '../../workspace';
import { bridge, chooseInExplorerMenu, closeAllEditors, convlens, nextMessage, panelId, postedError, runGradCam, waitFor, workspaceFile } from '../helpers';

const TRAINING_CODE_WARNING = 'ConvLens: links to training code need a trusted workspace.';
const CUDA_WARNING = 'ConvLens: installing the CUDA libraries needs a trusted workspace.';

/** The ConvLens lenses on a workspace file, as VS Code asks for them when it shows the file. */
async function convlensLenses(relative: string): Promise<vscode.CodeLens[]> {
  const uri = workspaceFile(relative);
  await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri), { preview: false });
  const found = (await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri, 100)) ?? [];
  return found.filter((l) => l.command?.command.startsWith('convlens.'));
}

/** The paths of the files open in editor tabs. */
function openTabFiles(): string[] {
  return vscode.window.tabGroups.all.flatMap((g) => g.tabs).flatMap((t) => (t.input instanceof vscode.TabInputText ? [t.input.uri.fsPath] : []));
}

/**
 * Waits until the notification center lists `text` (the workbench shows no toasts under the smoke
 * test driver; read through the bridge, without which the text cannot be read), then clears it.
 */
async function expectNotification(text: string): Promise<void> {
  if (bridge) {
    await vscode.commands.executeCommand('notifications.showList');
    let shown = '';
    await waitFor(
      `the notification "${text}"`,
      async () => {
        shown = (await bridge!.ask({ action: 'workbenchText', selector: '.notifications-center' })).text ?? '';
        return shown.includes(text) || undefined;
      },
      20_000,
    ).catch(() => assert.fail(`a notification says "${text}"; the notification center shows "${shown.trim()}"`));
  }
  await vscode.commands.executeCommand('notifications.clearAll');
  await vscode.commands.executeCommand('notifications.hideList');
}

describe('Restricted Mode (untrusted workspace)', () => {
  let api: ConvLensTestApi;
  const editor = () => panelId('editor', WORKSPACE_FILES.model);
  const panel = () => panelId('panel', WORKSPACE_FILES.model);

  before(async () => {
    assert.strictEqual(
      vscode.workspace.isTrusted,
      false,
      'the workspace is trusted, so this pass would test nothing: run-host must open it untrusted (workspace trust enabled, no --disable-workspace-trust)',
    );
    api = await convlens();
  });
  after(closeAllEditors);

  it('shows the workbench in Restricted Mode', async function () {
    if (!bridge) return this.skip();
    const bar = await waitFor(
      '"Restricted Mode" in the status bar',
      async () => {
        const text = (await bridge!.ask({ action: 'workbenchText', selector: '#workbench\\.parts\\.statusbar' })).text ?? '';
        return text.includes('Restricted Mode') ? text : undefined;
      },
      20_000,
    );
    assert.ok(bar.includes('Restricted Mode'));
  });

  it('opens shapes.onnx in its overview editor with a prediction, and no layer linked to training code', async () => {
    const since = api.posted().length;
    // The overview is the default editor of .onnx files: what opening the file from the explorer gives.
    await vscode.commands.executeCommand('vscode.open', workspaceFile(WORKSPACE_FILES.model));
    const { model } = await nextMessage(api, editor(), 'model', since, undefined, 120_000).catch((err: Error) => {
      throw new Error(postedError(api, editor(), since) ?? err.message);
    });
    assert.strictEqual(model.name, 'shapes.onnx');
    assert.ok(
      model.layers.some((l) => l.name === '/block4/conv/Conv'),
      'the layer the trusted pass links to sample/train.py is listed',
    );
    const linked = model.layers.filter((l) => l.hasSource).map((l) => l.name);
    assert.deepStrictEqual(linked, [], 'no layer carries a link to the training code');
    const prediction = await nextMessage(api, editor(), 'prediction', since, undefined, 120_000).catch((err: Error) => {
      throw new Error(postedError(api, editor(), since) ?? err.message);
    });
    assert.deepStrictEqual(prediction.top.map((p) => p.label).sort(), ['circle', 'square', 'star', 'triangle']);
    if (bridge) await bridge.ask({ action: 'screenshot', name: 'restricted-overview' });
    await closeAllEditors();
  });

  it('explains a sample image with Grad-CAM in the panel opened by "Explain Model" in the explorer', async () => {
    const since = api.posted().length;
    await chooseInExplorerMenu(WORKSPACE_FILES.model, 'ConvLens: Explain Model', 'convlens.explainModel');
    const { model } = await nextMessage(api, panel(), 'model', since, undefined, 120_000);
    assert.deepStrictEqual(
      model.layers.filter((l) => l.hasSource).map((l) => l.name),
      [],
      'no layer carries a link to the training code',
    );
    const { images, selected } = await nextMessage(api, panel(), 'images', since, undefined, 120_000);
    await nextMessage(api, panel(), 'prediction', since, undefined, 120_000).catch((err: Error) => {
      throw new Error(postedError(api, panel(), since) ?? err.message);
    });
    const imageId = selected ?? images[0].id;
    const explanation = await runGradCam(api, panel(), 'shapes.onnx', imageId);
    assert.strictEqual(explanation.imageId, imageId);
    assert.deepStrictEqual([explanation.map.width, explanation.map.height, explanation.map.values.length], [64, 64, 64 * 64]);
    assert.ok(explanation.map.values.every((v) => v >= 0 && v <= 1) && Math.max(...explanation.map.values) > 0.5, 'a Grad-CAM map in [0, 1], not blank');
    if (bridge) {
      await waitFor(
        'the explanation caption in the webview',
        async () => {
          const shown = (await bridge!.ask({ action: 'webviewText', view: 'panel', title: 'shapes.onnx' })).text ?? '';
          return shown.includes(`Grad-CAM for ${explanation.targetLabel}`) || undefined;
        },
        20_000,
      );
      await bridge.ask({ action: 'screenshot', name: 'restricted-gradcam' });
    }
  });

  it('predicts an image chosen with "Explain Image with Current Model" in the explorer', async () => {
    const since = api.posted().length;
    await chooseInExplorerMenu(WORKSPACE_FILES.images[2], 'ConvLens: Explain Image with Current Model', 'convlens.explainImage');
    const { images, selected } = await nextMessage(api, panel(), 'images', since, (m) => m.images.some((i) => i.id === m.selected && i.name === 'star.png'));
    const prediction = await nextMessage(api, panel(), 'prediction', since, (m) => m.imageId === selected).catch((err: Error) => {
      throw new Error(postedError(api, panel(), since) ?? err.message);
    });
    assert.strictEqual(images.find((i) => i.id === prediction.imageId)?.name, 'star.png');
    assert.strictEqual(prediction.top.length, 4);
  });

  it('puts no lens on inference calls or layer definitions, with the model open', async () => {
    assert.ok(api.views().includes(panel()), 'the model is open, so the trusted pass would put lenses on sample/train.py');
    for (const file of [WORKSPACE_FILES.pythonCode, WORKSPACE_FILES.typescriptCode, WORKSPACE_FILES.train]) {
      const lenses = await convlensLenses(file);
      assert.deepStrictEqual(
        lenses.map((l) => l.command?.title),
        [],
        `no ConvLens lens on ${file}`,
      );
    }
  });

  it('"Open Layer Source" says it needs a trusted workspace and opens nothing', async () => {
    await closeTextEditors();
    await vscode.commands.executeCommand('convlens.openLayerSource', workspaceFile(WORKSPACE_FILES.model).fsPath, '/conv1/Conv');
    await expectNotification(TRAINING_CODE_WARNING);
    assert.deepStrictEqual(openTabFiles(), [], 'no file was opened');
  });

  it('"go to code" from the panel says it needs a trusted workspace and opens nothing', async () => {
    await closeTextEditors();
    await api.sendFromWebview(panel(), { type: 'openSource', layer: '/block4/conv/Conv' });
    await expectNotification(TRAINING_CODE_WARNING);
    assert.deepStrictEqual(openTabFiles(), [], 'no file was opened');
  });

  it('"Install CUDA Provider Libraries" says it needs a trusted workspace and starts nothing', async () => {
    await vscode.commands.executeCommand('convlens.installCudaProvider');
    await expectNotification(CUDA_WARNING);
    assert.deepStrictEqual(
      vscode.window.terminals.map((t) => t.name),
      [],
      'no installer terminal',
    );
    if (bridge) {
      const dialog = (await bridge.ask({ action: 'workbenchText', selector: '.monaco-dialog-box' })).text ?? '';
      assert.strictEqual(dialog, '', 'no "Install the CUDA execution provider?" dialog');
    }
  });
});

/** Closes the text editors (the model panel stays open). */
async function closeTextEditors(): Promise<void> {
  const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputText);
  await vscode.window.tabGroups.close(tabs);
}
