// What the end-to-end tests share: the extension's test API, waiting for posted messages, the
// workspace's files, the bridge to the browser and the steps several tests take as a person would.
import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import type { ExplanationView, HostToWebview, RequestKind, ResponseMessage } from '../../../src/protocol';
import type { ConvLensApi } from '../../../src/extension/extension';
import type { ConvLensTestApi, PostedMessage } from '../../../src/extension/test-hooks';
import { BridgeClient } from '../bridge';

export const bridge = BridgeClient.fromEnvironment();

export async function convlens(): Promise<ConvLensTestApi> {
  const extension = vscode.extensions.getExtension<ConvLensApi>('convlens.convlens');
  assert.ok(extension, 'the ConvLens extension is installed in the extension host');
  const api = await extension.activate();
  assert.ok(api.testing, 'the test API is present (CONVLENS_TEST_HOOKS=1)');
  return api.testing;
}

export function workspaceFile(relative: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'a workspace folder is open');
  return vscode.Uri.joinPath(folder.uri, relative);
}

export function panelId(kind: 'panel' | 'editor', relative: string): string {
  return `${kind}:${workspaceFile(relative).fsPath}`;
}

export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export type Of<T extends HostToWebview['type']> = Extract<HostToWebview, { type: T }>;

/** The first message of `type` posted to `view` after message number `since`, waiting for it. */
export async function nextMessage<T extends HostToWebview['type']>(
  api: ConvLensTestApi,
  view: string,
  type: T,
  since = 0,
  accept: (m: Of<T>) => boolean = () => true,
  timeoutMs?: number,
): Promise<Of<T>> {
  return waitFor(
    `a '${type}' message to ${view}`,
    () => {
      const found = api
        .posted()
        .slice(since)
        .find((p: PostedMessage) => p.view === view && p.message.type === type && accept(p.message as Of<T>));
      return found?.message as Of<T> | undefined;
    },
    timeoutMs,
  );
}

type Response<K extends RequestKind> = Extract<ResponseMessage, { kind: K }>;

/** The first response of `kind` posted to `view` after message number `since`, waiting for it. */
export async function nextResponse<K extends RequestKind>(
  api: ConvLensTestApi,
  view: string,
  kind: K,
  since = 0,
  accept: (m: Response<K>) => boolean = () => true,
  timeoutMs?: number,
): Promise<Response<K>> {
  return waitFor(
    `a '${kind}' response to ${view}`,
    () => {
      const found = api
        .posted()
        .slice(since)
        .find((p: PostedMessage) => p.view === view && p.message.type === 'response' && p.message.kind === kind && accept(p.message as Response<K>));
      return found?.message as Response<K> | undefined;
    },
    timeoutMs,
  );
}

/** An 'error' posted to a view since `since`, if any (to fail fast with its message). */
export function postedError(api: ConvLensTestApi, view: string, since: number): string | undefined {
  const error = api
    .posted()
    .slice(since)
    .find((p) => p.view === view && p.message.type === 'error');
  return error ? (error.message as Of<'error'>).message : undefined;
}

export async function closeAllEditors(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

export function basename(uri: vscode.Uri): string {
  return path.basename(uri.fsPath);
}

/** Clicks `entry` in the explorer's context menu of a workspace file (the bridge), else runs `command` on it. */
export async function chooseInExplorerMenu(relative: string, entry: string, command: string): Promise<void> {
  const uri = workspaceFile(relative);
  if (!bridge) {
    await vscode.commands.executeCommand(command, uri);
    return;
  }
  await vscode.commands.executeCommand('revealInExplorer', uri);
  const clicked = await bridge.ask({ action: 'explorerContextMenu', item: path.basename(relative), entry });
  assert.ok(clicked.ok, clicked.error);
}

/**
 * Runs Grad-CAM on image `imageId` of a model view as a person would: the Explain tab, the method,
 * Run (in the webview titled `title`, through the bridge; else as the webview's message). Returns
 * the explanation once the view got the response, or fails with the error the view got.
 */
export async function runGradCam(api: ConvLensTestApi, view: string, title: string, imageId: string): Promise<ExplanationView> {
  const since = api.posted().length;
  if (bridge) {
    const where = { view: 'panel', title } as const;
    const tab = await bridge.ask({ action: 'webviewClick', ...where, selector: 'vscode-tab-header[data-tab="explain"]' });
    assert.ok(tab.ok, tab.error);
    const chosen = await bridge.ask({ action: 'webviewSelect', ...where, selector: '#method', option: 'Grad-CAM' });
    assert.strictEqual(chosen.text, 'gradcam', chosen.error);
    const run = await bridge.ask({ action: 'webviewClick', ...where, selector: '#run' });
    assert.ok(run.ok, run.error);
  } else {
    await api.sendFromWebview(view, {
      type: 'request',
      requestId: `e2e-gradcam-${since}`,
      kind: 'explain',
      params: { imageId, method: 'gradcam', layer: 'auto', target: { kind: 'top' } },
    });
  }
  // The view's own request, not one the host started (a lens, "Explain Image with Current Model").
  const { result: explanation } = await nextResponse(api, view, 'explain', since, (m) => !m.requestId.startsWith('host-')).catch((err: Error) => {
    throw new Error(postedError(api, view, since) ?? err.message);
  });
  return explanation;
}
