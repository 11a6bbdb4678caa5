// Puts beside the extension's bundle what a bundle cannot hold: zeromq's native addon for linux-x64
// (with the loader it uses) under out/node_modules, and the core bundled for the wheel (opsbook.cjs, its
// worker entries, DuckDB's and onnxruntime's binaries for this platform) under core/, which the
// extension starts as the workspace daemon when none runs.
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const extension = join(here, '..');
const root = join(extension, '..');
const require = createRequire(join(extension, 'package.json'));
/** A package's folder, found the way Node would from `from` (its exports may hide package.json). */
const packageDir = (name, from = require) => {
  const entry = from.resolve(name);
  return entry.slice(0, entry.lastIndexOf(`node_modules/${name}/`) + `node_modules/${name}`.length);
};
const platform = `${process.platform}/${process.arch}`;

const modules = join(extension, 'out', 'node_modules');
rmSync(modules, { recursive: true, force: true });
const zeromq = packageDir('zeromq');
for (const part of ['package.json', 'lib', 'build/manifest.json', `build/${platform}`]) {
  cpSync(join(zeromq, part), join(modules, 'zeromq', part), { recursive: true });
}
const cmakeTs = packageDir('cmake-ts', createRequire(join(zeromq, 'package.json')));
for (const part of ['package.json', 'build']) cpSync(join(cmakeTs, part), join(modules, 'cmake-ts', part), { recursive: true });

const stage = join(root, 'kernel-bridge', 'python', 'build', 'core');
if (!existsSync(join(stage, 'opsbook.cjs'))) {
  console.error(`stage: ${stage}/opsbook.cjs is missing; make builds it (make vsix)`);
  process.exit(2);
}
const core = join(extension, 'core');
rmSync(core, { recursive: true, force: true });
mkdirSync(core, { recursive: true });
cpSync(stage, core, { recursive: true });
console.log(`stage: zeromq (${platform}) in out/node_modules, the core in core/`);
