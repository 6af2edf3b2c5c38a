// Issue #16's first-minute races where the host starts the explanation itself, in a real extension
// host: "Grad-CAM for this layer" and "Activations" lenses on a model whose panel is not open yet
// (the panel opens and the host's request, announced before the first image list, is the only
// explanation: the panel's own first run yields to it, and no "Choose an image first"); a lens
// on a panel already open (announced before its result, no second run from the view); and "Explain
// Image with Current Model" on a panel already open (the host explains the image there).
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { HostToWebview } from '../../../src/protocol';
import type { ConvLensTestApi } from '../../../src/extension/test-hooks';
import { WORKSPACE_FILES } from '../workspace';
import { bridge, closeAllEditors, convlens, nextMessage, nextResponse, panelId, postedError, waitFor, workspaceFile } from './helpers';

describe('host-started explanations in the first minute', () => {
  let api: ConvLensTestApi;
  const panel = () => panelId('panel', WORKSPACE_FILES.model);
  const modelPath = () => workspaceFile(WORKSPACE_FILES.model).fsPath;

  /** What the host posted to the panel since message `since`. */
  const postedSince = (since: number): HostToWebview[] =>
    api
      .posted()
      .slice(since)
      .filter((p) => p.view === panel())
      .map((p) => p.message);
  /**
   * Errors of requests, or that there was no image to explain ("Choose an image first"); not those
   * of workspace images that would not load (the workspace has a too-large one on purpose).
   */
  const requestErrors = (messages: HostToWebview[]) => messages.filter((m) => m.type === 'error' && (m.requestId !== undefined || /Choose an image/.test(m.message)));
  /** The explain and compare requests the panel's webview itself sent since message `since` of the received log. */
  const viewRequests = (since: number) =>
    api
      .received()
      .slice(since)
      .filter((r) => r.view === panel() && r.message.type === 'request' && (r.message.kind === 'explain' || r.message.kind === 'compare'));

  before(async () => {
    api = await convlens();
  });
  after(closeAllEditors);

  it('"Grad-CAM for this layer" on a model with no panel open: the panel opens on the host\'s explanation, the only one', async function () {
    this.timeout(240_000);
    await closeAllEditors();
    await waitFor('no panel of the model', () => !api.views().includes(panel()) || undefined, 10_000);
    const since = api.posted().length;
    const heard = api.received().length;
    await vscode.commands.executeCommand('convlens.layerGradCam', modelPath(), ['/block4/conv/Conv']);
    const { requestId, result } = await nextResponse(api, panel(), 'explain', since, undefined, 180_000).catch((err: Error) => {
      throw new Error(postedError(api, panel(), since) ?? err.message);
    });
    assert.ok(requestId.startsWith('host-'), `the host's request (${requestId})`);
    assert.strictEqual(result.method, 'gradcam');
    assert.ok(result.layer?.includes('block4'), `computed at block4 (got ${result.layer})`);
    const messages = postedSince(since);
    const started = messages.findIndex((m) => m.type === 'started' && m.requestId === requestId);
    const images = messages.findIndex((m) => m.type === 'images');
    assert.ok(started >= 0 && images >= 0 && started < images, `'started' (${started}) comes before the first image list (${images})`);
    const list = messages[images] as Extract<HostToWebview, { type: 'images' }>;
    assert.strictEqual(result.imageId, list.selected, 'of the image the panel opened on');
    assert.deepStrictEqual(requestErrors(messages), [], 'no error (before: "Choose an image first")');
    if (bridge) {
      await waitFor('the Grad-CAM at block4 on the first screen', async () => {
        const text = (await bridge!.ask({ action: 'webviewText', view: 'panel', title: 'shapes.onnx' })).text ?? '';
        return (text.includes(`Grad-CAM for ${result.targetLabel}`) && text.includes('block4')) || undefined;
      });
      await bridge.ask({ action: 'screenshot', name: 'lens-on-new-panel' });
    }
    // The view had the model, the settings and an image long before the host's result came: had
    // its first run not yielded, its request would have reached the host by now.
    assert.deepStrictEqual(viewRequests(heard), [], 'the panel asked for no explanation of its own');
  });

  it('"Activations" on a model with no panel open gives the layer\'s activations, not "Choose an image first", and no explanation', async function () {
    this.timeout(240_000);
    await closeAllEditors();
    await waitFor('no panel of the model', () => !api.views().includes(panel()) || undefined, 10_000);
    const since = api.posted().length;
    const heard = api.received().length;
    await vscode.commands.executeCommand('convlens.layerActivations', modelPath(), ['/conv1/Conv']);
    const { requestId } = await nextResponse(api, panel(), 'activations', since, undefined, 180_000).catch((err: Error) => {
      throw new Error(postedError(api, panel(), since) ?? err.message);
    });
    assert.ok(requestId.startsWith('host-'), requestId);
    const messages = postedSince(since);
    assert.ok(
      messages.findIndex((m) => m.type === 'started' && m.requestId === requestId) < messages.findIndex((m) => m.type === 'images'),
      "'started' before the first image list",
    );
    assert.deepStrictEqual(requestErrors(messages), []);
    assert.deepStrictEqual(viewRequests(heard), [], 'the first run yields to the request the user made through the lens');
  });

  it('a lens on the panel already open: announced before its result, and the panel adds no run of its own', async function () {
    this.timeout(180_000);
    const since = api.posted().length;
    const heard = api.received().length;
    await vscode.commands.executeCommand('convlens.layerGradCam', modelPath(), ['/conv1/Conv']);
    const { requestId, result } = await nextResponse(api, panel(), 'explain', since, (m) => m.requestId.startsWith('host-'), 120_000).catch((err: Error) => {
      throw new Error(postedError(api, panel(), since) ?? err.message);
    });
    assert.ok(result.layer?.includes('conv1'), result.layer);
    const messages = postedSince(since);
    const started = messages.findIndex((m) => m.type === 'started' && m.requestId === requestId);
    const answered = messages.findIndex((m) => m.type === 'response' && m.requestId === requestId);
    assert.ok(started >= 0 && started < answered, `'started' (${started}) before the response (${answered})`);
    assert.deepStrictEqual(viewRequests(heard), []);
  });

  it('a cancel that reaches the host before its request began running (the view gave up its first run at once) cancels it', async function () {
    this.timeout(120_000);
    // The panel's latest image list (it was closed and opened again above).
    const { selected } = postedSince(0)
      .filter((m): m is Extract<HostToWebview, { type: 'images' }> => m.type === 'images')
      .at(-1)!;
    const since = api.posted().length;
    const requestId = 'e2e-cancelled-early';
    // Not awaited: the host is still preparing the request (its title) when the cancel comes.
    const sent = api.sendFromWebview(panel(), {
      type: 'request',
      requestId,
      kind: 'explain',
      params: { imageId: selected, method: 'gradcam', layer: 'auto', target: { kind: 'top' } },
    });
    await api.sendFromWebview(panel(), { type: 'cancel', requestId });
    await sent;
    const end = await waitFor('the request to end', () =>
      postedSince(since).find((m) => (m.type === 'response' || m.type === 'cancelled' || m.type === 'error') && m.requestId === requestId),
    );
    assert.strictEqual(end.type, 'cancelled', `it ended with '${end.type}'`);
  });

  it('"Explain Image with Current Model" on the panel already open explains that image there', async function () {
    this.timeout(180_000);
    const since = api.posted().length;
    const image = workspaceFile(WORKSPACE_FILES.images[1]);
    await vscode.commands.executeCommand('convlens.explainImage', image);
    const list = await nextMessage(api, panel(), 'images', since, (m) => m.images.some((i) => i.id === m.selected && i.name === 'square.png'));
    const { requestId, result } = await nextResponse(api, panel(), 'explain', since, undefined, 120_000).catch((err: Error) => {
      throw new Error(postedError(api, panel(), since) ?? err.message);
    });
    assert.ok(requestId.startsWith('host-'), requestId);
    assert.strictEqual(result.imageId, list.selected);
    // The method the panel last ran (the lens above: Grad-CAM).
    assert.strictEqual(result.method, 'gradcam');
  });
});
