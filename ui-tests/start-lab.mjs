// Starts JupyterLab for the Galata tests in a throwaway workspace, and cleans up after it.
//
// The workspace is a temp copy of examples/, so the tests' runs land in a fresh .opsbook store;
// JUPYTER_RUNTIME_DIR is a temp dir too, so the daemon's discovery file never meets another
// engineer's. Playwright stops this process with SIGTERM (gracefulShutdown in the config); we pass
// it on to JupyterLab, then stop the workspace daemon (started detached, so it outlives the server)
// and remove the temp dirs.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const venvBin = join(repo, '.venv', 'bin');
const python = join(venvBin, 'python');

const scratch = mkdtempSync(join(tmpdir(), 'opsbook-ui-'));
const workspace = join(scratch, 'workspace');
const runtimeDir = join(scratch, 'runtime');
const labextensions = join(scratch, 'labextensions');
cpSync(join(repo, 'examples'), workspace, { recursive: true });
mkdirSync(runtimeDir, { recursive: true });
// Galata's server config makes temp dirs and files it never removes; keep them inside scratch.
mkdirSync(join(scratch, 'tmp'));
mkdirSync(join(labextensions, '@opsbook'), { recursive: true });
const build = join(repo, 'kernel-bridge', 'python', 'opsbook', 'labextension');
if (!existsSync(join(build, 'package.json'))) {
  console.error(`start-lab: no labextension build at ${build}; build jupyterlab-extension first.`);
  process.exit(3);
}
symlinkSync(build, join(labextensions, '@opsbook', 'jupyterlab'));

const env = {
  ...process.env,
  PATH: `${venvBin}:${process.env.PATH ?? ''}`,
  JUPYTERLAB_GALATA_ROOT_DIR: workspace,
  JUPYTER_RUNTIME_DIR: runtimeDir,
  OPSBOOK_WORKSPACE: workspace,
  OPSBOOK_UI_LABEXTENSIONS: labextensions,
  TMPDIR: join(scratch, 'tmp'),
};
// Before the opsbook package is installed into the venv, kernels and the server import it from the checkout.
if (spawnSync(python, ['-c', 'import opsbook'], { env }).status !== 0) {
  env.PYTHONPATH = [join(repo, 'kernel-bridge', 'python'), process.env.PYTHONPATH].filter(Boolean).join(':');
}

// A Kubernetes API for the deploy tests: no real API server can be installed here, so the fake of
// src/deploy/testing stands in (the tests say so in their names). It starts before JupyterLab, whose
// daemon inherits KUBECONFIG; pods of an image tagged :broken never start, so a failed rollout is tested.
const fakeApiMain = join(repo, 'src', 'dist', 'deploy', 'testing', 'fake-apiserver-main.js');
let fakeApi = null;
if (existsSync(fakeApiMain)) {
  const kubeconfig = join(scratch, 'kubeconfig');
  fakeApi = spawn(process.execPath, [fakeApiMain, '--kubeconfig', kubeconfig, '--context', 'fake', '--fail-image', ':broken$'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = await new Promise((resolveReady) => {
    let text = '';
    fakeApi.stdout.on('data', (chunk) => {
      text += chunk;
      const line = text.split('\n').find((l) => l.includes('"ready"'));
      if (line) resolveReady(JSON.parse(line));
    });
    fakeApi.on('exit', () => resolveReady(null));
  });
  if (!ready) {
    console.error('start-lab: the fake Kubernetes API server did not start.');
    process.exit(3);
  }
  fakeApi.stdout.resume();
  env.KUBECONFIG = kubeconfig;
  console.log(`start-lab: fake Kubernetes API at ${ready.url} (KUBECONFIG=${kubeconfig})`);
} else {
  console.warn(`start-lab: no ${fakeApiMain} (build src first); the deploy tests will find no cluster.`);
}

const lab = spawn(join(venvBin, 'jupyter'), ['lab', '--config', join(here, 'jupyter_server_test_config.py')], {
  cwd: workspace,
  env,
  stdio: 'inherit',
});

let stopping = false;
const stop = (signal) => {
  if (stopping) return;
  stopping = true;
  lab.kill(signal);
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

lab.on('exit', (code) => {
  stopDaemons();
  fakeApi?.kill('SIGTERM');
  rmSync(scratch, { recursive: true, force: true });
  process.exit(code ?? 0);
});

/** Stops every Opsbook daemon whose discovery file is in our runtime dir, and waits for it to go. */
function stopDaemons() {
  if (!existsSync(runtimeDir)) return;
  for (const file of readdirSync(runtimeDir).filter((f) => /^opsbook-.*\.json$/.test(f))) {
    let pid;
    try {
      pid = JSON.parse(readFileSync(join(runtimeDir, file), 'utf8')).pid;
    } catch {
      continue;
    }
    if (!Number.isInteger(pid) || pid <= 1) continue;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      continue;
    }
    for (let i = 0; i < 50 && alive(pid); i++) spawnSync('sleep', ['0.1']);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
