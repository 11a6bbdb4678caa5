import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as vscode from 'vscode';
import { NotebookController, notebookEvents, stub, type NotebookCellExecution } from '../testing/vscode';
import { OpsbookKernels, kernelPython } from './kernels';

const REPO = resolve(__dirname, '../../..');
const PYTHON = process.env.OPSBOOK_TEST_PYTHON ?? join(REPO, '.venv/bin/python');
const CLI = join(REPO, 'src/dist/cli/main.js');
const RUN_MIMETYPE = 'application/vnd.opsbook.run+json';

const decode = (item: vscode.NotebookCellOutputItem): string => new TextDecoder().decode(item.data);
const items = (execution: NotebookCellExecution): { mime: string; text: string }[] =>
  execution.outputs.flatMap((output) => output.items.map((item) => ({ mime: item.mime, text: decode(item as vscode.NotebookCellOutputItem) })));

const log = { info: jest.fn(), warn: jest.fn(), debug: jest.fn(), error: jest.fn(), trace: jest.fn() } as unknown as vscode.LogOutputChannel;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('kernelPython', () => {
  it('takes the setting first, then the workspace .venv, then python3', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'opsbook-python-'));
    expect(kernelPython('/opt/py/bin/python', folder)).toBe('/opt/py/bin/python');
    expect(kernelPython(undefined, folder)).toBe('python3');
    expect(kernelPython(undefined, REPO)).toBe(join(REPO, '.venv/bin/python'));
    await rm(folder, { recursive: true, force: true });
  });
});

describe('the Opsbook notebook controller with a real ipykernel', () => {
  let dir: string;
  let workspace: string;
  let kernels: OpsbookKernels;
  let controller: NotebookController;
  const saved = { ...process.env };
  const notebook = (): vscode.NotebookDocument =>
    ({ uri: vscode.Uri.file(join(workspace, 'train.ipynb')), notebookType: 'jupyter-notebook' }) as unknown as vscode.NotebookDocument;
  const cell = (code: string): vscode.NotebookCell => ({ document: { getText: () => code } }) as unknown as vscode.NotebookCell;
  const run = async (code: string): Promise<NotebookCellExecution> => {
    const before = controller.executions.length;
    await controller.executeHandler!([cell(code)], notebook(), controller);
    return controller.executions[before];
  };

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run make build (or npx tsc -b) first`);
    dir = await mkdtemp(join(tmpdir(), 'opsbook-controller-'));
    workspace = join(dir, 'workspace');
    await Promise.all([workspace, join(dir, 'runtime'), join(dir, 'ipython')].map((folder) => mkdir(folder, { recursive: true })));
    // The kernel inherits this environment: its own Jupyter runtime and IPython folders, and the CLI
    // that %%track starts the workspace's daemon with.
    Object.assign(process.env, {
      JUPYTER_RUNTIME_DIR: join(dir, 'runtime'),
      IPYTHONDIR: join(dir, 'ipython'),
      OPSBOOK_CLI: CLI,
      OPSBOOK_NODE: process.execPath,
    });
    stub.settings['opsbook.python.path'] = PYTHON;
    stub.workspaceFolders = [{ uri: vscode.Uri.file(workspace), name: 'workspace', index: 0 }];
    kernels = new OpsbookKernels({ subscriptions: [] } as unknown as vscode.ExtensionContext, log);
    controller = stub.controllers[stub.controllers.length - 1];
  });

  afterAll(async () => {
    kernels?.dispose();
    // Let the kernel's shutdown finish, then stop the daemon %%track started.
    await new Promise((done) => setTimeout(done, 1500));
    const runtime = join(dir, 'runtime');
    for (const name of existsSync(runtime) ? (await readdir(runtime)).filter((file) => /^opsbook-.*\.json$/.test(file)) : []) {
      const { pid } = JSON.parse(await readFile(join(runtime, name), 'utf8')) as { pid: number };
      if (isAlive(pid)) process.kill(pid, 'SIGTERM');
    }
    process.env = saved;
    await rm(dir, { recursive: true, force: true });
  });

  it('registers "Opsbook: Python (ipykernel)" for Jupyter notebooks, Python, with execution order', () => {
    expect(controller).toMatchObject({ notebookType: 'jupyter-notebook', label: 'Opsbook: Python (ipykernel)', supportedLanguages: ['python'] });
    expect(controller.supportsExecutionOrder).toBe(true);
  });

  it('is preferred for a notebook opened without the Jupyter extension', () => {
    const opened = notebook();
    notebookEvents.opened.fire(opened);
    expect(controller.affinities.get(opened)).toBe(vscode.NotebookControllerAffinity.Preferred);
  });

  it('runs a %%track cell: outputs arrive in order while it runs, and the run card item is there', async () => {
    expect((await run('%load_ext opsbook')).success).toBe(true);
    const execution = await run(
      '%%track --experiment vscode --name controller-run\nimport opsbook, time\nprint("training", flush=True)\ntime.sleep(1)\nopsbook.log_metrics({"loss": 0.25})\nprint("done")',
    );

    expect(execution.success).toBe(true);
    expect(execution.executionOrder).toEqual(expect.any(Number));
    // The first state after clearing held only the first line: it was shown before the cell ended.
    const states = execution.history.slice(1);
    expect(states.length).toBeGreaterThan(1);
    expect(states[0].flatMap((output) => output.items.map((item) => decode(item as vscode.NotebookCellOutputItem)))).toEqual(['training\n']);
    const shown = items(execution);
    expect(shown[0]).toEqual({ mime: 'application/vnd.code.notebook.stdout', text: 'training\ndone\n' });
    const card = shown.find((item) => item.mime === RUN_MIMETYPE);
    expect(card).toBeDefined();
    expect(JSON.parse(card!.text)).toMatchObject({ experiment: 'vscode', name: 'controller-run', status: 'finished' });
    // The run landed in the notebook's workspace folder store.
    expect(existsSync(join(workspace, '.opsbook'))).toBe(true);
  });

  it('fails an execution whose cell raises, with the error as an output', async () => {
    const execution = await run('print("before")\n1 / 0');

    expect(execution.success).toBe(false);
    const error = items(execution).find((item) => item.mime === 'application/vnd.code.notebook.error');
    expect(JSON.parse(error!.text)).toMatchObject({ name: 'ZeroDivisionError', message: 'division by zero' });
  });

  it('interrupts a running cell; the kernel keeps its state', async () => {
    await run('kept = 41');
    const running = run('import time\nprint("sleeping", flush=True)\ntime.sleep(30)');
    while (!controller.executions[controller.executions.length - 1]?.outputs.length) await new Promise((done) => setTimeout(done, 50));
    await controller.interruptHandler!(notebook());
    const execution = await running;

    expect(execution.success).toBe(false);
    expect(items(execution).some((item) => item.text.includes('KeyboardInterrupt'))).toBe(true);
    expect(items(await run('kept + 1'))).toEqual([{ mime: 'text/plain', text: '42' }]);
  });

  it('fails the cell whose kernel dies, saying so, and the next cell starts a new kernel', async () => {
    const execution = await run('import os\nos._exit(1)');

    expect(execution.success).toBe(false);
    expect(JSON.parse(items(execution)[0].text).message).toMatch(/kernel died while the cell ran.*Run the cell again/);
    const again = await run('"alive"');
    expect(again.success).toBe(true);
    expect(items(again)).toEqual([{ mime: 'text/plain', text: "'alive'" }]);
  });

  it('gives a bridge to its kernel that reaches the kernel\'s opsbook', async () => {
    const bridge = await kernels.bridgeFor(notebook());
    // A real round trip: the kernel's opsbook answers, and the bridge checks the reply's schema.
    expect(await bridge!.inventory()).toEqual(expect.any(Object));
  });

  it('says how to fix a Python that cannot start a kernel', async () => {
    stub.settings['opsbook.python.path'] = join(dir, 'no-such-python');
    const other = { uri: vscode.Uri.file(join(workspace, 'other.ipynb')), notebookType: 'jupyter-notebook' } as unknown as vscode.NotebookDocument;
    await controller.executeHandler!([cell('1')], other, controller);
    const execution = controller.executions[controller.executions.length - 1];
    stub.settings['opsbook.python.path'] = PYTHON;

    expect(execution.success).toBe(false);
    expect(JSON.parse(items(execution)[0].text).message).toMatch(/opsbook\.python\.path.*pip install ipykernel opsbook/);
  });

  it('shuts the kernel down when the notebook closes', async () => {
    notebookEvents.closed.fire(notebook());
    await new Promise((done) => setTimeout(done, 500));
    expect(await kernels.bridgeFor(notebook())).toBeNull();
  });
});
