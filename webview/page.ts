// The HTML document a webview loads: the strict CSP (nonce'd script, no inline handlers, no
// remote content), the view chosen by body[data-view], and dist/webview.js. Pure string work,
// so the extension host builds its webviews with it and the Chromium tests load the same page.

export interface WebviewPageOptions {
  /** URI of dist/webview.js as the webview sees it (webview.asWebviewUri). */
  scriptUri: string;
  /** The webview's resource origin (webview.cspSource). */
  cspSource: string;
  /** A fresh random nonce per page load. */
  nonce: string;
  view: 'panel' | 'side';
  title: string;
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return ["default-src 'none'", `img-src ${cspSource} data: blob:`, `style-src ${cspSource} 'nonce-${nonce}'`, `font-src ${cspSource}`, `script-src 'nonce-${nonce}'`].join('; ');
}

function escapeAttribute(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function webviewPage(o: WebviewPageOptions): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttribute(contentSecurityPolicy(o.cspSource, o.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeAttribute(o.title)}</title>
</head>
<body data-view="${o.view}">
<script nonce="${escapeAttribute(o.nonce)}" src="${escapeAttribute(o.scriptUri)}"></script>
</body>
</html>`;
}
