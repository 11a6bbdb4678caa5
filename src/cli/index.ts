export { runCli } from './cli';
export { parseCommand, commandUsage, topUsage, type ParsedCommand } from './args';
export { UsageError, EnvironmentError, EXIT_OK, EXIT_USAGE, EXIT_ENVIRONMENT } from './errors';
