import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelBridgeError } from '../errors';
import { pythonStringLiteral } from '../python';
import { PYTHON, isAlive, startTestKernel, type TestKernel } from '../testing/kernels';
import { KernelProcess, ZmqKernelTransport, startKernel } from './zmq';

jest.setTimeout(30_000);

describe('ZmqKernelTransport against a real ipykernel', () => {
  let test: TestKernel;

  beforeAll(async () => {
    test = await startTestKernel();
  });

  afterAll(async () => {
    await test?.stop();
  });

  it('handshakes with kernel_info_reply', () => {
    expect(test.transport.kernelInfo).toMatchObject({ status: 'ok', implementation: 'ipython', protocol_version: expect.stringMatching(/^5\./) });
  });

  it('runs code and collects stream output and the execute result', async () => {
    const result = await test.transport.execute('import sys\nprint("hello")\nprint("again")\nprint("oops", file=sys.stderr)\n6 * 7');

    expect(result.status).toBe('ok');
    expect(result.executionCount).toEqual(expect.any(Number));
    // ipykernel flushes stdout and stderr separately, and may send a print in two messages ("oops", "\n"):
    // the order across the two streams, and where a stream's text is cut, are the kernel's, not ours.
    const streams = result.outputs.filter((output) => output.output_type === 'stream') as { name: string; text: string }[];
    const text = (name: string): string => streams.filter((output) => output.name === name).map((output) => output.text).join('');
    expect(text('stdout')).toBe('hello\nagain\n');
    expect(text('stderr')).toBe('oops\n');
    expect(result.outputs.filter((output) => output.output_type !== 'stream')).toEqual([
      { output_type: 'execute_result', data: { 'text/plain': '42' }, metadata: {}, execution_count: result.executionCount },
    ]);
  });

  it('collects display_data with custom mimetypes', async () => {
    const result = await test.transport.execute(
      'from IPython.display import display\ndisplay({"application/vnd.opsbook.test+json": {"n": 1}, "text/plain": "n=1"}, raw=True)',
    );

    expect(result.outputs).toEqual([
      { output_type: 'display_data', data: { 'application/vnd.opsbook.test+json': { n: 1 }, 'text/plain': 'n=1' }, metadata: {} },
    ]);
  });

  it('streams each output to onOutput as it arrives, before the cell finishes', async () => {
    const seen: { at: number; outputs: unknown[] }[] = [];
    const started = Date.now();
    const result = await test.transport.execute(
      'import time\nprint("first", flush=True)\ntime.sleep(1.5)\nprint("second", flush=True)\n"done"',
      { onOutput: (outputs) => seen.push({ at: Date.now() - started, outputs: structuredClone([...outputs]) }) },
    );
    const finished = Date.now() - started;

    expect(seen[0].outputs).toEqual([{ output_type: 'stream', name: 'stdout', text: 'first\n' }]);
    // The first line reached the listener while the kernel still slept, not with the reply.
    expect(finished - seen[0].at).toBeGreaterThanOrEqual(1000);
    expect(seen[seen.length - 1].outputs).toEqual(result.outputs);
    expect(result.outputs).toEqual([
      { output_type: 'stream', name: 'stdout', text: 'first\nsecond\n' },
      { output_type: 'execute_result', data: { 'text/plain': "'done'" }, metadata: {}, execution_count: result.executionCount },
    ]);
  });

  it('interrupts running code through SIGINT: the cell ends with KeyboardInterrupt and the kernel lives on', async () => {
    const outputs: number[] = [];
    const running = test.transport.execute('import time\nprint("sleeping", flush=True)\ntime.sleep(30)', {
      onOutput: (list) => outputs.push(list.length),
    });
    while (outputs.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    test.kernel.interrupt();
    const result = await running;

    expect(result.status).toBe('error');
    expect(result.error).toMatchObject({ ename: 'KeyboardInterrupt' });
    expect(test.kernel.running).toBe(true);
    expect((await test.transport.execute('1 + 1')).status).toBe('ok');
  });

  it('reports a Python exception as status error with its traceback', async () => {
    const result = await test.transport.execute('print("before")\n1 / 0');

    expect(result.status).toBe('error');
    expect(result.error).toMatchObject({ ename: 'ZeroDivisionError', evalue: 'division by zero' });
    expect(result.outputs[0]).toEqual({ output_type: 'stream', name: 'stdout', text: 'before\n' });
    expect(result.outputs[1]).toMatchObject({ output_type: 'error', ename: 'ZeroDivisionError' });
  });

  it('evaluates user expressions silently, leaving the execution counter alone', async () => {
    const before = await test.transport.execute('answer = 41');
    const evaluated = await test.transport.evaluate({ a: 'answer + 1', b: 'undefined_name' });
    const after = await test.transport.execute('answer');

    expect(evaluated.a).toEqual({ status: 'ok', data: { 'text/plain': '42' }, metadata: {} });
    expect(evaluated.b).toMatchObject({ status: 'error', ename: 'NameError' });
    expect(after.executionCount).toBe((before.executionCount ?? 0) + 1);
  });

  it('sends any text to Python unchanged through pythonStringLiteral', async () => {
    const text = `it's "quoted" \\ back\\slash\n\ttab \u0000 nul é 漢字 🚀 \u2028 end`;

    const result = await test.transport.execute(`print(${pythonStringLiteral(text)}, end="")`);

    expect(result.outputs).toEqual([{ output_type: 'stream', name: 'stdout', text }]);
  });

  it('times out a call to a busy kernel, and the kernel answers again once free', async () => {
    const sleeping = test.transport.execute('import time\ntime.sleep(1.5)\nprint("woke")', { timeoutMs: 300 });
    await expect(sleeping).rejects.toMatchObject({ code: 'timeout' });
    await expect(test.transport.evaluate({ x: '1' }, { timeoutMs: 200 })).rejects.toMatchObject({ code: 'timeout' });

    const next = await test.transport.execute('"free"', { timeoutMs: 10_000 });
    expect(next.outputs).toEqual([expect.objectContaining({ output_type: 'execute_result', data: { 'text/plain': "'free'" } })]);
  });
});

describe('KernelProcess', () => {
  it('shuts a kernel down through control, and close fails pending calls', async () => {
    const test = await startTestKernel();
    const pid = test.kernel.pid as number;
    const connectionFile = test.kernel.connectionFile;
    expect(isAlive(pid)).toBe(true);
    expect(existsSync(connectionFile)).toBe(true);

    const exit = await test.kernel.shutdown({ transport: test.transport });
    const afterShutdown = test.transport.evaluate({ x: '1' }, { timeoutMs: 500 });
    await test.transport.close();

    expect(exit).toEqual({ code: 0, signal: null });
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(connectionFile)).toBe(false);
    await expect(afterShutdown).rejects.toBeInstanceOf(KernelBridgeError);
    await expect(test.transport.execute('1')).rejects.toMatchObject({ code: 'kernel_error' });
    await test.stop();
  });

  it('close rejects a call still waiting for its reply, and shutdown kills a busy kernel', async () => {
    const test = await startTestKernel();
    const pid = test.kernel.pid as number;

    const busy = test.transport.execute('import time\ntime.sleep(30)');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await test.transport.close();
    await expect(busy).rejects.toMatchObject({ code: 'kernel_error' });

    const exit = await test.kernel.shutdown({ timeoutMs: 3000 });
    expect(exit.signal === 'SIGTERM' || exit.signal === 'SIGKILL').toBe(true);
    expect(isAlive(pid)).toBe(false);
    await test.stop();
  });

  it('fails fast, with the kernel stderr, when the kernel dies before answering', async () => {
    const kernel = await startKernel({ python: PYTHON, pythonArgs: ['-c', 'raise SystemExit("no kernel here")'] });

    const started = Date.now();
    await expect(kernel.connect({ connectTimeoutMs: 20_000 })).rejects.toThrow(/exited \(code 1.*\n.*no kernel here/s);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(kernel.running).toBe(false);
    await kernel.shutdown();
    expect(existsSync(kernel.connectionFile)).toBe(false);
  });

  it('cannot start a Python that does not exist', async () => {
    await expect(startKernel({ python: '/nonexistent/python3' })).rejects.toMatchObject({ code: 'kernel_error' });
  });

  it('times out connecting where no kernel listens', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'opsbook-bridge-test-'));
    try {
      const file = join(dir, 'kernel.json');
      const nobody = { shell_port: 1, iopub_port: 2, control_port: 3, ip: '127.0.0.1', transport: 'tcp', key: 'k', signature_scheme: 'hmac-sha256' };
      await writeFile(file, JSON.stringify(nobody));
      await expect(ZmqKernelTransport.fromConnectionFile(file, { connectTimeoutMs: 600 })).rejects.toMatchObject({ code: 'timeout' });
      await writeFile(file, '{"shell_port": "x"}');
      await expect(ZmqKernelTransport.fromConnectionFile(file)).rejects.toThrow(/shell_port is not a port: "x"/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is what startKernel returns', async () => {
    const kernel = await startKernel({ python: PYTHON, pythonArgs: ['-c', 'pass'] });
    expect(kernel).toBeInstanceOf(KernelProcess);
    await kernel.shutdown();
  });
});
