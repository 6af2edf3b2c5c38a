// The extension host stays usable while ConvLens computes: Score-CAM / occlusion explanations run
// back to back while "the user keeps typing" and asks the host something, and every edit lands,
// none is lost, and the host answers. Only correctness is asserted here, never a count per unit
// of time or a latency bound (a loaded machine is slow, not wrong): the host's event-loop delay
// while jobs run is measured by `npm run bench` (bench/responsiveness.ts).
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { ConvLensTestApi } from '../../../src/extension/test-hooks';
import { WORKSPACE_FILES } from '../workspace';
import { closeAllEditors, convlens, nextMessage, nextResponse, panelId, postedError, workspaceFile } from './helpers';

/** At least this many explanations, and on until the typist is done, however long that takes. */
const EXPLANATIONS = 6;
const EDITS = 25;
const TYPING_INTERVAL_MS = 20;

describe('responsiveness while explaining', () => {
  let api: ConvLensTestApi;
  const panel = () => panelId('panel', WORKSPACE_FILES.model);
  let imageIds: string[];

  before(async () => {
    api = await convlens();
    const since = api.posted().length;
    await vscode.commands.executeCommand('convlens.explainModel', workspaceFile(WORKSPACE_FILES.model));
    await nextMessage(api, panel(), 'model', since, undefined, 120_000);
    const { images } = await nextMessage(api, panel(), 'images', since, undefined, 120_000);
    imageIds = images.map((i) => i.id);
    assert.ok(imageIds.length > 0, 'the sample images are offered');
  });
  after(closeAllEditors);

  it('lands every edit and answers the host while explanations run back to back', async () => {
    const document = await vscode.workspace.openTextDocument({ language: 'plaintext', content: '' });
    const editor = await vscode.window.showTextDocument(document);
    let landed = 0;
    let typing = true;
    const typist = (async () => {
      // One keystroke at a time, as typing is: an edit waits for the previous one to apply.
      for (let i = 0; i < EDITS; i++) {
        if (await editor.edit((edit) => edit.insert(document.positionAt(document.getText().length), 'x'))) landed++;
        await new Promise((r) => setTimeout(r, TYPING_INTERVAL_MS));
      }
      typing = false;
    })();

    const methods: string[] = [];
    let workerStatus: Awaited<ReturnType<ConvLensTestApi['worker']>> = undefined;
    for (let i = 0; i < EXPLANATIONS || typing; i++) {
      const method = i % 2 === 0 ? 'scorecam' : 'occlusion';
      const requestId = `responsiveness-${i}`;
      const since = api.posted().length;
      await api.sendFromWebview(panel(), {
        type: 'request',
        requestId,
        kind: 'explain',
        params: { imageId: imageIds[i % imageIds.length], method, layer: 'auto', target: { kind: 'top' } },
      });
      // Asked while the explanation is under way: the host relays it and answers.
      if (i === 0) workerStatus = await api.worker();
      const { result: explanation } = await nextResponse(api, panel(), 'explain', since, (m) => m.requestId === requestId, 120_000).catch((err: Error) => {
        throw new Error(postedError(api, panel(), since) ?? err.message);
      });
      assert.strictEqual(explanation.method, method);
      methods.push(method);
    }
    await typist;
    assert.ok(
      workerStatus?.models.some((m) => m.endsWith(WORKSPACE_FILES.model)),
      `the host answered with the worker's state: ${JSON.stringify(workerStatus)}`,
    );
    assert.ok(methods.length >= EXPLANATIONS);
    assert.strictEqual(landed, EDITS, 'every edit landed');
    assert.strictEqual(document.getText(), 'x'.repeat(EDITS), 'the document holds every typed character, none lost');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });
});
