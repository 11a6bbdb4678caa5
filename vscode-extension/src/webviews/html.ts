import { randomBytes } from 'node:crypto';

/** A fresh nonce for one webview document's script. */
export function makeNonce(): string {
  return randomBytes(18).toString('base64');
}

/**
 * The document of an Opsbook webview: nothing loads but the one bundled script carrying the nonce
 * (`default-src 'none'`); styles may be inline (the shared views and plotly inject theirs) or from
 * the extension's media folder; images from there or `data:`/`blob:` URLs (parity figures, plot
 * downloads). `cspSource` is the webview's `cspSource`, `scriptUri` the bundle's webview URI.
 * `webgl`: the document draws plotly's WebGL traces (scattergl of large explanations), whose regl
 * compiles its draw calls with `Function`, so only then does the script policy add `'unsafe-eval'`.
 */
export function webviewHtml(options: { cspSource: string; scriptUri: string; nonce: string; title: string; webgl?: boolean }): string {
  const { cspSource, scriptUri, nonce, title, webgl = false } = options;
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'${webgl ? " 'unsafe-eval'" : ''}`,
    `style-src ${cspSource} 'unsafe-inline'`,
    `img-src ${cspSource} data: blob:`,
    `font-src ${cspSource}`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(title)}</title>
</head>
<body>
<div id="root"></div>
<script nonce="${nonce}" src="${scriptUri}"></script>
</body>
</html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
