export { OpsbookClient, OpsbookApiError, type ApiMap, type ClientOptions, type FetchLike } from './client';
export * from './paths';
