/**
 * JupyterLabKernelTransport over the connection JupyterLab itself uses: a real Jupyter server on
 * 127.0.0.1, a real kernel it starts, `@jupyterlab/services` talking to it over HTTP + WebSocket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelManager, ServerConnection, type Kernel } from '@jupyterlab/services';
import WebSocket from 'ws';
import { KernelBridge } from '../bridge';
import { PYTHON, PYTHON_PACKAGE, isAlive } from '../testing/kernels';
import { JupyterLabKernelTransport } from './jupyterlab';

jest.setTimeout(30_000);

interface ServerInfo {
  url: string;
  token: string;
  pid: number;
}

async function waitForServerInfo(runtimeDir: string, server: ChildProcess, log: () => string): Promise<ServerInfo> {
  const deadline = Date.now() + 25_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`jupyter server exited ${server.exitCode}:\n${log()}`);
    const names = existsSync(runtimeDir) ? (await readdir(runtimeDir)).filter((name) => /^jpserver-\d+\.json$/.test(name)) : [];
    if (names.length > 0) return JSON.parse(await readFile(join(runtimeDir, names[0]), 'utf8')) as ServerInfo;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`jupyter server did not start:\n${log()}`);
}

describe('JupyterLabKernelTransport against a real Jupyter server', () => {
  let dir: string;
  let server: ChildProcess;
  let manager: KernelManager;
  let kernel: Kernel.IKernelConnection;
  let transport: JupyterLabKernelTransport;
  let serverLog = '';

  beforeAll(async () => {
    jest.spyOn(console, 'debug').mockImplementation(() => undefined); // services' connection chatter
    dir = await mkdtemp(join(tmpdir(), 'opsbook-bridge-test-'));
    const runtimeDir = join(dir, 'runtime');
    const configDir = join(dir, 'config');
    await mkdir(configDir, { recursive: true });
    // Only the kernel matters here; opsbook's own server extension would start a daemon.
    await writeFile(join(configDir, 'jupyter_server_config.json'), JSON.stringify({ ServerApp: { jpserver_extensions: { opsbook: false } } }));
    server = spawn(
      PYTHON,
      ['-m', 'jupyter_server', '--allow-root', '--ServerApp.ip=127.0.0.1', '--ServerApp.port=0', '--ServerApp.open_browser=False', `--ServerApp.root_dir=${dir}`],
      {
        cwd: dir,
        env: { ...process.env, JUPYTER_RUNTIME_DIR: runtimeDir, JUPYTER_CONFIG_DIR: configDir, IPYTHONDIR: join(dir, 'ipython'), PYTHONPATH: PYTHON_PACKAGE },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    server.stdout?.on('data', (chunk: Buffer) => (serverLog += chunk.toString()));
    server.stderr?.on('data', (chunk: Buffer) => (serverLog += chunk.toString()));
    const info = await waitForServerInfo(runtimeDir, server, () => serverLog);
    const serverSettings = ServerConnection.makeSettings({
      baseUrl: info.url,
      wsUrl: info.url.replace(/^http/, 'ws'),
      token: info.token,
      WebSocket,
      fetch: globalThis.fetch,
    });
    manager = new KernelManager({ serverSettings });
    await manager.ready;
    kernel = await manager.startNew({ name: 'python3' });
    transport = new JupyterLabKernelTransport(kernel, 20_000);
  });

  afterAll(async () => {
    await kernel?.shutdown().catch(() => undefined);
    manager?.dispose();
    if (server?.pid && server.exitCode === null) {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 10_000)))]);
      clearTimeout(timer);
      if (isAlive(server.pid)) server.kill('SIGKILL');
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs code and collects its outputs', async () => {
    const result = await transport.execute('print("from lab")\n2 ** 10');

    expect(result.status).toBe('ok');
    expect(result.outputs).toEqual([
      { output_type: 'stream', name: 'stdout', text: 'from lab\n' },
      { output_type: 'execute_result', data: { 'text/plain': '1024' }, metadata: {}, execution_count: result.executionCount },
    ]);
  });

  it('answers inventory through the bridge', async () => {
    await transport.execute('import pandas as pd\nframe = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})\nthreshold = 0.75');

    const result = await new KernelBridge(transport).inventory();

    expect(result.variables).toEqual([
      {
        name: 'frame', kind: 'dataframe', type: 'pandas.DataFrame', library: 'pandas', shape: [3, 2],
        columns: [{ name: 'a', dtype: 'int64' }, { name: 'b', dtype: expect.any(String) }],
      },
      { name: 'threshold', kind: 'scalar', type: 'float', library: 'builtins', value: 0.75 },
    ]);
  });

  it('reports a Python exception as status error', async () => {
    const result = await transport.execute('raise KeyError("missing")');

    expect(result.status).toBe('error');
    expect(result.error).toMatchObject({ ename: 'KeyError', evalue: "'missing'" });
  });

  it('times out while the kernel is busy, then answers again', async () => {
    const busy = transport.execute('import time\ntime.sleep(1)');

    await expect(new KernelBridge(transport).inventory({}, { timeoutMs: 200 })).rejects.toMatchObject({ code: 'timeout' });
    await expect(busy).resolves.toMatchObject({ status: 'ok' });
    await expect(transport.evaluate({ one: '1' })).resolves.toEqual({ one: { status: 'ok', data: { 'text/plain': '1' }, metadata: {} } });
  });

  it('refuses calls once closed, leaving JupyterLab its kernel', async () => {
    const closed = new JupyterLabKernelTransport(kernel);
    await closed.close();

    await expect(closed.execute('1')).rejects.toMatchObject({ code: 'kernel_error' });
    expect(kernel.isDisposed).toBe(false);
  });
});
