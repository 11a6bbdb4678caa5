import { KernelBridgeError } from './errors';

/**
 * Settles like `promise`, or rejects with a `timeout` KernelBridgeError after `ms` milliseconds.
 * `onTimeout` releases whatever was waiting (a pending reply, a future).
 * @throws KernelBridgeError with code `timeout`.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout?.();
      reject(new KernelBridgeError('timeout', `${what} timed out after ${ms} ms`));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
