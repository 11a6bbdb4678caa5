export {
  KernelBridge,
  BRIDGE_MIMETYPE,
  BRIDGE_PROTOCOL,
  bridgeExpression,
  type BridgeRequestMap,
  type BridgeRequestType,
  type KernelBridgeOptions,
} from './bridge';
export { KernelBridgeError, type KernelBridgeErrorCode } from './errors';
export { OutputCollector } from './outputs';
export { pythonStringLiteral } from './python';
export type { CallOptions, ExecuteOptions, ExecuteResult, KernelOutput, KernelTransport, MimeBundle, UserExpressionResult } from './transport';
