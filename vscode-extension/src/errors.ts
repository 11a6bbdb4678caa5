import { OpsbookApiError } from '@opsbook/core/client';

/** A one-line description of a failure for a tree, a message or the log. */
export function describeError(error: unknown): string {
  if (error instanceof OpsbookApiError) {
    const { message, field, value } = error.body.error as { message: string; field?: string; value?: unknown };
    return field ? `${message} (${field}: ${JSON.stringify(value)})` : message;
  }
  return error instanceof Error ? error.message : String(error);
}
