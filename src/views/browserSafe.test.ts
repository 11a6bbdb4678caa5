import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The views run in JupyterLab's page and in VS Code webviews, so they may import only browser-safe
 * packages: no node built-ins, no DuckDB or other native modules, and no editor API. Arrow decodes
 * the typed failing-row samples of the quality views.
 */
const ALLOWED = [/^\.\.?\//, /^react(\/|$)/, /^react-dom(\/|$)/, /^@opsbook\/schema$/, /^plotly\.js-(basic-)?dist-min$/, /^@tanstack\/react-virtual$/, /^apache-arrow$/];

describe('src/views imports', () => {
  const files = readdirSync(__dirname, { recursive: true, encoding: 'utf8' }).filter((f) => /\.tsx?$/.test(f) && !/\.test\.tsx?$/.test(f));

  it.each(files)('%s imports only browser-safe modules', (file) => {
    const text = readFileSync(join(__dirname, file), 'utf8');
    const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]);
    const offending = specifiers.filter((s) => !ALLOWED.some((pattern) => pattern.test(s)));
    expect(offending).toEqual([]);
  });
});
