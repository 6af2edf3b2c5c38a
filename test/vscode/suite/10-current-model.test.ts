// One current model, named everywhere: a model that fails to open never becomes it; the status bar
// (and its screen-reader name) and the side view's header name it; the side view's picker chooses
// it among the open models; and each model file has one view, which opening it again reveals.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { ConvLensTestApi } from '../../../src/extension/test-hooks';
import { WORKSPACE_FILES } from '../workspace';
import { closeAllEditors, convlens, nextMessage, nextResponse, panelId, postedError, waitFor, workspaceFile } from './helpers';

/** The ConvLens tabs (panel or overview editor) of a model file. */
function tabsOf(relative: string): vscode.Tab[] {
  const fsPath = workspaceFile(relative).fsPath;
  return vscode.window.tabGroups.all
    .flatMap((g) => g.tabs)
    .filter(
      (t) =>
        (t.input instanceof vscode.TabInputWebview && t.label === `ConvLens: ${fsPath.split('/').pop()}`) ||
        (t.input instanceof vscode.TabInputCustom && t.input.viewType === 'convlens.modelOverview' && t.input.uri.fsPath === fsPath),
    );
}

describe('one current model', () => {
  let api: ConvLensTestApi;
  const model = () => workspaceFile(WORKSPACE_FILES.model).fsPath;

  async function openPanel(relative: string): Promise<void> {
    const since = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(relative));
    // The first open of the run starts the worker, which takes long on a busy machine.
    await nextMessage(api, panelId('panel', relative), 'model', since, undefined, 120_000);
  }

  before(async () => {
    api = await convlens();
    await closeAllEditors();
    await vscode.commands.executeCommand('convlens.attributionView.focus');
  });
  afterEach(closeAllEditors);

  it('names the current model in the status bar, with a plain screen-reader name, and in the side view header', async () => {
    await openPanel(WORKSPACE_FILES.model);
    const shown = await waitFor('shapes.onnx named everywhere', () => {
      const s = api.shown();
      return s.activeModel === model() && s.sideViewDescription === 'shapes.onnx' && s.statusBar ? s : undefined;
    });
    assert.match(shown.statusBar!.text, /^\$\(chip\) shapes\.onnx · (CPU|CUDA)$/);
    assert.match(shown.statusBar!.accessibleName ?? '', /^ConvLens model shapes\.onnx runs on the (CPU|CUDA)\. Choose the execution provider\.$/);
  });

  it('never makes a model that fails to open the current one', async () => {
    await openPanel(WORKSPACE_FILES.model);
    await waitFor('shapes.onnx current', () => api.shown().activeModel === model() || undefined);
    const since = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(WORKSPACE_FILES.corruptModel));
    await nextMessage(api, panelId('panel', WORKSPACE_FILES.corruptModel), 'error', since);
    // Give a wrongly fired change time to arrive before reading what is shown.
    await new Promise((r) => setTimeout(r, 500));
    const shown = api.shown();
    assert.strictEqual(shown.activeModel, model());
    assert.match(shown.statusBar?.text ?? '', /shapes\.onnx/);
    assert.strictEqual(shown.sideViewDescription, 'shapes.onnx');
  });

  it('chooses the current model among the open ones from the side view', async () => {
    await openPanel(WORKSPACE_FILES.model);
    await openPanel(WORKSPACE_FILES.secondModel);
    await waitFor('the second model current', () => api.shown().sideViewDescription === 'shapes-shortcut.onnx' || undefined);
    const sideSince = api.posted().length;
    // The picker lists the open models in the order they opened: the first is shapes.onnx.
    const picking = vscode.commands.executeCommand('convlens.chooseModel');
    await new Promise((r) => setTimeout(r, 1000));
    await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    await picking;
    const shown = await waitFor('shapes.onnx current again', () => (api.shown().sideViewDescription === 'shapes.onnx' ? api.shown() : undefined));
    assert.strictEqual(shown.activeModel, model());
    const { model: sideModel } = await nextMessage(api, 'side', 'model', sideSince);
    assert.strictEqual(sideModel.name, 'shapes.onnx', 'the side view explains with the chosen model');
  });

  it('reveals the open panel when the .onnx is opened, instead of a second copy', async () => {
    await openPanel(WORKSPACE_FILES.model);
    await vscode.commands.executeCommand('vscode.open', workspaceFile(WORKSPACE_FILES.model));
    await waitFor('one view of shapes.onnx', () => (tabsOf(WORKSPACE_FILES.model).length === 1 ? true : undefined), 20_000);
    assert.deepStrictEqual(
      api.views().filter((v) => v.endsWith(model())),
      [panelId('panel', WORKSPACE_FILES.model)],
    );
    assert.ok(tabsOf(WORKSPACE_FILES.model)[0].isActive, 'the panel is in front');
  });

  it('reveals the open overview editor on "Explain Model", instead of a second copy', async () => {
    const since = api.posted().length;
    await vscode.commands.executeCommand('vscode.open', workspaceFile(WORKSPACE_FILES.model));
    await nextMessage(api, panelId('editor', WORKSPACE_FILES.model), 'model', since);
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(WORKSPACE_FILES.model));
    assert.deepStrictEqual(
      api.views().filter((v) => v.endsWith(model())),
      [panelId('editor', WORKSPACE_FILES.model)],
    );
    assert.strictEqual(tabsOf(WORKSPACE_FILES.model).length, 1);
  });
});

describe('copy as code', () => {
  let api: ConvLensTestApi;
  const panel = () => panelId('panel', WORKSPACE_FILES.model);

  before(async () => {
    api = await convlens();
    await closeAllEditors();
  });
  after(closeAllEditors);

  it('copies an explanation as the convlens command that computes it again, and as a pytorch-grad-cam snippet', async () => {
    const since = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(WORKSPACE_FILES.model));
    const { images, selected } = await nextMessage(api, panel(), 'images', since);
    const imageId = selected ?? images[0].id;
    await api.sendFromWebview(panel(), {
      type: 'request',
      requestId: 'copy-1',
      kind: 'explain',
      params: { imageId, method: 'gradcam', layer: '/block4/conv/Conv', target: { kind: 'class', index: 2 } },
    });
    const { result } = await nextResponse(api, panel(), 'explain', since, (m) => m.requestId === 'copy-1').catch((err: Error) => {
      throw new Error(postedError(api, panel(), since) ?? err.message);
    });
    const image = images.find((i) => i.id === imageId)!.name;
    await api.sendFromWebview(panel(), { type: 'copyReproduction', explanationId: result.id, form: 'command' });
    const command = await vscode.env.clipboard.readText();
    const imagePath = workspaceFile(`sample/images/${image}`).fsPath;
    assert.strictEqual(
      command,
      `convlens explain ${workspaceFile(WORKSPACE_FILES.model).fsPath} ${imagePath} --method gradcam --layer ${result.layer} --target 2 --out ${image.replace(/\.png$/, '')}.gradcam.png`,
    );
    await api.sendFromWebview(panel(), { type: 'copyReproduction', explanationId: result.id, form: 'python' });
    const snippet = await vscode.env.clipboard.readText();
    assert.ok(snippet.includes('target_layers = [model.block4.conv]') && snippet.includes('targets=[ClassifierOutputTarget(2)]'), snippet);
  });
});
