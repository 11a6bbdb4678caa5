/** @opsbook/core: the store, tracking, the daemon and its HTTP API, and the typed client. */
export * from './store';
export * from './tracking';
export * from './daemon';
export { OpsbookClient, OpsbookApiError, type ApiMap, type ClientOptions, type FetchLike } from './client';
export { runCli } from './cli';
