import { OpsbookApiError } from '@opsbook/core/client';

/** A one-line message for an API failure, as the user should read it. */
export function describeError(reason: unknown): string {
  if (reason instanceof OpsbookApiError) {
    if (reason.status === 404 && reason.body.error.code === 'internal') {
      return 'The Opsbook server extension is not enabled in this Jupyter server (HTTP 404 on /opsbook/api/v1).';
    }
    return reason.body.error.message;
  }
  if (reason instanceof Error) return reason.message;
  return String(reason);
}
