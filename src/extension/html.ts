// The HTML page of both webviews (model panel / overview editor, and the side view): the bundled
// app from dist/ under the strict Content Security Policy of webview/page.ts (the page the
// Chromium tests load), with a fresh nonce for every render.
import { randomBytes } from 'crypto';
import * as vscode from 'vscode';
import { webviewPage } from '../../webview/page';

export type WebviewKind = 'panel' | 'side';

/** Options for a webview that may load only the extension's dist/ and media/ folders. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}

export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, kind: WebviewKind, title: string): string {
  return webviewPage({
    scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js')).toString(),
    cspSource: webview.cspSource,
    nonce: randomBytes(18).toString('base64'),
    view: kind,
    title,
  });
}
