// "Explain all" in a real extension host: the panel offers the workspace's image folders, a run on
// sample/images (the workspace's four shape images) gives one card per image, shown in the webview;
// a card opens its image in the panel, explained with the run's settings; a folder outside the
// workspace is refused.
import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import type { ConvLensTestApi } from '../../../src/extension/test-hooks';
import { GALLERY_PAGE } from '../../../src/protocol';
import { WORKSPACE_FILES } from '../workspace';
import { bridge, closeAllEditors, convlens, nextMessage, nextResponse, panelId, postedError, waitFor, workspaceFile } from './helpers';

const FOLDER = path.dirname(WORKSPACE_FILES.images[0]);
const NAMES = WORKSPACE_FILES.images.map((f) => path.basename(f)).sort();

describe('explain all', () => {
  let api: ConvLensTestApi;
  const panel = () => panelId('panel', WORKSPACE_FILES.model);
  const where = { view: 'panel', title: 'shapes.onnx' } as const;
  let folder: string;

  before(async () => {
    api = await convlens();
    folder = workspaceFile(FOLDER).fsPath;
  });
  after(closeAllEditors);

  it('offers the folder of the workspace images and explains each of its images, one card per image', async () => {
    const since = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(WORKSPACE_FILES.model));
    const { folders } = await nextMessage(api, panel(), 'galleryFolders', since, (m) => m.folders.some((f) => f.path === folder), 60_000);
    assert.strictEqual(folders.find((f) => f.path === folder)?.images, NAMES.length);
    await nextMessage(api, panel(), 'model', since);

    const runSince = api.posted().length;
    if (bridge) {
      const tab = await bridge.ask({ action: 'webviewClick', ...where, selector: 'vscode-tab-header[data-tab="explain-all"]' });
      assert.ok(tab.ok, tab.error);
      const chosen = await bridge.ask({ action: 'webviewSelect', ...where, selector: '#explain-all-folder', option: FOLDER });
      assert.strictEqual(chosen.text, folder, chosen.error);
      const method = await bridge.ask({ action: 'webviewSelect', ...where, selector: '#explain-all-method', option: 'Grad-CAM' });
      assert.strictEqual(method.text, 'gradcam', method.error);
      const run = await bridge.ask({ action: 'webviewClick', ...where, selector: '#explain-all-run' });
      assert.ok(run.ok, run.error);
    } else {
      await api.sendFromWebview(panel(), {
        type: 'request',
        requestId: 'e2e-explain-all',
        kind: 'explainAll',
        params: { folder, method: 'gradcam', layer: 'auto', target: { kind: 'top' }, offset: 0, limit: GALLERY_PAGE },
      });
    }
    const { result: page } = await nextResponse(api, panel(), 'explainAll', runSince, undefined, 60_000).catch((err: Error) => {
      throw new Error(postedError(api, panel(), runSince) ?? err.message);
    });
    assert.deepStrictEqual([page.total, page.offset, page.method], [NAMES.length, 0, 'gradcam']);
    assert.deepStrictEqual(
      page.cards.map((c) => c.relPath),
      NAMES,
    );
    for (const card of page.cards) {
      assert.strictEqual(card.error, undefined, card.relPath);
      assert.ok(card.image.startsWith('data:image/png;base64,') && card.map && card.map.values.length === card.map.width * card.map.height);
      // The workspace's images are each the first test image of their class: the sample model knows them.
      assert.strictEqual(card.prediction?.label, card.relPath.replace('.png', ''));
    }
    if (bridge) {
      const text = await waitFor(
        'the cards in the webview',
        async () => {
          const shown = (await bridge!.ask({ action: 'webviewText', ...where })).text ?? '';
          return shown.includes(`${NAMES.length} of ${NAMES.length} images shown`) && NAMES.every((n) => shown.includes(n)) ? shown : undefined;
        },
        20_000,
      );
      assert.ok(text.includes(`${NAMES.length} images explained in`), 'the run says it is done');
      await bridge.ask({ action: 'screenshot', name: 'explain-all-panel' });
    }
  });

  it("a card opens its image in the panel, explained with the run's settings", async () => {
    const since = api.posted().length;
    if (bridge) {
      const clicked = await bridge.ask({ action: 'webviewClick', ...where, selector: '.explain-all-card[data-rel-path="star.png"]' });
      assert.ok(clicked.ok, clicked.error);
    } else {
      await api.sendFromWebview(panel(), { type: 'galleryOpenImage', folder, relPath: 'star.png', method: 'gradcam', layer: 'auto', target: { kind: 'top' } });
    }
    const { images, selected } = await nextMessage(api, panel(), 'images', since, (m) => m.images.some((i) => i.id === m.selected && i.name === 'star.png'));
    const star = images.find((i) => i.id === selected)!;
    const { result: explanation } = await nextResponse(api, panel(), 'explain', since, (m) => m.result.imageId === star.id, 60_000).catch((err: Error) => {
      throw new Error(postedError(api, panel(), since) ?? err.message);
    });
    assert.deepStrictEqual([explanation.method, explanation.targetLabel], ['gradcam', 'star']);
  });

  it('refuses a folder outside the workspace, and an image outside the folder', async () => {
    const outside = path.join(vscode.extensions.getExtension('convlens.convlens')!.extensionPath, 'sample', 'images');
    const since = api.posted().length;
    await api.sendFromWebview(panel(), {
      type: 'request',
      requestId: 'e2e-explain-all-outside',
      kind: 'explainAll',
      params: { folder: outside, method: 'gradcam', layer: 'auto', target: { kind: 'top' }, offset: 0, limit: 4 },
    });
    const refused = await nextMessage(api, panel(), 'error', since, (m) => m.requestId === 'e2e-explain-all-outside');
    assert.strictEqual(refused.message, 'Choose a folder of the workspace from the list, or one with "Choose folder…".');
    const openSince = api.posted().length;
    await api.sendFromWebview(panel(), { type: 'galleryOpenImage', folder, relPath: 'missing.png', method: 'gradcam', layer: 'auto', target: { kind: 'top' } });
    const notImage = await nextMessage(api, panel(), 'error', openSince);
    assert.strictEqual(notImage.message, 'missing.png is not an image of a folder offered to "Explain all".');
    assert.ok(
      !api
        .posted()
        .slice(since)
        .some((p) => p.view === panel() && (p.message.type === 'images' || (p.message.type === 'response' && p.message.kind === 'explainAll'))),
      'nothing outside was read',
    );
  });
});
