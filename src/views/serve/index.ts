/** The serving views: endpoints with status, URL, device and models, a latency sparkline, and the test-request form. */
export { EndpointsView, EndpointCard, EndpointStatus, type EndpointActions, type EndpointCardProps, type EndpointsViewProps } from './EndpointsView';
export { EndpointTestForm, type EndpointTestFormProps } from './EndpointTestForm';
export { LatencySparkline, type LatencySparklineProps } from './LatencySparkline';
export {
  SPARKLINE_POINTS,
  addStats,
  applyServeEvent,
  curlCommand,
  formatLatency,
  isLive,
  niceMax,
  parseRequest,
  requestText,
  sparklinePoints,
  startingRequest,
  zeroRequest,
  type StatsHistory,
} from './serveData';
export { SERVE_CSS, ensureServeStyles } from './serveStyles';
