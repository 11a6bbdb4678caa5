#!/usr/bin/env node
import { setCliEntry } from '../daemon/launch';
import { runCli } from './cli';

setCliEntry(__filename);

void runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
