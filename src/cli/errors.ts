/** Exit codes of `opsbook` (see DESIGN.md). */
export const EXIT_OK = 0;
export const EXIT_USAGE = 2;
export const EXIT_ENVIRONMENT = 3;
/** The user interrupted the command (Ctrl-C): 128 + SIGINT, as a shell reports it. */
export const EXIT_INTERRUPTED = 130;

/** Bad usage or bad input: exit 2 with a one-line message naming the offending value. */
export class UsageError extends Error {
  readonly exitCode = EXIT_USAGE;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The machine, not the user, is the problem (port taken, store locked): exit 3. */
export class EnvironmentError extends Error {
  readonly exitCode = EXIT_ENVIRONMENT;
  constructor(message: string) {
    super(message);
    this.name = 'EnvironmentError';
  }
}

/** The user interrupted the command (Ctrl-C) and the work it asked for was cancelled: exit 130. */
export class InterruptedError extends Error {
  readonly exitCode = EXIT_INTERRUPTED;
  constructor(message: string) {
    super(message);
    this.name = 'InterruptedError';
  }
}
