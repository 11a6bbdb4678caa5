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
export * from './paths';
export * from './announced';
export * from './events';
