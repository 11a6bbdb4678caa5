#!/usr/bin/env node
import { setCliEntry } from '../daemon/launch';
import { runCli } from './cli';

setCliEntry(__filename);

// A reader that stops early (`opsbook runs list | head`) is not a failure of the command.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
});

void runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
