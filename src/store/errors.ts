/**
 * Errors every capability may raise about the records it keeps. The daemon maps each kind to one
 * HTTP status in one place (`daemon/errors.ts`), the CLI to one exit code.
 */

/** A record the caller named does not exist (HTTP 404, CLI exit 2). */
export class NotFoundError extends Error {
  constructor(
    readonly field: string,
    readonly value: string,
    message: string,
  ) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** The request contradicts what is already recorded (HTTP 409, CLI exit 2). */
export class ConflictError extends Error {
  constructor(
    readonly field: string,
    readonly value: unknown,
    message: string,
  ) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** Input that passed its schema but still cannot be used, e.g. an ambiguous id prefix (HTTP 400, CLI exit 2). */
export class BadInputError extends Error {
  constructor(
    readonly field: string,
    readonly value: unknown,
    message: string,
  ) {
    super(message);
    this.name = 'BadInputError';
  }
}

/** The store file is held by another process (CLI exit 3). */
export class StoreLockedError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'StoreLockedError';
  }
}
