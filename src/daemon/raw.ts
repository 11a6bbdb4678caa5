import type { Readable } from 'node:stream';

/**
 * A handler's answer that is not JSON: bytes streamed with headers of their own (an artifact's
 * content). The server adds `Content-Length`, `Cache-Control: no-store` and `nosniff`.
 */
export class RawAnswer {
  constructor(
    readonly body: Readable,
    readonly length: number,
    readonly headers: Record<string, string>,
  ) {}
}
