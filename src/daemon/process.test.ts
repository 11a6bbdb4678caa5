import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SchemaValidator, type DaemonInfo } from '@opsbook/schema';
import { Store } from '../store/store';
import { discoveryPath, readDiscovery } from './discovery';

/** The built CLI; these tests run the real `opsbook daemon` process (build first: npx tsc -b src). */
const CLI = join(__dirname, '..', 'dist', 'cli', 'main.js');
const validator = new SchemaValidator();

interface Started {
  child: ChildProcess;
  first: Record<string, unknown>;
  exit: Promise<number | null>;
}

function startCli(args: string[], env: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve({ child, first: JSON.parse(line) as Record<string, unknown>, exit }));
    void exit.then((code) => reject(new Error(`opsbook ${args.join(' ')} exited ${code} before printing: ${stderr}`)));
  });
}

describe('opsbook daemon (a real process)', () => {
  let workspace: string;
  let runtime: string;
  let env: NodeJS.ProcessEnv;
  const started: ChildProcess[] = [];

  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with npx tsc -b src`);
  });
  beforeEach(() => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-proc-'));
    runtime = mkdtempSync(join(tmpdir(), 'opsbook-runtime-'));
    env = { ...process.env, JUPYTER_RUNTIME_DIR: runtime };
  });
  afterEach(() => {
    for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(workspace, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });

  it('prints a ready line, writes a 0600 discovery file, lets a second daemon attach, and stops cleanly on SIGTERM', async () => {
    const first = await startCli(['daemon', '--workspace', workspace], env);
    started.push(first.child);
    expect(first.first.event).toBe('ready');
    const { event: _event, ...info } = first.first;
    expect(validator.check('daemon-info.schema.json', info)).toBeNull();
    expect(JSON.stringify(first.first)).not.toContain('token');
    const path = discoveryPath(workspace, runtime);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const discovery = readDiscovery(path);
    expect(discovery).toMatchObject({ ...info, token: expect.stringMatching(/^[0-9a-f]{64}$/) });

    const second = await startCli(['daemon', '--workspace', workspace], env);
    started.push(second.child);
    expect(second.first).toEqual({ ...info, event: 'attached' });
    expect(await second.exit).toBe(0);

    const health = await fetch(`${(info as unknown as DaemonInfo).url}/health`, { headers: { Authorization: `Bearer ${discovery!.token}` } });
    expect(health.status).toBe(200);

    first.child.kill('SIGTERM');
    expect(await first.exit).toBe(0);
    expect(existsSync(path)).toBe(false);
    expect(existsSync(join(workspace, '.opsbook', 'opsbook.duckdb'))).toBe(true);
  });

  it('stops cleanly when SIGTERM comes twice in a row (the second joins the first stop)', async () => {
    const daemon = await startCli(['daemon', '--workspace', workspace], env);
    started.push(daemon.child);
    daemon.child.kill('SIGTERM');
    daemon.child.kill('SIGTERM');
    expect(await daemon.exit).toBe(0);
    expect(existsSync(discoveryPath(workspace, runtime))).toBe(false);
  });

  it('lets exactly one of two racing daemons open the store; the other attaches', async () => {
    const [a, b] = await Promise.all([startCli(['daemon', '--workspace', workspace], env), startCli(['daemon', '--workspace', workspace], env)]);
    started.push(a.child, b.child);
    const events = [a.first.event, b.first.event].sort();
    expect(events).toEqual(['attached', 'ready']);
    expect(a.first.pid).toBe(b.first.pid);
    const winner = a.first.event === 'ready' ? a : b;
    winner.child.kill('SIGTERM');
    expect(await winner.exit).toBe(0);
  });

  it('replaces the stale discovery file of a daemon that was killed, keeping its data', async () => {
    const first = await startCli(['daemon', '--workspace', workspace], env);
    started.push(first.child);
    const discovery = readDiscovery(discoveryPath(workspace, runtime))!;
    const created = await fetch(`${discovery.url}/runs`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${discovery.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'survivor' }),
    });
    expect(created.status).toBe(201);
    first.child.kill('SIGKILL');
    await first.exit;
    expect(existsSync(discoveryPath(workspace, runtime))).toBe(true);
    const second = await startCli(['daemon', '--workspace', workspace], env);
    started.push(second.child);
    expect(second.first.event).toBe('ready');
    expect(second.first.pid).not.toBe(first.first.pid);
    const fresh = readDiscovery(discoveryPath(workspace, runtime))!;
    expect(fresh.token).not.toBe(discovery.token);
    const list = (await (await fetch(`${fresh.url}/runs`, { headers: { Authorization: `Bearer ${fresh.token}` } })).json()) as { runs: { name: string }[] };
    expect(list.runs.map((r) => r.name)).toEqual(['survivor']);
    second.child.kill('SIGINT');
    expect(await second.exit).toBe(0);
  });

  it('waits while another process holds the store, and opens it once that process lets go', async () => {
    const holder = await Store.open(workspace);
    const child = spawn(process.execPath, [CLI, 'daemon', '--workspace', workspace], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(child);
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const ready = new Promise<Record<string, unknown>>((resolve) => {
      createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line) as Record<string, unknown>));
    });
    try {
      while (!stderr.includes('waiting')) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(stderr).toContain(`PID ${process.pid}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(child.exitCode).toBeNull();
    } finally {
      await holder.close();
    }
    const first = await Promise.race([ready, exit.then((code) => ({ event: `exited ${code}: ${stderr}` }))]);
    expect(first.event).toBe('ready');
    expect(readDiscovery(discoveryPath(workspace, runtime))?.pid).toBe(child.pid);
    child.kill('SIGTERM');
    const code = await exit;
    expect({ code, signal: child.signalCode }).toEqual({ code: 0, signal: null });
  });

  it('exits 3 naming the port when the port is taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const child = spawn(process.execPath, [CLI, 'daemon', '--workspace', workspace, '--port', String(port)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      started.push(child);
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(3);
      expect(stderr).toContain(String(port));
      expect(existsSync(discoveryPath(workspace, runtime))).toBe(false);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
