// Signals and videos in the model panel (issue #13): the 1-D sample (sample/signal1d.onnx) offers
// the workspace's .npy and WAV files of its input's shape; a .npy chosen in the explorer and a WAV
// dropped on the panel are explained by a gradient method and a CAM with maps as long as the
// signal; a picture dropped on it is refused in a sentence. The 3-D test model explains a .npy
// clip with a map of its T frames.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { ExplanationView, ImageView } from '../../../src/protocol';
import type { ConvLensTestApi } from '../../../src/extension/test-hooks';
import { WORKSPACE_FILES } from '../workspace';
import { chooseInExplorerMenu, closeAllEditors, convlens, nextMessage, nextResponse, panelId, postedError, runGradCam, workspaceFile } from './helpers';

describe('signals and videos in the model panel', () => {
  let api: ConvLensTestApi;
  const signalPanel = () => panelId('panel', WORKSPACE_FILES.signalModel);
  const videoPanel = () => panelId('panel', WORKSPACE_FILES.videoModel);

  before(async () => {
    api = await convlens();
    await closeAllEditors();
  });
  after(closeAllEditors);

  async function explain(view: string, imageId: string, method: string): Promise<ExplanationView> {
    const since = api.posted().length;
    const requestId = `signals-${method}-${since}`;
    await api.sendFromWebview(view, {
      type: 'request',
      requestId,
      kind: 'explain',
      params: { imageId, method, layer: 'auto', target: { kind: 'top' } },
    });
    // Its own response: "Explain Image with Current Model" on the open panel has the host explain the image too.
    const { result } = await nextResponse(api, view, 'explain', since, (m) => m.requestId === requestId, 120_000).catch((err: Error) => {
      throw new Error(postedError(api, view, since) ?? err.message);
    });
    return result;
  }

  function assertSignalMap(e: ExplanationView, what: string): void {
    assert.deepStrictEqual([e.map.shape, e.map.width, e.map.height, e.map.values.length], [[256], 256, 1, 256], `${what}: a map as long as the signal`);
    assert.ok(Math.max(...e.map.values.map(Math.abs)) > 0.5, `${what}: the map is not blank`);
  }

  it('opens the 1-D sample with the workspace signals of its shape, and explains a .npy chosen in the explorer with a gradient method and a CAM', async () => {
    const opened = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(WORKSPACE_FILES.signalModel));
    const { model } = await nextMessage(api, signalPanel(), 'model', opened, undefined, 120_000);
    assert.deepStrictEqual(model.inputs[0].shape, [1, 1, 256]);
    const { images } = await nextMessage(api, signalPanel(), 'images', opened, undefined, 120_000);
    assert.deepStrictEqual(images.map((i) => i.name).sort(), WORKSPACE_FILES.signalInputs.map((f) => path.basename(f)).sort(), 'the signals of its shape, and no clip of another');
    assert.ok(images.every((i) => i.signal?.length === 256 && i.signal.values.length === 256));

    // "Explain Image with Current Model" in the explorer's menu of a .npy selects it in the panel.
    const chosen = api.posted().length;
    await chooseInExplorerMenu('sample/signals/tone-0.npy', 'ConvLens: Explain Image with Current Model', 'convlens.explainImage');
    const listed = await nextMessage(api, signalPanel(), 'images', chosen, (m) => !!m.selected && m.images.find((i) => i.id === m.selected)?.name === 'tone-0.npy');
    const toneId = listed.selected!;
    const prediction = await nextMessage(api, signalPanel(), 'prediction', chosen, (m) => m.imageId === toneId, 120_000);
    assert.strictEqual(prediction.top[0].label, 'tone');

    const saliency = await explain(signalPanel(), toneId, 'saliency');
    assertSignalMap(saliency, 'saliency');
    const gradcam = await runGradCam(api, signalPanel(), 'signal1d.onnx', toneId);
    assert.strictEqual(gradcam.method, 'gradcam');
    assertSignalMap(gradcam, 'Grad-CAM');
  });

  it('takes a WAV dropped on the panel, and refuses a picture in one sentence', async () => {
    const since = api.posted().length;
    const wav = workspaceFile('sample/signals/chirp-1.wav').fsPath;
    await api.sendFromWebview(signalPanel(), { type: 'dropImages', files: [{ name: 'dropped-chirp.wav', base64: fs.readFileSync(wav).toString('base64') }] });
    const { images, selected } = await nextMessage(api, signalPanel(), 'images', since, (m) => m.images.some((i) => i.name === 'dropped-chirp.wav'));
    const dropped = images.find((i: ImageView) => i.name === 'dropped-chirp.wav')!;
    assert.strictEqual(selected, dropped.id);
    assert.deepStrictEqual([dropped.signal?.channels, dropped.signal?.length], [1, 256]);
    assertSignalMap(await explain(signalPanel(), dropped.id, 'integrated-gradients'), 'Integrated Gradients on the WAV');
    assertSignalMap(await explain(signalPanel(), dropped.id, 'gradcam'), 'Grad-CAM on the WAV');

    const refused = api.posted().length;
    const png = workspaceFile(WORKSPACE_FILES.images[0]).fsPath;
    await api.sendFromWebview(signalPanel(), { type: 'dropImages', files: [{ name: 'circle.png', base64: fs.readFileSync(png).toString('base64') }] });
    const error = await nextMessage(api, signalPanel(), 'error', refused);
    assert.strictEqual(error.message, 'circle.png is an image, but signal1d.onnx takes a signal [1, 1, 256]: choose a .npy tensor or a WAV file of that shape.');
  });

  it('opens the 3-D test model with its .npy clip and explains it with maps of its T frames', async () => {
    const opened = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(WORKSPACE_FILES.videoModel));
    const { images, selected } = await nextMessage(api, videoPanel(), 'images', opened, undefined, 120_000);
    assert.deepStrictEqual(
      images.map((i) => i.name),
      ['clip.npy'],
    );
    assert.strictEqual(images[0].frames?.length, 4);
    for (const method of ['gradcam', 'saliency']) {
      const e = await explain(videoPanel(), selected ?? images[0].id, method);
      assert.deepStrictEqual([e.map.shape, e.map.width, e.map.height, e.map.values.length], [[4, 8, 8], 8, 8, 256], `${method}: T × H × W`);
    }
  });
});
