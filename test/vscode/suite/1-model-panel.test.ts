// Opening the sample model as a person would (explorer context menu), its overview, images and
// predictions, Grad-CAM on a sample image read back from the webview, and the status bar.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { ConvLensTestApi } from '../../../src/extension/test-hooks';
import { WORKSPACE_FILES } from '../workspace';
import { bridge, chooseInExplorerMenu, closeAllEditors, convlens, nextMessage, nextResponse, panelId, postedError, runGradCam, waitFor, workspaceFile } from './helpers';

describe('model panel', () => {
  let api: ConvLensTestApi;
  const panel = () => panelId('panel', WORKSPACE_FILES.model);
  let opened = 0;

  before(async () => {
    api = await convlens();
  });
  after(closeAllEditors);

  it('offers "ConvLens: Explain Model" in the explorer context menu of .onnx files, "ConvLens: Explain Image" on images', async function () {
    if (!bridge) return this.skip();
    await vscode.commands.executeCommand('revealInExplorer', workspaceFile(WORKSPACE_FILES.model));
    const onModel = await bridge.ask({ action: 'explorerContextMenuEntries', item: 'shapes.onnx' });
    assert.ok(onModel.entries?.includes('ConvLens: Explain Model'), `menu of shapes.onnx: ${onModel.entries?.join(' | ') ?? onModel.error}`);
    await vscode.commands.executeCommand('revealInExplorer', workspaceFile(WORKSPACE_FILES.train));
    const onPython = await bridge.ask({ action: 'explorerContextMenuEntries', item: 'train.py' });
    assert.ok(onPython.ok && !onPython.entries?.includes('ConvLens: Explain Model'), `menu of train.py: ${onPython.entries?.join(' | ') ?? onPython.error}`);
    await vscode.commands.executeCommand('revealInExplorer', workspaceFile(WORKSPACE_FILES.images[0]));
    const onImage = await bridge.ask({ action: 'explorerContextMenuEntries', item: 'circle.png' });
    assert.ok(
      onImage.entries?.includes('ConvLens: Explain Image with Current Model') && !onImage.entries.includes('ConvLens: Explain Model'),
      `menu of circle.png: ${onImage.entries?.join(' | ') ?? onImage.error}`,
    );
  });

  it('opens the sample model from the explorer and shows its overview, images and prediction', async () => {
    opened = api.posted().length;
    await chooseInExplorerMenu(WORKSPACE_FILES.model, 'ConvLens: Explain Model', 'convlens.explainModel');
    const { model, methods } = await nextMessage(api, panel(), 'model', opened, undefined, 120_000);
    assert.strictEqual(model.name, 'shapes.onnx');
    assert.deepStrictEqual(
      model.inputs.map((i) => [i.name, i.shape.slice(1)]),
      [['input', [3, 64, 64]]],
    );
    assert.ok(
      methods.some((m) => m.name === 'gradcam' && m.title === 'Grad-CAM'),
      'Grad-CAM is offered',
    );
    const conv = model.layers.find((l) => l.name === '/block4/conv/Conv');
    assert.ok(conv?.hasSource, 'the last convolution is linked to sample/train.py');

    const { images } = await nextMessage(api, panel(), 'images', opened, undefined, 120_000);
    const names = images.map((i) => i.name);
    for (const file of WORKSPACE_FILES.images) assert.ok(names.includes(file.split('/').pop()!), `${file} is offered (got ${names.join(', ')})`);
    assert.ok(
      images.every((i) => i.dataUrl.startsWith('data:image/png;base64,')),
      'images come as PNG data URLs',
    );

    const prediction = await nextMessage(api, panel(), 'prediction', opened, undefined, 120_000).catch((err: Error) => {
      throw new Error(postedError(api, panel(), opened) ?? err.message);
    });
    assert.ok(images.some((i) => i.id === prediction.imageId));
    const labels = prediction.top.map((p) => p.label).sort();
    assert.deepStrictEqual(labels, ['circle', 'square', 'star', 'triangle']);
    const total = prediction.top.reduce((sum, p) => sum + p.probability, 0);
    assert.ok(Math.abs(total - 1) < 1e-3, `probabilities of all 4 classes sum to 1 (got ${total})`);
  });

  it('runs Grad-CAM on the selected sample image and shows the map in the panel', async () => {
    const { images, selected } = await nextMessage(api, panel(), 'images', opened);
    const imageId = selected ?? images[0].id;
    const explanation = await runGradCam(api, panel(), 'shapes.onnx', imageId);
    assert.strictEqual(explanation.method, 'gradcam');
    assert.strictEqual(explanation.imageId, imageId);
    assert.deepStrictEqual([explanation.map.width, explanation.map.height, explanation.map.values.length], [64, 64, 64 * 64]);
    assert.ok(
      explanation.map.values.every((v) => v >= 0 && v <= 1),
      'Grad-CAM values lie in [0, 1]',
    );
    assert.ok(Math.max(...explanation.map.values) > 0.5, 'the map is not blank');
    if (bridge) {
      const text = await waitFor(
        'the explanation caption in the webview',
        async () => {
          const shown = (await bridge!.ask({ action: 'webviewText', view: 'panel', title: 'shapes.onnx' })).text ?? '';
          return shown.includes(`Grad-CAM for ${explanation.targetLabel}`) ? shown : undefined;
        },
        20_000,
      );
      assert.ok(text.includes(images.find((i) => i.id === imageId)!.name), 'the caption names the image');
      await bridge.ask({ action: 'screenshot', name: 'gradcam-panel' });
    }
  });

  it('compares methods with their faithfulness scores (deletion and insertion AUC in [0, 1])', async () => {
    const { images, selected } = await nextMessage(api, panel(), 'images', opened);
    const since = api.posted().length;
    const methods = ['gradcam', 'saliency'];
    await api.sendFromWebview(panel(), {
      type: 'request',
      requestId: `e2e-compare-${since}`,
      kind: 'compare',
      params: { imageId: selected ?? images[0].id, methods, layer: 'auto', target: { kind: 'top' } },
    });
    const { result: explanations } = await nextResponse(api, panel(), 'compare', since, (m) => m.requestId === `e2e-compare-${since}`, 120_000).catch((err: Error) => {
      throw new Error(postedError(api, panel(), since) ?? err.message);
    });
    assert.deepStrictEqual(
      explanations.map((e) => e.method),
      methods,
    );
    for (const e of explanations) {
      const f = e.faithfulness;
      assert.ok(f && [f.deletionAuc, f.insertionAuc].every((v) => v >= 0 && v <= 1), `${e.method} has faithfulness scores in [0, 1] (got ${JSON.stringify(f)})`);
    }
  });

  it('shows the model and its execution provider in the status bar', async function () {
    if (!bridge) return this.skip();
    const text = await waitFor(
      'the ConvLens status bar item',
      async () => {
        const bar = (await bridge!.ask({ action: 'workbenchText', selector: '#workbench\\.parts\\.statusbar' })).text ?? '';
        return /shapes\.onnx · (CPU|CUDA)/.test(bar) ? bar : undefined;
      },
      20_000,
    );
    assert.match(text, /shapes\.onnx · (CPU|CUDA)/);
    assert.doesNotMatch(api.shown().statusBar?.accessibleName ?? '$(', /\$\(/, 'screen readers get words, not codicon syntax');
  });
});
