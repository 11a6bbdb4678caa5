import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** The built CLI (build first: `npx tsc -b`). */
export const BUILT_CLI = join(__dirname, '..', 'dist', 'cli', 'main.js');

/** What one run of the CLI printed, and its exit code. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI asynchronously, so a daemon in the test's own process can answer it. */
export function runBuiltCli(args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BUILT_CLI, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
