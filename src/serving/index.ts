/** Serving: an Open Inference Protocol (V2) server on onnxruntime-node (docs/serving.md). */
export { runForeground, EXIT_OK, EXIT_BAD_INPUT, EXIT_ENVIRONMENT, type ForegroundOptions } from './foreground';
export { InferenceServer, SERVER_VERSION, type ServerOptions, type Listening, type RequestSink } from './server';
export { readServeConfig, loadServeConfig, resolveServeConfig, endpointName, ConfigError, API_KEY_ENV, DEFAULTS as SERVE_DEFAULTS } from './config';
export { ServingMetrics, type Answered } from './metrics';
export { createLogger } from './logger';
export { parseRequest, checkInputs, checkOutputs, encodeResponse, RequestError, toHalf, fromHalf } from './tensors';
export { createExecutor } from './executor';
export { RequestLog } from './request-log';
export { gpuSetup, CudaUnavailable } from './gpu';
export type * from './types';
export { InferenceFailure } from './types';
