// Segmentation and detection samples in a real extension host (issue 13): the panel of
// shapes-seg.onnx reads the predicted mask of a scene, a class's region is chosen and explained;
// the panel of shapes-det.onnx reads the boxes after NMS, a box is chosen and explained as box:I.
// With the bridge the choice is a click in the webview's legend or box list; without it, the
// webview's message.
import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import type { ExplanationView, TargetSpec } from '../../../src/protocol';
import type { ConvLensTestApi } from '../../../src/extension/test-hooks';
import { WORKSPACE_FILES } from '../workspace';
import { bridge, closeAllEditors, convlens, nextMessage, nextResponse, panelId, postedError, waitFor, workspaceFile } from './helpers';

describe('segmentation and detection in the panel', () => {
  let api: ConvLensTestApi;

  before(async () => {
    api = await convlens();
  });
  after(closeAllEditors);

  /** Opens a model's panel, selects `image` in it and reads its structured outputs. */
  async function openWithImage(model: string, image: string) {
    const view = panelId('panel', model);
    const since = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(model));
    await nextMessage(api, view, 'model', since, undefined, 120_000);
    const { images } = await nextMessage(api, view, 'images', since, undefined, 120_000);
    const chosen = images.find((i) => i.name === path.basename(image));
    assert.ok(chosen, `${image} is offered (got ${images.map((i) => i.name).join(', ')})`);
    // The scene becomes the panel's image: its thumbnail clicked (the bridge), else the webview's message.
    if (bridge) {
      const title = path.basename(model);
      await waitFor(
        `${image}'s thumbnail`,
        async () => ((await bridge!.ask({ action: 'webviewClick', view: 'panel', title, selector: `[data-image-id="${chosen.id}"]` })).ok ? true : undefined),
        60_000,
      );
    } else {
      await api.sendFromWebview(view, { type: 'selectImage', imageId: chosen.id });
    }
    const asked = api.posted().length;
    await api.sendFromWebview(view, { type: 'request', requestId: `e2e-tasks-${asked}`, kind: 'taskOutputs', params: { imageId: chosen.id } });
    const { result } = await nextResponse(api, view, 'taskOutputs', asked, (m) => m.requestId === `e2e-tasks-${asked}`, 120_000).catch((err: Error) => {
      throw new Error(postedError(api, view, asked) ?? err.message);
    });
    return { view, imageId: chosen.id, outputs: result };
  }

  /** Explains `target`: a click on `selector` in the webview (the bridge), else the webview's explain request. */
  async function explainChoice(view: string, title: string, imageId: string, selector: string, target: TargetSpec): Promise<ExplanationView> {
    const since = api.posted().length;
    if (bridge) {
      // The panel asked for the outputs itself on selection: wait until its list is drawn, then click.
      await waitFor(`${selector} in the panel`, async () => ((await bridge!.ask({ action: 'webviewClick', view: 'panel', title, selector })).ok ? true : undefined), 60_000).catch(
        async (err: Error) => {
          await bridge!.ask({ action: 'screenshot', name: `tasks-failed-${path.basename(title, '.onnx')}` });
          const text = (await bridge!.ask({ action: 'webviewText', view: 'panel', title })).text ?? '';
          throw new Error(`${err.message}; the panel reads: ${text.slice(0, 600)}`);
        },
      );
    } else {
      await api.sendFromWebview(view, { type: 'request', requestId: `e2e-explain-${since}`, kind: 'explain', params: { imageId, method: 'gradcam', layer: 'auto', target } });
    }
    const { result } = await nextResponse(api, view, 'explain', since, undefined, 120_000).catch((err: Error) => {
      throw new Error(postedError(api, view, since) ?? err.message);
    });
    if (bridge) await bridge.ask({ action: 'screenshot', name: `tasks-${path.basename(title, '.onnx')}` });
    return result;
  }

  const nonConstant = (e: ExplanationView) => Math.max(...e.map.values) - Math.min(...e.map.values) > 0.1;

  /** The predictions the host posted for the image, and the panel's Top-1 target explained (the webview's request). */
  async function predictionsAndTop(view: string, imageId: string) {
    const { top } = await nextMessage(api, view, 'prediction', 0, (m) => m.imageId === imageId, 120_000);
    const since = api.posted().length;
    const requestId = `e2e-top-${since}`;
    await api.sendFromWebview(view, { type: 'request', requestId, kind: 'explain', params: { imageId, method: 'gradcam', layer: 'auto', target: { kind: 'top' } } });
    const { result } = await nextResponse(api, view, 'explain', since, (m) => m.requestId === requestId, 120_000).catch((err: Error) => {
      throw new Error(postedError(api, view, since) ?? err.message);
    });
    return { top, explained: result };
  }

  it('segmentation: the predicted mask of a scene; a class region is explained (a non-constant map)', async () => {
    const { view, imageId, outputs } = await openWithImage(WORKSPACE_FILES.segModel, WORKSPACE_FILES.segImage);
    assert.ok(outputs.kind === 'segmentation', JSON.stringify(outputs).slice(0, 200));
    assert.strictEqual(outputs.classIds.length, outputs.width * outputs.height);
    assert.deepStrictEqual(
      outputs.classes.map((c) => c.label),
      ['background', 'circle', 'square', 'star', 'triangle'],
    );
    // seg-0 holds one object: the class with the most pixels after the background.
    const object = outputs.classes.slice(1).reduce((a, b) => (b.pixels > a.pixels ? b : a));
    assert.ok(object.pixels > 0);
    const explanation = await explainChoice(view, 'shapes-seg.onnx', imageId, `.task-legend .task-item[data-class="${object.index}"]`, {
      kind: 'region',
      class: object.index,
      mask: 'predicted',
      output: outputs.output,
    });
    assert.deepStrictEqual(explanation.target, { kind: 'region', class: object.index, mask: 'predicted', output: outputs.output });
    assert.match(explanation.targetLabel, new RegExp(`class ${object.index} summed over its predicted mask \\(weight ${object.pixels}\\)`));
    assert.strictEqual(explanation.map.values.length, explanation.map.width * explanation.map.height);
    assert.ok(nonConstant(explanation), 'the map is not constant');
    // What a person sees beside it: the predictions are the mask's classes by pixel share (not a
    // flattened mask's "classes"), and Top-1 explains the largest region other than background.
    const { top, explained } = await predictionsAndTop(view, imageId);
    const present = outputs.classes.filter((c) => c.pixels > 0).sort((a, b) => b.pixels - a.pixels);
    assert.deepStrictEqual(
      top.map((p) => [p.label, p.probability]),
      present.map((c) => [c.label, c.share]),
    );
    assert.deepStrictEqual(explained.target, { kind: 'region', class: object.index, mask: 'predicted', output: outputs.output });
  });

  it('detection: the boxes after NMS; a box is explained as box:I (a non-constant map)', async () => {
    const { view, imageId, outputs } = await openWithImage(WORKSPACE_FILES.detModel, WORKSPACE_FILES.detImage);
    assert.ok(outputs.kind === 'detection', JSON.stringify(outputs).slice(0, 200));
    assert.ok(outputs.detections.length >= 2, `${outputs.detections.length} boxes`);
    assert.ok(outputs.detections.every((d) => d.score >= outputs.minScore));
    const box = outputs.detections[1];
    const explanation = await explainChoice(view, 'shapes-det.onnx', imageId, `.task-boxes .task-item[data-box="${box.index}"]`, {
      kind: 'box',
      index: box.index,
      output: outputs.output,
      iou: outputs.iou,
      minScore: outputs.minScore,
      sigmoid: outputs.sigmoid,
    });
    assert.ok(explanation.target.kind === 'box' && explanation.target.index === box.index);
    assert.strictEqual(explanation.targetLabel, `box ${box.index} (class ${box.class}, score ${box.score.toPrecision(3)}, [${box.box.map((v) => v.toFixed(1)).join(', ')}])`);
    assert.ok(nonConstant(explanation), 'the map is not constant');
    // The predictions are the detected classes by their best box's score; Top-1 explains box 0.
    const { top, explained } = await predictionsAndTop(view, imageId);
    assert.deepStrictEqual(
      top.map((p) => p.label),
      [...new Set(outputs.detections.map((d) => d.label))],
    );
    assert.ok(explained.target.kind === 'box' && explained.target.index === 0, JSON.stringify(explained.target));
  });
});
