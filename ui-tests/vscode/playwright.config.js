/**
 * The VS Code end-to-end tests: code-server (a real VS Code workbench, from npm) in Debian's Chromium,
 * with the built .vsix installed as a user installs it. vscode.spec.ts starts and stops code-server.
 */
module.exports = {
  testDir: '.',
  testMatch: /.*\.spec\.ts$/,
  timeout: 240_000,
  expect: { timeout: 30_000 },
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: '../test-results/vscode',
  use: {
    trace: 'retain-on-failure',
    video: 'off',
    viewport: { width: 1400, height: 900 },
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    },
  },
};
