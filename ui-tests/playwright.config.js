/**
 * Galata (Playwright) configuration: Debian's Chromium, and a JupyterLab started by start-lab.mjs on
 * a free port of 127.0.0.1 in a throwaway workspace.
 */
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

// Workers load this file again; the port is chosen once and handed down through the environment.
// It is taken below Linux's ephemeral range (32768-60999): a port the kernel hands out for listen(0)
// can be handed out again, to an outgoing connection or another server, in the seconds before
// JupyterLab binds it (start-lab.mjs starts the fake Kubernetes API first), which happened once.
const FREE_PORT = `
const net = require('net');
const tryPort = (left) => {
  const port = 20000 + Math.floor(Math.random() * 12000);
  const s = net.createServer();
  s.once('error', () => (left > 0 ? tryPort(left - 1) : process.exit(1)));
  s.listen(port, '127.0.0.1', () => { process.stdout.write(String(port)); s.close(); });
};
tryPort(50);`;
if (!process.env.OPSBOOK_UI_PORT) {
  process.env.OPSBOOK_UI_PORT = execFileSync(process.execPath, ['-e', FREE_PORT], { encoding: 'utf8' }).trim();
}
const port = Number(process.env.OPSBOOK_UI_PORT);
const baseURL = `http://127.0.0.1:${port}`;

module.exports = {
  ...baseConfig,
  testDir: './tests',
  timeout: 90_000,
  expect: { timeout: 20_000 },
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    ...baseConfig.use,
    baseURL,
    trace: 'retain-on-failure',
    // Video needs Playwright's own ffmpeg, which is not installed here.
    video: 'off',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-sync',
      ],
    },
  },
  webServer: {
    command: `node ${JSON.stringify(path.join(__dirname, 'start-lab.mjs'))}`,
    url: `${baseURL}/lab`,
    timeout: 120_000,
    reuseExistingServer: false,
    gracefulShutdown: { signal: 'SIGTERM', timeout: 20_000 },
    stdout: 'pipe',
    stderr: 'pipe',
  },
};
