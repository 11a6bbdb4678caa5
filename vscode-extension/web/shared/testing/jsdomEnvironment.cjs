// jsdom for tests of webview code against a real workspace daemon. jsdom has no fetch, Request or
// Response, which a webview (Chromium) has and openapi-fetch needs, so Node's own are lent to the jsdom
// window. The daemon is the built CLI's (`npx tsc -b` first) in a fresh workspace, announced to the test
// as `OPSBOOK_TEST_DAEMON` ({ url, token }): the test plays the extension host, which holds the token.
const { spawn } = require('node:child_process');
const { mkdtempSync, readdirSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { TestEnvironment } = require('jest-environment-jsdom');

const FROM_NODE = ['fetch', 'Request', 'Response', 'Headers', 'FormData', 'Blob', 'TextEncoder', 'TextDecoder', 'ReadableStream', 'AbortController', 'AbortSignal', 'structuredClone'];
const CLI = join(__dirname, '..', '..', '..', '..', 'src', 'dist', 'cli', 'main.js');
const START_TIMEOUT_MS = 30_000;

class JsdomWithDaemon extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of FROM_NODE) this.global[name] = globalThis[name];
  }

  async setup() {
    await super.setup();
    this.workspace = mkdtempSync(join(tmpdir(), 'opsbook-webview-'));
    const runtime = join(this.workspace, '.runtime');
    this.daemon = spawn(process.execPath, [CLI, 'daemon'], {
      cwd: this.workspace,
      env: { ...process.env, JUPYTER_RUNTIME_DIR: runtime },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    this.daemon.stderr.on('data', (chunk) => (stderr += chunk));
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const announced = safe(() => readdirSync(runtime).filter((name) => /^opsbook-.*\.json$/.test(name)), []);
      const info = announced.length ? safe(() => JSON.parse(readFileSync(join(runtime, announced[0]), 'utf8')), null) : null;
      if (info && info.token) {
        this.global.OPSBOOK_TEST_DAEMON = { url: info.url, token: info.token };
        return;
      }
      if (this.daemon.exitCode !== null || Date.now() > deadline) throw new Error(`the test daemon did not start: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async teardown() {
    if (this.daemon && this.daemon.exitCode === null) {
      const exited = new Promise((resolve) => this.daemon.once('exit', resolve));
      this.daemon.kill('SIGTERM');
      await exited;
    }
    if (this.workspace) rmSync(this.workspace, { recursive: true, force: true });
    await super.teardown();
  }
}

function safe(read, fallback) {
  try {
    return read();
  } catch {
    return fallback;
  }
}

module.exports = JsdomWithDaemon;
