import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/**
 * Layer rules of DESIGN.md, enforced on the source text so that a break fails here with the rule
 * spelled out, rather than later in a browser or an editor host.
 */

const SRC = __dirname;

interface Layers {
  browserFolders: string[];
  capabilities: string[];
  nodeOnly: { modules: string[]; why: string; message: string }[];
  editorApis: { modules: string[]; message: string };
  capabilityMessage: string;
  editorHosts: { folders: string[]; forbidden: string; message: string };
}

/** The same file eslint.config.mjs reads: one list of the rules. */
const LAYERS = JSON.parse(readFileSync(join(SRC, 'layers.json'), 'utf8')) as Layers;

/** An eslint import pattern (`@duckdb/*`, `node:*`, `fs`) as a regular expression over specifiers. */
function patternOf(module: string): RegExp {
  const escaped = module.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

/** Modules that only exist in Node (or load native code). */
const NODE_ONLY = LAYERS.nodeOnly.flatMap(({ modules, why }) => modules.map((module) => ({ pattern: patternOf(module), why })));

/** Editor APIs: the core defines the host interface, each editor implements it. */
const EDITOR_API = LAYERS.editorApis.modules.map(patternOf);
const isEditorApi = (specifier: string): boolean => EDITOR_API.some((pattern) => pattern.test(specifier));

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
  const browserFolders = LAYERS.browserFolders.map((folder) => join(SRC, '..', folder));
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
        .filter((specifier) => isEditorApi(specifier))
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
    expect(NODE_ONLY.some((r) => r.pattern.test('node:fs/promises'))).toBe(true);
    expect(isEditorApi('@jupyterlab/services')).toBe(true);
    expect(isEditorApi('@lumino/signaling')).toBe(true);
    expect(isEditorApi('vscode')).toBe(true);
    expect(isEditorApi('vscode-languageclient')).toBe(false);
  });

  it('keeps capabilities out of each other\'s internals', () => {
    const problems: string[] = [];
    for (const capability of LAYERS.capabilities) {
      const folder = join(SRC, capability);
      if (!existsSync(folder)) continue;
      for (const path of sourceFiles(folder).filter((file) => !isTest(file))) {
        for (const specifier of importsOf(path).filter((s) => s.startsWith('.'))) {
          const target = relative(SRC, resolve(dirname(path), specifier)).split(sep);
          const other = LAYERS.capabilities.find((name) => name !== capability && target[0] === name);
          if (other && target.length > 1 && target[1] !== 'index') problems.push(`${shown(path)} imports '${specifier}'`);
        }
      }
    }
    if (problems.length > 0) throw new Error(`${LAYERS.capabilityMessage}\n  ${problems.join('\n  ')}`);
  });

  it('keeps the VS Code extension host on @opsbook/core/client', () => {
    const files = LAYERS.editorHosts.folders.flatMap((folder) => sourceFiles(join(SRC, '..', folder)));
    expect(files.length).toBeGreaterThan(0);
    const problems = files.flatMap((path) =>
      importsOf(path)
        .filter((specifier) => new RegExp(LAYERS.editorHosts.forbidden).test(specifier))
        .map((specifier) => `${relative(join(SRC, '..'), path)} imports '${specifier}'`),
    );
    if (problems.length > 0) throw new Error(`${LAYERS.editorHosts.message}\n  ${problems.join('\n  ')}`);
  });
});
