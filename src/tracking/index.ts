export { RunStore, checkRunFilter, DEFAULT_EXPERIMENT, MAX_METRICS_PER_BATCH, MAX_LIST_LIMIT, type RunFilter, type RunStatus } from './run-store';
export { SettingsStore, SETTING_KEY, MAX_SETTING_BYTES } from './settings-store';
export { buildRunListQuery, parseFilterParam, type DeletedFilter, type RunListQuery } from './run-filter';
export { RunSupervisor, DEFAULT_HEARTBEAT_TIMEOUT_MS, type RunSupervisorOptions } from './run-supervisor';
export {
  ArtifactStore,
  ArtifactTooLargeError,
  canonicalArtifactName,
  contentHeadersFor,
  mediaTypeFor,
  MAX_ARTIFACT_BYTES,
  type ArtifactKind,
  type ArtifactUpload,
} from './artifacts';
export { ModelRegistry, parseModelRef, resolveModelRef, type ModelRef } from './registry';
