/** @opsbook/core: the store, tracking, the daemon and its HTTP API, and the typed client. */
export * from './store';
export * from './tracking';
export * from './daemon';
export * from './client';
export { runCli } from './cli';
