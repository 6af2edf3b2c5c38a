// What the end-to-end tests share: the extension's test API, waiting for posted messages, the
// workspace's files and the bridge to the browser.
import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import type { HostToWebview } from '../../../src/protocol';
import type { ConvLensApi } from '../../../src/extension/extension';
import type { ConvLensTestApi, PostedMessage } from '../../../src/extension/testHooks';
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

type Of<T extends HostToWebview['type']> = Extract<HostToWebview, { type: T }>;

/** The first message of `type` posted to `view` after message number `since`, waiting for it. */
export async function nextMessage<T extends HostToWebview['type']>(
  api: ConvLensTestApi, view: string, type: T, since = 0, accept: (m: Of<T>) => boolean = () => true, timeoutMs?: number,
): Promise<Of<T>> {
  return waitFor(`a '${type}' message to ${view}`, () => {
    const found = api.posted().slice(since).find((p: PostedMessage) => p.view === view && p.message.type === type && accept(p.message as Of<T>));
    return found?.message as Of<T> | undefined;
  }, timeoutMs);
}

/** An 'error' posted to a view since `since`, if any (to fail fast with its message). */
export function postedError(api: ConvLensTestApi, view: string, since: number): string | undefined {
  const error = api.posted().slice(since).find((p) => p.view === view && p.message.type === 'error');
  return error ? (error.message as Of<'error'>).message : undefined;
}

export async function closeAllEditors(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

export function basename(uri: vscode.Uri): string {
  return path.basename(uri.fsPath);
}
