import { SchemaError, type ErrorBody } from '@opsbook/schema';
import { BadInputError, ConflictError, NotFoundError } from '../store/errors';
import { ArtifactTooLargeError } from '../tracking/artifacts';

export type ErrorCode = ErrorBody['error']['code'];

/** An answer the request pipeline gives before any handler runs (auth, routing, body reading). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
    readonly value?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** What the server sends for an error. */
export interface ErrorAnswer {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
  /** Set for failures nobody expected: the server logs these. */
  unexpected?: unknown;
}

/**
 * The one place errors become HTTP answers. Bad input of any kind is a 4xx naming the field and value;
 * anything not recognised is a 500 with a generic message (the details go to the log, not the client).
 */
export function toErrorAnswer(error: unknown): ErrorAnswer {
  if (error instanceof HttpError) return answer(error.status, error.code, error.message, error.field, error.value, error.headers);
  if (error instanceof SchemaError) return answer(400, 'bad_request', error.issue.message, error.issue.field, error.issue.value);
  if (error instanceof BadInputError) return answer(400, 'bad_request', error.message, error.field, error.value);
  if (error instanceof NotFoundError) return answer(404, 'not_found', error.message, error.field, error.value);
  if (error instanceof ConflictError) return answer(409, 'conflict', error.message, error.field, error.value);
  if (error instanceof ArtifactTooLargeError) return answer(413, 'payload_too_large', error.message, 'body');
  return { ...answer(500, 'internal', 'internal error; see the daemon log'), unexpected: error };
}

function answer(
  status: number,
  code: ErrorCode,
  message: string,
  field?: string,
  value?: unknown,
  headers: Record<string, string> = {},
): ErrorAnswer {
  const error: ErrorBody['error'] = { code, message };
  if (field !== undefined) error.field = field;
  if (value !== undefined) error.value = value as ErrorBody['error']['value'];
  return { status, body: { error }, headers };
}
