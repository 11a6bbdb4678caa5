/**
 * Galata (Playwright) configuration: Debian's Chromium, and a JupyterLab started by start-lab.mjs on
 * a free port of 127.0.0.1 in a throwaway workspace.
 */
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

// Workers load this file again; the port is chosen once and handed down through the environment.
if (!process.env.OPSBOOK_UI_PORT) {
  process.env.OPSBOOK_UI_PORT = execFileSync(
    process.execPath,
    ['-e', "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})"],
    { encoding: 'utf8' },
  ).trim();
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
