// The Dataset tab on 10,000 images in a real extension host (remote from the browser under
// code-server): a dataset of small PNGs is generated into the workspace, its features extracted,
// its map requested and a point picked on it explained; everything the host posts to the webview
// on the way is counted and must stay under BYTE_BOUND: points travel as typed arrays and images
// as one page of display-sized thumbnails, never the dataset's files or tensors.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import Mocha from 'mocha';
import { PNG } from 'pngjs';
import type { ConvLensTestApi } from '../../../src/extension/test-hooks';
import { WORKSPACE_FILES } from '../workspace';
import { closeAllEditors, convlens, nextMessage, nextResponse, panelId, postedError, runGradCam, workspaceFile } from './helpers';

const FOLDER = 'dataset-10k';
const CLASSES = ['circle', 'square', 'star', 'triangle'];
const IMAGES = 10_000;
const SIDE = 32;
/**
 * What the webview may receive for the whole session below: 3 MB, 300 bytes an image. That holds
 * the summary (an image's name, label, prediction and confidence: about 105 bytes), the map (13
 * bytes a point, base64), a page of 24 thumbnails, the panel's own images and one explanation.
 * The dataset's files alone are about 10 times that, its 64×64 float input tensors 490 MB.
 */
const BYTE_BOUND = 3_000_000;

/** A 32 × 32 PNG of seeded noise over a class tint, so images differ and predictions vary. */
function noisePng(seed: number, tint: number): Buffer {
  const png = new PNG({ width: SIDE, height: SIDE });
  let s = seed + 1;
  for (let i = 0; i < SIDE * SIDE; i++) {
    for (let c = 0; c < 3; c++) {
      s = (s * 16807) % 2147483647;
      png.data[4 * i + c] = (c === tint % 3 ? 96 : 0) + (s % 160);
    }
    png.data[4 * i + 3] = 255;
  }
  return PNG.sync.write(png);
}

describe('dataset at scale: 10,000 images', () => {
  let api: ConvLensTestApi;
  const panel = () => panelId('panel', WORKSPACE_FILES.model);
  let folder: string;

  before(function () {
    this.timeout(300_000);
    folder = workspaceFile(FOLDER).fsPath;
    for (const [k, name] of CLASSES.entries()) {
      fs.mkdirSync(path.join(folder, name), { recursive: true });
      for (let i = 0; i < IMAGES / CLASSES.length; i++) fs.writeFileSync(path.join(folder, name, `${i}.png`), noisePng(k * IMAGES + i, k));
    }
  });
  after(async () => {
    await closeAllEditors();
    fs.rmSync(folder, { recursive: true, force: true });
  });

  it(`sends the webview under ${BYTE_BOUND / 1e6} MB for the dataset, its map and a slice, and explains a point picked on the map`, async function () {
    this.timeout(600_000);
    api = await convlens();
    const since = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(WORKSPACE_FILES.model));
    const { folders } = await nextMessage(api, panel(), 'datasetFolders', since, (m) => m.folders.some((f) => f.path === folder), 120_000);
    assert.strictEqual(folders.find((f) => f.path === folder)?.images, IMAGES);
    const { model } = await nextMessage(api, panel(), 'model', since);
    const fail = (err: Error) => {
      throw new Error(postedError(api, panel(), since) ?? err.message);
    };

    await api.sendFromWebview(panel(), { type: 'request', requestId: 'e2e-10k-features', kind: 'datasetFeatures', params: { folder, layer: model.defaultCamLayer } });
    const { result: dataset } = await nextResponse(api, panel(), 'datasetFeatures', since, undefined, 480_000).catch(fail);
    assert.strictEqual(dataset.images.length, IMAGES);
    assert.ok(
      dataset.images.every((im) => im.thumbnail === undefined),
      'no thumbnail per image for a dataset this large',
    );

    await api.sendFromWebview(panel(), { type: 'request', requestId: 'e2e-10k-map', kind: 'datasetMap', params: { method: 'pca' } });
    const { result: map } = await nextResponse(api, panel(), 'datasetMap', since, undefined, 120_000).catch(fail);
    assert.strictEqual(map.count, IMAGES);
    await api.sendFromWebview(panel(), {
      type: 'request',
      requestId: 'e2e-10k-slice',
      kind: 'datasetSlice',
      params: { filter: { correctness: 'wrong' }, offset: 0, pageSize: 24 },
    });
    const { result: slice } = await nextResponse(api, panel(), 'datasetSlice', since, undefined, 60_000).catch(fail);
    assert.strictEqual(slice.images.length, Math.min(24, slice.total));

    // Pick the point nearest the map's centre, as a click on it would, and explain it.
    const bytes = Buffer.from(map.xy, 'base64');
    const xy = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    let [mx, my] = [0, 0];
    for (let i = 0; i < IMAGES; i++) [mx, my] = [mx + xy[2 * i] / IMAGES, my + xy[2 * i + 1] / IMAGES];
    let picked = 0;
    for (let i = 1; i < IMAGES; i++) if (Math.hypot(xy[2 * i] - mx, xy[2 * i + 1] - my) < Math.hypot(xy[2 * picked] - mx, xy[2 * picked + 1] - my)) picked = i;
    const relPath = dataset.images[picked].relPath;
    await api.sendFromWebview(panel(), { type: 'datasetOpenImage', relPath });
    const name = path.basename(relPath);
    const { images, selected } = await nextMessage(api, panel(), 'images', since, (m) => m.images.some((i) => i.id === m.selected && i.name === name), 60_000);
    const explanation = await runGradCam(api, panel(), 'shapes.onnx', selected ?? images[0].id);
    assert.strictEqual(explanation.method, 'gradcam');
    assert.ok(explanation.map.values.length > 0 && explanation.map.values.some((v) => v > 0));

    const sent = api
      .posted()
      .slice(since)
      .filter((p) => p.view === panel());
    const total = sent.reduce((a, p) => a + JSON.stringify(p.message).length, 0);
    const byType = new Map<string, number>();
    for (const p of sent) {
      const type = p.message.type === 'response' ? p.message.kind : p.message.type;
      byType.set(type, (byType.get(type) ?? 0) + JSON.stringify(p.message).length);
    }
    const breakdown = [...byType]
      .sort((a, b) => b[1] - a[1])
      .map(([type, bytes]) => `${type} ${(bytes / 1e3).toFixed(0)} kB`)
      .join(', ');
    // The suite's log is written through mocha's reporter.
    Mocha.reporters.Base.consoleLog(`      ${sent.length} messages, ${(total / 1e6).toFixed(2)} MB to the webview (bound ${BYTE_BOUND / 1e6} MB): ${breakdown}`);
    assert.ok(total < BYTE_BOUND, `${total} bytes posted to the webview: ${breakdown}`);
  });
});
