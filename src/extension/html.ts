// The HTML page of both webviews (model panel / overview editor, and the side view): the bundled
// app from dist/ under a strict Content Security Policy with a fresh nonce for every render, no
// inline handlers and no remote content.
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as vscode from 'vscode';

export type WebviewKind = 'panel' | 'side';

/** Options for a webview that may load only the extension's dist/ and media/ folders. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}

export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, kind: WebviewKind, title: string): string {
  const nonce = randomBytes(18).toString('base64');
  const asset = (name: string) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', name));
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data: blob:`,
    `style-src ${webview.cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    `font-src ${webview.cspSource}`,
  ].join('; ');
  // The app carries its styles; a separate stylesheet is linked only when the build wrote one.
  const stylesheet = fs.existsSync(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.css').fsPath)
    ? `<link rel="stylesheet" nonce="${nonce}" href="${asset('webview.css')}">`
    : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(title)}</title>
${stylesheet}
</head>
<body data-view="${kind}">
<script nonce="${nonce}" src="${asset('webview.js')}"></script>
</body>
</html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
