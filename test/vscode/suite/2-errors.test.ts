// What a person sees when something cannot work: a corrupt .onnx (in the panel and in the
// overview editor) and an image too large to read get one clear sentence in the view.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { ConvLensTestApi } from '../../../src/extension/test-hooks';
import { WORKSPACE_FILES } from '../workspace';
import { bridge, closeAllEditors, convlens, nextMessage, panelId, waitFor, workspaceFile } from './helpers';

describe('errors shown in the views', () => {
  let api: ConvLensTestApi;

  before(async () => {
    api = await convlens();
  });
  afterEach(closeAllEditors);

  it('says clearly that a corrupt .onnx is not a model, in the panel', async () => {
    const since = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(WORKSPACE_FILES.corruptModel));
    const { message } = await nextMessage(api, panelId('panel', WORKSPACE_FILES.corruptModel), 'error', since);
    assert.match(message, /^Could not open corrupt\.onnx: /);
    assert.strictEqual(message.split('corrupt.onnx').length, 2, `names the file once: ${message}`);
    assert.ok(!/\n|at .*\(.*:\d+:\d+\)/.test(message), `one sentence, no stack trace: ${message}`);
    assert.ok(
      !api
        .posted()
        .slice(since)
        .some((p) => p.view === panelId('panel', WORKSPACE_FILES.corruptModel) && p.message.type === 'model'),
    );
    if (bridge) {
      await waitFor(
        'the error in the webview',
        async () => {
          const text = (await bridge!.ask({ action: 'webviewText', view: 'panel', title: 'corrupt.onnx' })).text ?? '';
          return text.includes('Could not open corrupt.onnx') || undefined;
        },
        20_000,
      );
    }
  });

  it('says so in the overview editor too, instead of showing binary noise', async () => {
    const since = api.posted().length;
    await vscode.commands.executeCommand('vscode.openWith', workspaceFile(WORKSPACE_FILES.corruptModel), 'convlens.modelOverview');
    const { message } = await nextMessage(api, panelId('editor', WORKSPACE_FILES.corruptModel), 'error', since);
    assert.match(message, /^Could not open corrupt\.onnx: /);
  });

  it('refuses an image larger than convlens.maxImagePixels with its size', async () => {
    const opened = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(WORKSPACE_FILES.model));
    await nextMessage(api, panelId('panel', WORKSPACE_FILES.model), 'images', opened);
    const since = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainImage', workspaceFile(WORKSPACE_FILES.hugeImage));
    const { message } = await nextMessage(api, panelId('panel', WORKSPACE_FILES.model), 'error', since);
    assert.match(message, /huge\.png is 30000×30000 \(900 MP\), more than the 50 MP ConvLens reads \(setting convlens\.maxImagePixels\)\./);
  });

  it('drops messages from a webview that do not follow the protocol', async () => {
    const view = panelId('panel', WORKSPACE_FILES.model);
    const opened = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(WORKSPACE_FILES.model));
    await waitFor(
      'the panel to settle (prediction or error)',
      () =>
        api
          .posted()
          .slice(opened)
          .some((p) => p.view === view && (p.message.type === 'prediction' || p.message.type === 'error')) || undefined,
    );
    // The webview answers the image list by selecting an image, which re-posts its prediction: wait for quiet.
    let count = -1;
    await waitFor('no more messages to the panel', async () => {
      const now = api.posted().filter((p) => p.view === view).length;
      if (now === count) return true;
      count = now;
      await new Promise((r) => setTimeout(r, 1000));
      return undefined;
    });
    const since = api.posted().length;
    await api.sendFromWebview(view, {
      type: 'request',
      requestId: '../../etc/passwd',
      kind: 'explain',
      params: { imageId: 'x', method: 'gradcam', layer: 'auto', target: { kind: 'top' } },
    });
    await api.sendFromWebview(view, { type: 'openSource' });
    await api.sendFromWebview(view, 'ready');
    await new Promise((r) => setTimeout(r, 500));
    assert.deepStrictEqual(
      api
        .posted()
        .slice(since)
        .filter((p) => p.view === view),
      [],
    );
  });
});
