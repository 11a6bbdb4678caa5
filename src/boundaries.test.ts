import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/**
 * Layer rules of DESIGN.md, enforced on the source text so that a break fails here with the rule
 * spelled out, rather than later in a browser or an editor host.
 */

const SRC = __dirname;

/** Modules that only exist in Node (or load native code). */
const NODE_ONLY: { pattern: RegExp; why: string }[] = [
  { pattern: /^node:/, why: 'a Node built-in' },
  { pattern: /^(fs|path|child_process|os|net|http|https|crypto|url|util|stream|worker_threads)(\/|$)/, why: 'a Node built-in' },
  { pattern: /^@duckdb\//, why: 'DuckDB (native, and the store has one writer: the daemon)' },
  { pattern: /^onnxruntime-node(\/|$)/, why: 'onnxruntime-node (native)' },
  { pattern: /^@kubernetes\/client-node(\/|$)/, why: 'the Kubernetes client (Node only)' },
  { pattern: /^zeromq(\/|$)/, why: 'ZeroMQ (native)' },
];

/** Editor APIs: the core defines the host interface, each editor implements it. */
const EDITOR_API = /^(vscode$|@jupyterlab\/)/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'dist' || name === 'node_modules') return [];
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) && !/\.d\.ts$/.test(name) ? [path] : [];
  });
}

function importsOf(path: string): string[] {
  const text = readFileSync(path, 'utf8').replace(/\/\*[\s\S]*?\*\/|(^|[^:])\/\/.*$/gm, '$1');
  const found = text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm);
  return [...found].map((m) => m[1]);
}

const isTest = (path: string): boolean => /\.test\.tsx?$/.test(path);
const shown = (path: string): string => relative(SRC, path);

describe('layer boundaries of src/', () => {
  const browserFolders = ['views', 'client'].map((folder) => join(SRC, folder));
  const browserFiles = browserFolders.flatMap((folder) => sourceFiles(folder)).filter((path) => !isTest(path));

  it('finds the browser-side sources it guards', () => {
    expect(browserFiles.some((path) => path.includes(`${sep}client${sep}`))).toBe(true);
  });

  it('keeps src/views and src/client free of node-only modules', () => {
    const problems: string[] = [];
    for (const path of browserFiles) {
      for (const specifier of importsOf(path)) {
        const rule = NODE_ONLY.find((r) => r.pattern.test(specifier));
        if (rule) problems.push(`${shown(path)} imports '${specifier}', ${rule.why}`);
        if (specifier.startsWith('.')) {
          const target = resolve(dirname(path), specifier);
          if (!browserFolders.some((folder) => target === folder || target.startsWith(folder + sep))) {
            problems.push(`${shown(path)} imports '${specifier}', which is outside src/views and src/client (node-side code)`);
          }
        }
      }
    }
    if (problems.length > 0) {
      throw new Error(
        'src/views and src/client run in the browser (JupyterLab pages, VS Code webviews), so they must not ' +
          'import Node built-ins, native modules or node-side folders of src/. Ask the daemon over HTTP ' +
          '(src/client) instead.\n  ' +
          problems.join('\n  '),
      );
    }
  });

  it('keeps every module of src/ free of editor APIs', () => {
    const problems = sourceFiles(SRC).flatMap((path) =>
      importsOf(path)
        .filter((specifier) => EDITOR_API.test(specifier))
        .map((specifier) => `${shown(path)} imports '${specifier}'`),
    );
    if (problems.length > 0) {
      throw new Error(
        '@opsbook/core is shared by JupyterLab and VS Code, so it never imports an editor API (vscode, ' +
          '@jupyterlab/*): define an interface in the core and implement it in the editor package.\n  ' +
          problems.join('\n  '),
      );
    }
  });

  it('recognises the imports it must catch', () => {
    const sample = join(SRC, 'boundaries.test.ts');
    const specifiers = importsOf(sample);
    expect(specifiers).toEqual(expect.arrayContaining(['node:fs', 'node:path']));
    expect(NODE_ONLY.some((r) => r.pattern.test('@duckdb/node-api'))).toBe(true);
    expect(NODE_ONLY.some((r) => r.pattern.test('fs/promises'))).toBe(true);
    expect(NODE_ONLY.some((r) => r.pattern.test('react'))).toBe(false);
    expect(EDITOR_API.test('@jupyterlab/services')).toBe(true);
    expect(EDITOR_API.test('vscode')).toBe(true);
    expect(EDITOR_API.test('vscode-languageclient')).toBe(false);
  });
});
