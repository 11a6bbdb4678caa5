/// <reference types="jest" />
import { makeNonce, webviewHtml } from './html';

describe('webviewHtml', () => {
  const cspSource = 'https://file+.vscode-resource.vscode-cdn.net';
  const html = webviewHtml({ cspSource, scriptUri: `${cspSource}/ext/media/webview.js`, nonce: 'abc123', title: 'Run <b>"x"</b>' });
  const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1] ?? '';

  it('allows only the nonce-carrying script and the webview resource origin', () => {
    const directives = Object.fromEntries(csp.split(';').map((part) => part.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
    expect(directives['default-src']).toEqual(["'none'"]);
    expect(directives['script-src']).toEqual(["'nonce-abc123'"]);
    expect(directives['style-src']).toEqual([cspSource, "'unsafe-inline'"]);
    expect(directives['img-src']).toEqual([cspSource, 'data:', 'blob:']);
    expect(directives['font-src']).toEqual([cspSource]);
    expect(csp).not.toMatch(/unsafe-eval|\*/);
  });

  it("adds 'unsafe-eval' only for documents that draw WebGL charts", () => {
    const webgl = webviewHtml({ cspSource, scriptUri: 'x', nonce: 'n1', title: 't', webgl: true });
    expect(webgl).toContain("script-src 'nonce-n1' 'unsafe-eval';");
  });

  it('loads exactly one script, the bundle, with the nonce', () => {
    const scripts = [...html.matchAll(/<script[^>]*>/g)].map((match) => match[0]);
    expect(scripts).toEqual([`<script nonce="abc123" src="${cspSource}/ext/media/webview.js">`]);
  });

  it('escapes the title', () => {
    expect(html).toContain('<title>Run &#60;b&#62;&#34;x&#34;&#60;/b&#62;</title>');
  });

  it('makes a fresh nonce each time', () => {
    const nonces = new Set(Array.from({ length: 20 }, () => makeNonce()));
    expect(nonces.size).toBe(20);
    for (const nonce of nonces) expect(nonce).toMatch(/^[A-Za-z0-9+/]{24}$/);
  });
});
