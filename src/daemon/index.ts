export { startDaemon, findDaemon, answeringDaemon, PortTakenError, type DaemonOptions, type RunningDaemon } from './daemon';
export { discoveryPath, readDiscovery, runtimeDir } from './discovery';
export { Router, type OpenApiDocument, type Route, type RouteMatch } from './router';
export { CORE_VERSION } from './version';
export { ensureDaemon, setCliEntry, DaemonStartError, START_TIMEOUT_MS } from './launch';
