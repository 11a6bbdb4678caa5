// Prints each runner's counts and one closing line over all of them, from the result files the
// Makefile's test targets write (jest JSON, pytest JUnit XML for pytest and the wheel test, Playwright
// JSON for Galata and VS Code).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
const rows = [];

const jestFile = join(dir, 'jest.json');
if (existsSync(jestFile)) {
  const r = JSON.parse(readFileSync(jestFile, 'utf8'));
  rows.push(['jest', r.numPassedTests, r.numFailedTests + r.numRuntimeErrorTestSuites, r.numPendingTests]);
}

// pytest JUnit XML: the Python suite, and the wheel test (make test-wheel).
for (const [name, file] of [['pytest', 'pytest.xml'], ['wheel', 'wheel.xml']]) {
  const junitFile = join(dir, file);
  if (!existsSync(junitFile)) continue;
  const xml = readFileSync(junitFile, 'utf8');
  const suite = /<testsuite\b[^>]*>/.exec(xml)?.[0] ?? '';
  const attr = (attribute) => Number(new RegExp(`\\b${attribute}="(\\d+)"`).exec(suite)?.[1] ?? 0);
  const failed = attr('failures') + attr('errors');
  rows.push([name, attr('tests') - failed - attr('skipped'), failed, attr('skipped')]);
}

// Playwright JSON: the Galata tests in JupyterLab (make test-ui) and the VS Code tests in code-server
// (make test-vscode).
for (const [name, file] of [['galata', 'galata.json'], ['vscode', 'vscode.json']]) {
  const playwrightFile = join(dir, file);
  if (!existsSync(playwrightFile)) continue;
  const s = JSON.parse(readFileSync(playwrightFile, 'utf8')).stats ?? {};
  rows.push([name, (s.expected ?? 0) + (s.flaky ?? 0), s.unexpected ?? 0, s.skipped ?? 0]);
}

const total = rows.reduce((t, [, p, f, s]) => [t[0] + p, t[1] + f, t[2] + s], [0, 0, 0]);
console.log('\nTest summary');
for (const [name, p, f, s] of rows) console.log(`  ${name.padEnd(7)} ${p} passed, ${f} failed, ${s} skipped`);
console.log(`total: ${total[0]} passed, ${total[1]} failed, ${total[2]} skipped`);
