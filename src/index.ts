/** @opsbook/core: the store, tracking, the daemon and its HTTP API, and the typed client. */
export * from './store';
export * from './tracking';
export * from './daemon';
export {
  OpsbookClient,
  OpsbookApiError,
  type ApiMap,
  type ApiQuery,
  type ApiRequestBody,
  type ApiResponse,
  type ClientOptions,
  type FetchLike,
  type OperationId,
} from './client';
export { runCli } from './cli';
