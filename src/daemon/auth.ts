import { randomBytes, timingSafeEqual } from 'node:crypto';

/** A fresh bearer token: 32 random bytes, hex (256 bits). */
export function createToken(): string {
  return randomBytes(32).toString('hex');
}

/**
 * Whether an `Authorization` header carries `token`, compared in constant time so that the answer's
 * timing says nothing about how much of a guess was right.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const given = Buffer.from(match?.[1] ?? '', 'utf8');
  const expected = Buffer.from(token, 'utf8');
  // Compare equal-length buffers always, so a wrong length costs the same time as a wrong byte.
  const padded = Buffer.alloc(expected.length);
  given.copy(padded, 0, 0, Math.min(given.length, expected.length));
  return timingSafeEqual(padded, expected) && given.length === expected.length;
}

/**
 * Whether a `Host` header names this daemon on a loopback name. Anything else is refused, so that a
 * web page served from a name that resolves to 127.0.0.1 (DNS rebinding) cannot reach the API.
 */
export function hostAllowed(host: string | undefined, port: number): boolean {
  if (host === undefined) return false;
  const allowed = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
  return allowed.includes(host.toLowerCase());
}
