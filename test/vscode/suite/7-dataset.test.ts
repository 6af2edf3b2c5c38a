// The Dataset and Inside tabs in a real extension host: the sample dataset is copied into the
// workspace, the panel offers it, its features are extracted (and cached in the extension's
// workspace storage), the distilled rules are read back from the webview, and a dataset image opens
// in the panel; the Inside tab's requests reach the worker and come back.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { ConvLensTestApi } from '../../../src/extension/test-hooks';
import { WORKSPACE_FILES } from '../workspace';
import { bridge, closeAllEditors, convlens, nextMessage, nextResponse, panelId, postedError, waitFor, workspaceFile } from './helpers';

const DATASET = 'sample/dataset';

describe('dataset and inside tabs', () => {
  let api: ConvLensTestApi;
  const panel = () => panelId('panel', WORKSPACE_FILES.model);
  const where = { view: 'panel', title: 'shapes.onnx' } as const;
  let folder: string;

  before(async () => {
    api = await convlens();
    const extension = vscode.extensions.getExtension('convlens.convlens')!;
    folder = workspaceFile(DATASET).fsPath;
    fs.cpSync(path.join(extension.extensionPath, DATASET), folder, { recursive: true });
  });
  after(closeAllEditors);

  /** Sends a request the way the webview would (clicking in it when the browser bridge is there). */
  async function run(selector: string, message: Record<string, unknown>): Promise<void> {
    if (bridge) {
      const clicked = await bridge.ask({ action: 'webviewClick', ...where, selector });
      assert.ok(clicked.ok, clicked.error);
    } else {
      await api.sendFromWebview(panel(), message);
    }
  }

  it("offers the workspace's dataset folder, extracts its features and shows the distilled rules", async () => {
    const since = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(WORKSPACE_FILES.model));
    const { folders } = await nextMessage(api, panel(), 'datasetFolders', since, (m) => m.folders.some((f) => f.path === folder), 60_000);
    assert.strictEqual(folders.find((f) => f.path === folder)?.images, 160);
    const { model } = await nextMessage(api, panel(), 'model', since);

    if (bridge) {
      const tab = await bridge.ask({ action: 'webviewClick', ...where, selector: 'vscode-tab-header[data-tab="dataset"]' });
      assert.ok(tab.ok, tab.error);
      const chosen = await bridge.ask({ action: 'webviewSelect', ...where, selector: '#dataset-folder', option: DATASET });
      assert.strictEqual(chosen.text, folder, chosen.error);
    }
    await run('#dataset-run', { type: 'request', requestId: 'e2e-features', kind: 'datasetFeatures', params: { folder, layer: model.defaultCamLayer } });
    const { result: dataset } = await nextResponse(api, panel(), 'datasetFeatures', since, undefined, 60_000).catch((err: Error) => {
      throw new Error(postedError(api, panel(), since) ?? err.message);
    });
    assert.deepStrictEqual([dataset.images.length, dataset.classNames], [160, ['circle', 'square', 'star', 'triangle']]);
    assert.strictEqual(dataset.layer, model.defaultCamLayer);
    assert.ok(dataset.accuracy! > 0.5, `accuracy ${dataset.accuracy}`);
    assert.ok(dataset.cache.stored, "the features are cached in the extension's storage");

    const rulesSince = api.posted().length;
    await run('#rules-run', { type: 'request', requestId: 'e2e-rules', kind: 'datasetRules', params: { depth: 3, minLeaf: 5, pooling: 'mean' } });
    const { result: rules } = await nextResponse(api, panel(), 'datasetRules', rulesSince, undefined, 60_000).catch((err: Error) => {
      throw new Error(postedError(api, panel(), rulesSince) ?? err.message);
    });
    assert.ok(rules.rules.length >= 2 && rules.fidelity.test > 0.5, `fidelity ${rules.fidelity.test}`);
    assert.strictEqual(rules.pooling, 'mean');
    assert.ok(rules.channels.every((c) => c.patches.length === 6 && c.patches.every((p) => p.crop.startsWith('data:image/png;base64,'))));
    if (bridge) {
      const text = await waitFor(
        'the rules in the webview',
        async () => {
          const shown = (await bridge!.ask({ action: 'webviewText', ...where })).text ?? '';
          return rules.rules.every((r) => shown.includes(r.text)) ? shown : undefined;
        },
        20_000,
      );
      assert.ok(text.includes(`${(100 * rules.fidelity.test).toFixed(1)}% of ${rules.testImages} images`), 'the held-out fidelity is shown');
      await bridge.ask({ action: 'screenshot', name: 'dataset-panel' });
    }
  });

  it('reads the features from the cache the second time, and opens a dataset image in the panel', async () => {
    const since = api.posted().length;
    const { model } = await nextMessage(api, panel(), 'model', 0);
    await api.sendFromWebview(panel(), { type: 'request', requestId: 'e2e-cached', kind: 'datasetFeatures', params: { folder, layer: model.defaultCamLayer } });
    const { result: dataset } = await nextResponse(api, panel(), 'datasetFeatures', since, (m) => m.requestId === 'e2e-cached', 60_000);
    assert.deepStrictEqual([dataset.cache.cached, dataset.cache.computed], [160, 0]);

    await api.sendFromWebview(panel(), { type: 'datasetOpenImage', relPath: 'test/star/3.png' });
    const { images, selected } = await nextMessage(api, panel(), 'images', since, (m) => m.images.some((i) => i.name === '3.png'));
    assert.strictEqual(images.find((i) => i.id === selected)?.name, '3.png');
    const outside = api.posted().length;
    await api.sendFromWebview(panel(), { type: 'datasetOpenImage', relPath: '../shapes.onnx' });
    await api.sendFromWebview(panel(), { type: 'datasetOpenImage', relPath: 'boxes.json' });
    const refused = await nextMessage(api, panel(), 'error', outside);
    assert.strictEqual(refused.message, 'boxes.json is not an image of the dataset folder.');
    assert.ok(
      !api
        .posted()
        .slice(outside)
        .some((p) => p.view === panel() && p.message.type === 'images'),
      'nothing outside the dataset was loaded',
    );

    // sample/dataset's boxes.json holds object boxes, no marks: it is not offered, so the mark check may not read it.
    assert.strictEqual(dataset.marks, undefined);
    const marksSince = api.posted().length;
    await api.sendFromWebview(panel(), {
      type: 'request',
      requestId: 'e2e-marks',
      kind: 'datasetMarkCheck',
      params: { marksFile: path.join(folder, 'boxes.json'), pooling: 'max' },
    });
    const notOffered = await nextMessage(api, panel(), 'error', marksSince);
    assert.deepStrictEqual([notOffered.requestId, notOffered.message], ['e2e-marks', 'Choose the marks file with "Choose marks file…".']);
  });

  it('answers the Inside tab: receptive fields, kernels, and that the sample CNN has no self-attention', async () => {
    const since = api.posted().length;
    // The panel's latest image list: an earlier one may name images a reopened model no longer holds.
    const posted = api.posted();
    let lastImages = 0;
    posted.forEach((p, i) => {
      if (p.view === panel() && p.message.type === 'images') lastImages = i;
    });
    const { images, selected } = await nextMessage(api, panel(), 'images', lastImages);
    await api.sendFromWebview(panel(), { type: 'request', requestId: 'e2e-fields', kind: 'receptiveFields', params: {} });
    await api.sendFromWebview(panel(), { type: 'request', requestId: 'e2e-kernels', kind: 'kernels', params: {} });
    await api.sendFromWebview(panel(), { type: 'request', requestId: 'e2e-attention', kind: 'attention', params: { imageId: selected ?? images[0].id } });
    const { result: fields } = await nextResponse(api, panel(), 'receptiveFields', since);
    assert.deepStrictEqual(fields.fields.find((f) => f.tensor === '/block4/relu/Relu_output_0')?.size, [38, 38]);
    const { result: kernels } = await nextResponse(api, panel(), 'kernels', since);
    assert.deepStrictEqual([kernels.count, kernels.rgb], [16, true]);
    const { result: attention } = await nextResponse(api, panel(), 'attention', since).catch((err: Error) => {
      throw new Error(postedError(api, panel(), since) ?? err.message);
    });
    assert.deepStrictEqual(attention.layers, []);
    assert.match(attention.message ?? '', /no self-attention/);
    // The webview offers no Attention section for a model without self-attention: the Chromium
    // test of issue #16's bug 7 (test/webview/ux.test.ts) holds that.
  });
});
