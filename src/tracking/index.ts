export { RunStore, checkRunFilter, DEFAULT_EXPERIMENT, MAX_METRICS_PER_BATCH, MAX_LIST_LIMIT, type RunFilter, type RunStatus } from './run-store';
export { RunSupervisor, DEFAULT_HEARTBEAT_TIMEOUT_MS, type RunSupervisorOptions } from './run-supervisor';
