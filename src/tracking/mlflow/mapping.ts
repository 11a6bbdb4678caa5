import { createHash } from 'node:crypto';
import type { MetricPoint, Run } from '@opsbook/schema';
import type { MlflowMetric, MlflowRunStatus } from './client';

/**
 * On an MLflow run: the Opsbook run it was exported from, or that the MLflow backend created it for
 * (Opsbook ids are UUIDs chosen before the run exists; MLflow picks its own ids).
 */
export const OPSBOOK_RUN_ID_TAG = 'opsbook.run_id';
/** On an Opsbook run: the MLflow run it was imported from. */
export const MLFLOW_RUN_ID_TAG = 'opsbook.mlflow_run_id';
/** MLflow's tag naming a nested run's parent (an MLflow run id). */
export const MLFLOW_PARENT_TAG = 'mlflow.parentRunId';
/** MLflow's tag for a run's name. */
export const MLFLOW_RUN_NAME_TAG = 'mlflow.runName';
/** Tags that only say where a run was copied from: left out when comparing a run with its copy. */
export const BOOKKEEPING_TAGS: readonly string[] = [OPSBOOK_RUN_ID_TAG, MLFLOW_RUN_ID_TAG];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX32 = /^[0-9a-f]{32}$/i;

export function isUuid(text: string): boolean {
  return UUID.test(text);
}

/**
 * The Opsbook id of an MLflow run, the same on every import: MLflow's ids are 32 hex digits (a
 * UUID's without dashes), so the dashes are put back; any other id is hashed into a UUID's shape.
 */
export function opsbookIdFor(mlflowRunId: string): string {
  const hex = HEX32.test(mlflowRunId) ? mlflowRunId.toLowerCase() : createHash('sha256').update(`mlflow:${mlflowRunId}`).digest('hex').slice(0, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

const TO_OPSBOOK: Record<MlflowRunStatus, Run['status']> = {
  RUNNING: 'running',
  SCHEDULED: 'running',
  FINISHED: 'finished',
  FAILED: 'failed',
  KILLED: 'killed',
};

export function opsbookStatus(status: MlflowRunStatus): Run['status'] {
  return TO_OPSBOOK[status] ?? 'running';
}

export function mlflowStatus(status: Run['status']): MlflowRunStatus {
  return status.toUpperCase() as MlflowRunStatus;
}

/** A point of MLflow's as Opsbook stores it: non-finite values become null. */
export function opsbookPoint(metric: MlflowMetric): MetricPoint {
  const value = typeof metric.value === 'number' ? metric.value : Number(metric.value);
  return {
    key: metric.key,
    value: Number.isFinite(value) ? value : null,
    step: Number(metric.step),
    timestamp: Number(metric.timestamp),
  };
}

/** An Opsbook point as MLflow takes it: a null (a non-finite value) is sent as NaN; times are whole ms. */
export function mlflowMetric(point: MetricPoint): MlflowMetric {
  return { key: point.key, value: point.value === null ? 'NaN' : point.value, step: point.step, timestamp: Math.round(point.timestamp) };
}

/** `[{key, value}]` from a record, sorted by key. */
export function keyValues(record: Record<string, string>): { key: string; value: string }[] {
  return Object.keys(record)
    .sort()
    .map((key) => ({ key, value: record[key] }));
}

/** A record from MLflow's `[{key, value}]`. */
export function recordOf(list: readonly { key: string; value: string }[] | undefined): Record<string, string> {
  return Object.fromEntries((list ?? []).map(({ key, value }) => [key, value]));
}

/** Quotes a string for an MLflow search filter. */
export function filterString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * `items` with every parent among them placed before its children (a cycle of parent links, which
 * MLflow's tags do not forbid, is cut where it closes).
 */
export function parentsFirst<T>(items: readonly T[], idOf: (item: T) => string, parentOf: (item: T) => string | null | undefined): T[] {
  const byId = new Map(items.map((item) => [idOf(item), item]));
  const placed = new Set<string>();
  const ordered: T[] = [];
  const place = (item: T, depth: number): void => {
    if (placed.has(idOf(item))) return;
    const parentId = parentOf(item);
    const parent = parentId ? byId.get(parentId) : undefined;
    if (parent && depth < items.length) place(parent, depth + 1);
    placed.add(idOf(item));
    ordered.push(item);
  };
  for (const item of items) place(item, 0);
  return ordered;
}
