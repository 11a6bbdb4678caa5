/** Exit codes of `opsbook` (see DESIGN.md). */
export const EXIT_OK = 0;
export const EXIT_USAGE = 2;
export const EXIT_ENVIRONMENT = 3;

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
