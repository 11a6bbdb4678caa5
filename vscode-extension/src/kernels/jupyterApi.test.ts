import { KernelBridge, type KernelOutput } from '@opsbook/kernel-bridge';
import { startKernel, type KernelProcess, type ZmqKernelTransport } from '@opsbook/kernel-bridge/zmq';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as vscode from 'vscode';
import { stub } from '../testing/vscode';
import { JupyterApiTransport, jupyterExtensionBridge, type JupyterKernel } from './jupyterApi';

const PYTHON = process.env.OPSBOOK_TEST_PYTHON ?? resolve(__dirname, '../../../.venv/bin/python');

/**
 * A FAKE of the Jupyter extension's kernel API (`executeCode` streaming output items), since the real
 * `ms-toolsai.jupyter` cannot be installed here: it runs the code on a real ipykernel and hands back
 * each display output's items as that API does (mimetype + UTF-8 bytes).
 */
function fakeJupyterKernel(transport: ZmqKernelTransport, ran: string[]): JupyterKernel {
  return {
    async *executeCode(code) {
      ran.push(code);
      const result = await transport.execute(code);
      for (const output of result.outputs as KernelOutput[]) {
        if (output.output_type !== 'display_data' && output.output_type !== 'execute_result') continue;
        yield {
          items: Object.entries(output.data).map(([mime, value]) => ({
            mime,
            data: new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value)),
          })),
        };
      }
    },
  };
}

describe('the Jupyter extension kernel API transport, against a FAKE of that API over a real ipykernel', () => {
  let dir: string;
  let process_: KernelProcess;
  let transport: ZmqKernelTransport;
  const ran: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'opsbook-jupyter-api-'));
    process_ = await startKernel({ python: PYTHON, cwd: dir, env: { ...process.env, JUPYTER_RUNTIME_DIR: dir, IPYTHONDIR: join(dir, 'ipython') } });
    transport = await process_.connect({ connectTimeoutMs: 30_000, timeoutMs: 30_000 });
  });

  afterAll(async () => {
    await process_?.shutdown({ transport, timeoutMs: 5000 });
    await transport?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('evaluates expressions by displaying them: values come back as their mime bundles, exceptions as errors', async () => {
    const api = new JupyterApiTransport(fakeJupyterKernel(transport, ran));
    const results = await api.evaluate({ sum: '6 * 7', broken: '1 / 0' });

    expect(results.broken).toEqual({ status: 'error', ename: 'ZeroDivisionError', evalue: 'division by zero', traceback: [] });
    expect(results.sum).toEqual({ status: 'ok', data: { 'text/plain': '42' }, metadata: {} });
  });

  it("carries the bridge: inventory answers from the kernel's opsbook", async () => {
    const bridge = new KernelBridge(new JupyterApiTransport(fakeJupyterKernel(transport, ran)));
    const inventory = await bridge.inventory();

    expect(inventory).toEqual(expect.any(Object));
    expect(ran[ran.length - 1]).toContain('__opsbook_evaluate');
    // The helper it defines is removed again, leaving the user's namespace as it was.
    const leftover = await transport.execute('"__opsbook_evaluate" in globals()');
    expect(leftover.outputs).toEqual([expect.objectContaining({ data: { 'text/plain': 'False' } })]);
  });

  it('does not run cells: execute says the Jupyter extension runs them', async () => {
    await expect(new JupyterApiTransport(fakeJupyterKernel(transport, ran)).execute()).rejects.toMatchObject({ code: 'kernel_error' });
  });

  it("finds the notebook's kernel through the installed extension's API, and null without it", async () => {
    const uri = vscode.Uri.file(join(dir, 'a.ipynb'));
    delete stub.extensions['ms-toolsai.jupyter'];
    expect(await jupyterExtensionBridge(uri)).toBeNull();

    const asked: string[] = [];
    stub.extensions['ms-toolsai.jupyter'] = {
      isActive: true,
      exports: {
        kernels: {
          getKernel: (target: vscode.Uri) => {
            asked.push(target.toString());
            return Promise.resolve(target.toString() === uri.toString() ? fakeJupyterKernel(transport, ran) : undefined);
          },
        },
      },
    };
    const bridge = await jupyterExtensionBridge(uri);
    expect(asked).toEqual([uri.toString()]);
    expect(await bridge!.inventory()).toEqual(expect.any(Object));
    expect(await jupyterExtensionBridge(vscode.Uri.file(join(dir, 'no-kernel.ipynb')))).toBeNull();
    delete stub.extensions['ms-toolsai.jupyter'];
  });
});
