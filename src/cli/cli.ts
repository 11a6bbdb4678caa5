import type { ErrorBody } from '@opsbook/schema';
import { toErrorAnswer } from '../daemon/errors';
import { CORE_VERSION } from '../daemon/version';
import { BadInputError, ConflictError, NotFoundError } from '../store/errors';
import { commandUsage, parseCommand, topUsage } from './args';
import { compareCommand } from './compare-command';
import { daemonCommand } from './daemon-command';
import { EnvironmentError, EXIT_USAGE, InterruptedError, UsageError } from './errors';
import { mlflowCommand } from './mlflow-command';
import { modelsCommand } from './models-command';
import { qualityCommand } from './quality-command';
import { explainCommand } from './explain-command';
import { endpointsCommand, gpuCommand, serveCommand } from './serve-command';
import { deployCommand } from './deploy-command';
import { runsCommand, type CliOutput } from './runs-command';

const processOutput: CliOutput = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/**
 * Runs one `opsbook` command line and returns its exit code: 0 ok (also for `--version`, which prints
 * the core's version), 1 the data failed its checks or drifted (`check`, `drift`), 2 bad usage, bad input
 * or an unknown run, 3 an environment problem, 130 interrupted (Ctrl-C cancelled the daemon's work). Messages go to stderr as
 * one line; with `--json`, stdout also gets the error as one `error.schema.json` document.
 */
export async function runCli(argv: readonly string[], out: CliOutput = processOutput): Promise<number> {
  // `opsbook --version` answers before anything is parsed or opened: installers and bug reports use it.
  if (argv.length === 1 && argv[0] === '--version') {
    out.stdout(`${CORE_VERSION}\n`);
    return 0;
  }
  try {
    const parsed = parseCommand(argv);
    if (parsed === null) {
      const wantsHelp = argv.includes('--help') || argv.includes('-h');
      (wantsHelp ? out.stdout : out.stderr)(topUsage());
      return wantsHelp ? 0 : EXIT_USAGE;
    }
    if (parsed.help) {
      out.stdout(commandUsage(parsed.command, parsed.spec));
      return 0;
    }
    switch (parsed.command) {
      case 'daemon':
        return await daemonCommand(parsed, out);
      case 'runs list':
      case 'runs show':
      case 'runs update':
      case 'runs delete':
      case 'runs restore':
        return await runsCommand(parsed, out);
      case 'runs compare':
        return await compareCommand(parsed, out);
      case 'models list':
      case 'models show':
      case 'models alias':
        return await modelsCommand(parsed, out);
      case 'check':
      case 'profile':
      case 'drift':
        return await qualityCommand(parsed, out);
      case 'explain':
        return await explainCommand(parsed, out);
      case 'serve':
        return await serveCommand(parsed, out);
      case 'endpoints list':
      case 'endpoints show':
      case 'endpoints stop':
      case 'endpoints logs':
        return await endpointsCommand(parsed, out);
      case 'deploy':
      case 'deploy status':
      case 'deploy promote':
      case 'deploy rollback':
      case 'deploy delete':
        return await deployCommand(parsed, out);
      case 'gpu setup':
        return await gpuCommand(parsed, out);
      case 'runs import-mlflow':
      case 'runs export-mlflow':
        return await mlflowCommand(parsed, out);
      default:
        throw new UsageError(`"${parsed.command}" is not available from the command line yet`);
    }
  } catch (error) {
    const failure = describeFailure(error);
    out.stderr(`opsbook: ${failure.body.error.message}\n`);
    if (argv.includes('--json')) out.stdout(`${JSON.stringify(failure.body)}\n`);
    return failure.exitCode;
  }
}

/** The exit code and the `error.schema.json` body of a failed command. */
function describeFailure(error: unknown): { exitCode: number; body: ErrorBody } {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof UsageError) return { exitCode: error.exitCode, body: { error: { code: 'bad_request', message } } };
  if (error instanceof EnvironmentError) {
    return { exitCode: error.exitCode, body: { error: { code: 'unavailable', message } } };
  }
  if (error instanceof InterruptedError) return { exitCode: error.exitCode, body: { error: { code: 'conflict', message } } };
  if (error instanceof NotFoundError || error instanceof BadInputError || error instanceof ConflictError) {
    return { exitCode: EXIT_USAGE, body: toErrorAnswer(error).body };
  }
  return { exitCode: 1, body: { error: { code: 'internal', message: `unexpected failure: ${message}` } } };
}
