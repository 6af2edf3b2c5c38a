// The side-panel attribution viewer follows the user: an image opened in VS Code's image preview
// is explained with the active model, and the method switches in place.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { ConvLensTestApi } from '../../../src/extension/test-hooks';
import { WORKSPACE_FILES } from '../workspace';
import { bridge, closeAllEditors, convlens, nextMessage, nextResponse, panelId, postedError, waitFor, workspaceFile } from './helpers';

describe('side-panel attribution viewer', () => {
  let api: ConvLensTestApi;
  /** Where this file's messages start: the side view may exist already and take the model as the panel opens. */
  let opened: number;

  before(async () => {
    api = await convlens();
    opened = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(WORKSPACE_FILES.model));
    await nextMessage(api, panelId('panel', WORKSPACE_FILES.model), 'model', opened);
  });
  after(closeAllEditors);

  it('explains the image open in the image preview with the active model', async () => {
    const since = api.posted().length;
    await vscode.commands.executeCommand('convlens.attributionView.focus');
    const star = workspaceFile(WORKSPACE_FILES.images[2]);
    await vscode.commands.executeCommand('vscode.open', star);
    const { model } = await nextMessage(api, 'side', 'model', opened);
    assert.strictEqual(model.name, 'shapes.onnx');
    const { images, selected } = await nextMessage(api, 'side', 'images', since, (m) => m.images.some((i) => i.name === 'star.png'));
    const { result: explanation } = await nextResponse(api, 'side', 'explain', since).catch((err: Error) => {
      throw new Error(postedError(api, 'side', since) ?? err.message);
    });
    assert.strictEqual(explanation.imageId, selected ?? images[0].id);
    assert.strictEqual(explanation.method, 'gradcam', 'the default method (convlens.defaultMethod)');
    if (bridge) {
      // The webview renders the explanation message a moment after the host posted it.
      let text = '';
      await waitFor(
        'the side view to name the image',
        async () => {
          text = (await bridge!.ask({ action: 'webviewText', view: 'side' })).text ?? '';
          return text.includes('star.png') || undefined;
        },
        20_000,
      ).catch(() => assert.fail(`the side view names the image: ${text.slice(0, 200)}`));
    }
  });

  it('switches the method in place', async () => {
    const since = api.posted().length;
    const { images, selected } = await nextMessage(api, 'side', 'images', 0, (m) => m.images.some((i) => i.name === 'star.png'));
    const imageId = selected ?? images[0].id;
    await api.sendFromWebview('side', {
      type: 'request',
      requestId: 'side-switch',
      kind: 'explain',
      params: { imageId, method: 'eigencam', layer: 'auto', target: { kind: 'top' } },
    });
    const { result: explanation } = await nextResponse(api, 'side', 'explain', since, (m) => m.requestId === 'side-switch').catch((err: Error) => {
      throw new Error(postedError(api, 'side', since) ?? err.message);
    });
    assert.strictEqual(explanation.method, 'eigencam');
    if (bridge) await bridge.ask({ action: 'screenshot', name: 'side-view' });
  });
});
