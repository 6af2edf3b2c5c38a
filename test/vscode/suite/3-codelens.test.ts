// Lenses over inference calls in Python and TypeScript files: on the calls, with the model's
// name from the string literal, none on calls inside comments, strings, f-strings, templates or
// regular expressions; the setting turns them off; a lens opens the model.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { ConvLensTestApi } from '../../../src/extension/test-hooks';
import { WORKSPACE_FILES } from '../workspace';
import { closeAllEditors, convlens, nextMessage, panelId, waitFor, workspaceFile } from './helpers';

async function lenses(relative: string): Promise<{ line: string; title: string; lens: vscode.CodeLens }[]> {
  const uri = workspaceFile(relative);
  const document = await vscode.workspace.openTextDocument(uri);
  await vscode.window.showTextDocument(document);
  const found = (await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri, 100)) ?? [];
  return found
    .filter((l) => l.command?.command === 'convlens.explainModel')
    .map((lens) => ({ line: document.lineAt(lens.range.start.line).text.trim(), title: lens.command!.title, lens }));
}

describe('CodeLens on inference calls', () => {
  let api: ConvLensTestApi;

  before(async () => {
    api = await convlens();
  });
  after(closeAllEditors);

  it('puts a lens on each InferenceSession, session.run and torch.onnx.export call in Python, none in comments or strings', async () => {
    const found = await waitFor(
      'Python lenses',
      async () => {
        const l = await lenses(WORKSPACE_FILES.pythonCode);
        return l.length > 0 ? l : undefined;
      },
      30_000,
    );
    assert.deepStrictEqual(
      found.map((l) => [l.line.split('(')[0], l.title]),
      [
        ['session = ort.InferenceSession', '$(telescope) Explain shapes.onnx'],
        ['workspace_relative = ort.InferenceSession', '$(telescope) Explain shapes.onnx'],
        ['dynamic = ort.InferenceSession', '$(telescope) Explain model…'],
        ['return session.run', '$(telescope) Explain shapes.onnx'],
        ['torch.onnx.export', '$(telescope) Explain exported.onnx'],
      ],
    );
    const model = workspaceFile(WORKSPACE_FILES.model).fsPath;
    // Both the file-relative and the workspace-relative literal resolve to the sample model.
    assert.deepStrictEqual(
      found.slice(0, 2).map((l) => (l.lens.command!.arguments![0] as vscode.Uri).fsPath),
      [model, model],
    );
    assert.ok(!found[2].lens.command!.arguments?.[0], 'a non-literal path asks with a file picker');
  });

  it('puts a lens on InferenceSession.create in TypeScript, none in comments, strings, templates or regexes', async () => {
    const found = await waitFor(
      'TypeScript lenses',
      async () => {
        const l = await lenses(WORKSPACE_FILES.typescriptCode);
        return l.length > 0 ? l : undefined;
      },
      30_000,
    );
    assert.deepStrictEqual(
      found.map((l) => [l.line.split('(')[0], l.title]),
      [
        ['const sample = await ort.InferenceSession.create', '$(telescope) Explain shapes.onnx'],
        ['const chosen = await ort.InferenceSession.create', '$(telescope) Explain model…'],
      ],
    );
  });

  it('opens the model panel from a lens beside the code, which stays in view', async () => {
    await closeAllEditors();
    const code = await vscode.window.showTextDocument(workspaceFile(WORKSPACE_FILES.pythonCode), { viewColumn: vscode.ViewColumn.One });
    const [first] = await lenses(WORKSPACE_FILES.pythonCode);
    const since = api.posted().length;
    await vscode.commands.executeCommand(first.lens.command!.command, ...(first.lens.command!.arguments ?? []));
    const { model } = await nextMessage(api, panelId('panel', WORKSPACE_FILES.model), 'model', since);
    assert.strictEqual(model.name, 'shapes.onnx');
    const panelTab = vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputWebview && t.label === 'ConvLens: shapes.onnx');
    assert.strictEqual(panelTab?.group.viewColumn, vscode.ViewColumn.Two, 'the panel opens in the column beside the code');
    assert.ok(
      vscode.window.visibleTextEditors.some((e) => e.document.uri.toString() === code.document.uri.toString() && e.viewColumn === vscode.ViewColumn.One),
      'the code stays visible',
    );
  });

  it('shows no lenses when convlens.codeLens.enabled is off', async () => {
    const settings = vscode.workspace.getConfiguration('convlens');
    await settings.update('codeLens.enabled', false, vscode.ConfigurationTarget.Workspace);
    try {
      await waitFor('the lenses to go', async () => ((await lenses(WORKSPACE_FILES.pythonCode)).length === 0 ? true : undefined), 10_000);
    } finally {
      await settings.update('codeLens.enabled', undefined, vscode.ConfigurationTarget.Workspace);
    }
    assert.ok((await lenses(WORKSPACE_FILES.pythonCode)).length > 0, 'the lenses come back with the setting');
  });
});
