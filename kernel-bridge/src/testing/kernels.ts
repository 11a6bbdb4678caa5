import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { KernelProcess, ZmqKernelTransport, startKernel } from '../transports/zmq';

/** The Python with ipykernel that tests start kernels with. */
export const PYTHON = process.env.OPSBOOK_TEST_PYTHON ?? resolve(__dirname, '../../../.venv/bin/python');
/** The folder holding the `opsbook` Python package of this checkout. */
export const PYTHON_PACKAGE = resolve(__dirname, '../../python');
export const REPO = resolve(__dirname, '../../..');

/**
 * Makes `import opsbook` fail in a kernel whose path does hold the package, the way it fails where
 * the package is not installed: a meta-path finder that raises ModuleNotFoundError.
 */
const BLOCK_OPSBOOK = `import sys

class _NoOpsbook:
    def find_spec(self, name, path=None, target=None):
        if name == "opsbook" or name.startswith("opsbook."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NoOpsbook())
`;

/** A real ipykernel in its own temp folders, with a connected transport. */
export interface TestKernel {
  dir: string;
  workspace: string;
  runtimeDir: string;
  env: NodeJS.ProcessEnv;
  kernel: KernelProcess;
  transport: ZmqKernelTransport;
  /** Shuts the kernel down, closes the transport and removes the temp folders. */
  stop(): Promise<void>;
}

/**
 * Starts an ipykernel with fresh workspace, Jupyter runtime and IPython folders.
 * @throws KernelBridgeError when the kernel does not start.
 */
export async function startTestKernel(options: { blockOpsbook?: boolean; env?: Record<string, string> } = {}): Promise<TestKernel> {
  const dir = await mkdtemp(join(tmpdir(), 'opsbook-bridge-test-'));
  const workspace = join(dir, 'workspace');
  const runtimeDir = join(dir, 'runtime');
  const site = join(dir, 'site');
  await Promise.all([workspace, runtimeDir, site, join(dir, 'ipython')].map((folder) => mkdir(folder, { recursive: true })));
  const paths = [PYTHON_PACKAGE];
  if (options.blockOpsbook) {
    await writeFile(join(site, 'sitecustomize.py'), BLOCK_OPSBOOK);
    paths.unshift(site);
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PYTHONPATH: paths.join(delimiter),
    JUPYTER_RUNTIME_DIR: runtimeDir,
    IPYTHONDIR: join(dir, 'ipython'),
    OPSBOOK_WORKSPACE: workspace,
    ...options.env,
  };
  const kernel = await startKernel({ python: PYTHON, cwd: workspace, env });
  let transport: ZmqKernelTransport;
  try {
    transport = await kernel.connect({ connectTimeoutMs: 30_000, timeoutMs: 30_000 });
  } catch (error) {
    await kernel.shutdown();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    dir,
    workspace,
    runtimeDir,
    env,
    kernel,
    transport,
    async stop() {
      await kernel.shutdown({ transport, timeoutMs: 5000 });
      await transport.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Whether a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
