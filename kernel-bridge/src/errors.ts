/**
 * Why a bridge request failed. The first four come from this side of the bridge; the last three are
 * the error codes of an `ok: false` reply (bridge.schema.json#/$defs/BridgeReply).
 */
export type KernelBridgeErrorCode =
  | 'not_installed'
  | 'kernel_error'
  | 'bad_reply'
  | 'timeout'
  | 'bad_request'
  | 'unknown_type'
  | 'internal';

/** Every failure of a kernel bridge request or transport call. */
export class KernelBridgeError extends Error {
  constructor(
    readonly code: KernelBridgeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'KernelBridgeError';
  }
}
