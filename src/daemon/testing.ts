import { SchemaValidator } from '@opsbook/schema';
import { OpsbookApiError } from '../client/client';

/** Waits until `check` holds, polling every 20 ms; fails after `ms` (default 20 s). Tests only. */
export async function until(check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * What a call rejected with, as the API's status and error body; asserts it is an OpsbookApiError
 * whose body is valid against error.schema.json. Tests only.
 */
export async function refusal(pending: Promise<unknown>): Promise<{ status: number; field?: string; value?: unknown; message: string }> {
  const error = await pending.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(OpsbookApiError);
  const { status, body } = error as OpsbookApiError;
  expect(SchemaValidator.shared().check('error.schema.json', body)).toBeNull();
  return { status, ...body.error };
}
