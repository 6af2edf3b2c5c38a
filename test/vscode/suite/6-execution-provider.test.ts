// Changing the execution provider or the threads per op reopens the open models in the worker
// (which drops their images there); the panel gets the model again, its images reloaded, and
// explanations work.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { ConvLensTestApi } from '../../../src/extension/test-hooks';
import { WORKSPACE_FILES } from '../workspace';
import { closeAllEditors, convlens, nextMessage, nextResponse, type Of, panelId, postedError, workspaceFile } from './helpers';

describe('execution provider setting', () => {
  let api: ConvLensTestApi;
  const panel = () => panelId('panel', WORKSPACE_FILES.model);

  before(async () => {
    api = await convlens();
  });
  after(async () => {
    await vscode.workspace.getConfiguration('convlens').update('executionProvider', undefined, vscode.ConfigurationTarget.Global);
    await vscode.workspace.getConfiguration('convlens').update('computeThreads', undefined, vscode.ConfigurationTarget.Global);
    await closeAllEditors();
  });

  it('reopens the model on the chosen provider and keeps the panel working', async () => {
    const opened = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(WORKSPACE_FILES.model));
    const before = await nextMessage(api, panel(), 'images', opened);
    const since = api.posted().length;
    await vscode.workspace.getConfiguration('convlens').update('executionProvider', 'cpu', vscode.ConfigurationTarget.Global);
    const { model } = await nextMessage(api, panel(), 'model', since);
    assert.deepStrictEqual([model.provider.name, model.provider.reason], ['cpu', 'the CPU was chosen in settings']);
    // Changed while the first reopen still reloads the images: the second reopen follows it, and the
    // images the first one was loading are loaded again after it, not lost with it.
    const sinceThreads = api.posted().length;
    await vscode.workspace.getConfiguration('convlens').update('computeThreads', 1, vscode.ConfigurationTarget.Global);
    const oneThread = (m: Of<'model'>) => m.model.provider.threads === 1;
    await nextMessage(api, panel(), 'model', sinceThreads, oneThread);
    const reopened = api.posted().findIndex((p, i) => i >= sinceThreads && p.view === panel() && p.message.type === 'model' && oneThread(p.message));
    const after = await nextMessage(api, panel(), 'images', reopened);
    assert.deepStrictEqual(
      after.images.map((i) => i.name),
      before.images.map((i) => i.name),
      'the same images, loaded again',
    );
    const imageId = after.selected ?? after.images[0].id;
    const request = api.posted().length;
    await api.sendFromWebview(panel(), {
      type: 'request',
      requestId: 'after-reopen',
      kind: 'explain',
      params: { imageId, method: 'gradcam', layer: 'auto', target: { kind: 'top' } },
    });
    const { result: explanation } = await nextResponse(api, panel(), 'explain', request).catch((err: Error) => {
      throw new Error(postedError(api, panel(), request) ?? err.message);
    });
    assert.strictEqual(explanation.imageId, imageId);
  });
});
