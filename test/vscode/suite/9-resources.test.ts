// Resources: closing a model's views releases the model in the worker (with its images and kept
// explanations), and once no model is open the worker process itself stops, then starts afresh
// for the next view; a worker killed from outside comes back with the open models. The
// activation memory setting reaches the worker: feature maps of a layer over the limit are
// refused in the view, naming the setting.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { ConvLensTestApi } from '../../../src/extension/test-hooks';
import { WORKSPACE_FILES } from '../workspace';
import { closeAllEditors, convlens, nextMessage, nextResponse, panelId, postedError, waitFor, workspaceFile } from './helpers';
import { processAlive } from '../../support/process';

describe('resources', () => {
  let api: ConvLensTestApi;
  const panel = () => panelId('panel', WORKSPACE_FILES.model);
  const modelPath = () => workspaceFile(WORKSPACE_FILES.model).fsPath;

  before(async () => {
    api = await convlens();
    await closeAllEditors();
  });
  afterEach(async () => {
    await vscode.workspace.getConfiguration('convlens').update('maxActivationMemoryMB', undefined, vscode.ConfigurationTarget.Global);
    await closeAllEditors();
  });

  async function openPanelWithImage(): Promise<string> {
    const since = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(WORKSPACE_FILES.model));
    const { images, selected } = await nextMessage(api, panel(), 'images', since);
    return selected ?? images[0].id;
  }

  async function explain(imageId: string): Promise<void> {
    const since = api.posted().length;
    await api.sendFromWebview(panel(), {
      type: 'request',
      requestId: `resources-${since}`,
      kind: 'explain',
      params: { imageId, method: 'gradcam', layer: 'auto', target: { kind: 'top' } },
    });
    await nextResponse(api, panel(), 'explain', since).catch((err: Error) => {
      throw new Error(postedError(api, panel(), since) ?? err.message);
    });
  }

  it('releases the model when its last view closes, then stops the idle worker; a new view starts a fresh one', async () => {
    // The side view follows the panel's model: both use the one copy in the worker.
    await vscode.commands.executeCommand('convlens.attributionView.focus');
    await explain(await openPanelWithImage());
    await waitFor('the side view to take the model', () => (api.shown().sideViewDescription === 'shapes.onnx' ? true : undefined));
    const held = await api.worker();
    assert.ok(held?.pid, 'the worker runs');
    assert.deepStrictEqual(held.models, [modelPath()], 'one model, shared by the panel and the side view');
    assert.ok(held.images > 0 && held.explanations > 0, `images and explanations are kept: ${JSON.stringify(held)}`);

    const panelTab = vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.label === 'ConvLens: shapes.onnx');
    assert.ok(panelTab, 'the model panel is a tab');
    // Its last view closed, the model is no longer current: the side view lets go of it too.
    await vscode.window.tabGroups.close(panelTab);
    await waitFor('the panel to close', () => !api.views().includes(panel()));
    const released = await waitFor('the model to be released in the worker', async () => {
      const status = await api.worker();
      return status && status.models.length === 0 ? status : undefined;
    });
    assert.deepStrictEqual({ ...released, pid: undefined }, { pid: undefined, models: [], images: 0, explanations: 0, datasets: 0 });
    await waitFor('the idle worker to stop', async () => (await api.worker()) === undefined, 30_000);
    await waitFor(`worker process ${held.pid} to exit`, () => !processAlive(held.pid!), 10_000);

    await explain(await openPanelWithImage());
    const fresh = await api.worker();
    assert.ok(fresh?.pid && fresh.pid !== held.pid, 'a new worker process serves the new panel');
    assert.deepStrictEqual(fresh.models, [modelPath()]);
  });

  it('recovers from a worker killed between jobs (as by the out-of-memory killer): the model reopens and explains again', async () => {
    await openPanelWithImage();
    const before = await api.worker();
    assert.ok(before?.pid, 'the worker runs');
    const since = api.posted().length;
    process.kill(before.pid, 'SIGKILL');
    await nextMessage(api, panel(), 'model', since);
    const { images, selected } = await nextMessage(api, panel(), 'images', since);
    await explain(selected ?? images[0].id);
    const after = await api.worker();
    assert.ok(after?.pid && after.pid !== before.pid, 'a fresh worker');
    assert.deepStrictEqual(after.models, [modelPath()]);
  });

  it('refuses feature maps over the activation memory setting, naming it, and shows them once raised', async () => {
    const imageId = await openPanelWithImage();
    const reopened = api.posted().length;
    // The first layer's output is 16×64×64 float32 (256 KiB); the limit is set below it.
    await vscode.workspace.getConfiguration('convlens').update('maxActivationMemoryMB', 0.2, vscode.ConfigurationTarget.Global);
    const { images, selected } = await nextMessage(api, panel(), 'images', reopened);
    const reloaded = selected ?? images[0].id;
    assert.ok(reloaded, `the image is loaded again after the reopen (was ${imageId})`);
    const since = api.posted().length;
    await api.sendFromWebview(panel(), {
      type: 'request',
      requestId: 'over-limit',
      kind: 'activations',
      params: { imageId: reloaded, layer: '/relu1/Relu', target: { kind: 'top' } },
    });
    const error = await nextMessage(api, panel(), 'error', since);
    assert.match(error.message, /over the limit of 205 KiB; raise it with the setting convlens\.maxActivationMemoryMB/);

    const raised = api.posted().length;
    await vscode.workspace.getConfiguration('convlens').update('maxActivationMemoryMB', undefined, vscode.ConfigurationTarget.Global);
    const again = await nextMessage(api, panel(), 'images', raised);
    const after = api.posted().length;
    await api.sendFromWebview(panel(), {
      type: 'request',
      requestId: 'within-limit',
      kind: 'activations',
      params: { imageId: again.selected ?? again.images[0].id, layer: '/relu1/Relu', target: { kind: 'top' } },
    });
    const { result: activations } = await nextResponse(api, panel(), 'activations', after).catch((err: Error) => {
      throw new Error(postedError(api, panel(), after) ?? err.message);
    });
    assert.deepStrictEqual(activations.shape, [1, 16, 64, 64]);
  });
});
