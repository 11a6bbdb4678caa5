import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ancestorsOf, findWorkspace, joinPath, jupyterRuntimeDir } from './paths';

interface RuntimeCase {
  name: string;
  platform: string;
  home: string;
  env: Record<string, string>;
  expected: string;
}

interface WorkspaceCase {
  name: string;
  platform: string;
  marked: string[];
  cwd: string;
  env: Record<string, string>;
  expected: string;
}

const rules = JSON.parse(readFileSync(join(__dirname, '..', '..', 'schema', 'path-rules.json'), 'utf8')) as {
  runtime_dir: RuntimeCase[];
  workspace: WorkspaceCase[];
};

describe('the path rules of schema/path-rules.json', () => {
  it.each(rules.runtime_dir.map((c) => [c.name, c] as const))('runtime dir: %s', (_, c) => {
    expect(jupyterRuntimeDir(c.env, c.platform, c.home)).toBe(c.expected);
  });

  it.each(rules.workspace.map((c) => [c.name, c] as const))('workspace: %s', (_, c) => {
    const markers = new Set(c.marked.map((folder) => joinPath(c.platform, folder, '.opsbook')));
    expect(findWorkspace(c.env, c.platform, c.cwd, (path) => markers.has(path))).toBe(c.expected);
  });

  it('walks up to the root on each platform', () => {
    expect(ancestorsOf('linux', '/a/b')).toEqual(['/a/b', '/a', '/']);
    expect(ancestorsOf('win32', 'C:\\a\\b')).toEqual(['C:\\a\\b', 'C:\\a', 'C:\\']);
    expect(ancestorsOf('win32', '\\\\server\\share\\a')).toEqual(['\\\\server\\share\\a', '\\\\server\\share\\']);
  });
});
