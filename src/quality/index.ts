/** Data-quality checks: suites compiled to DuckDB SQL and run in a sandbox over files. */
export { quoteIdent, quoteLiteral, quotePath } from './sql';
export { cancelled, throwIfCancelled } from './cancel';
export { resolveSource, formatOf, type ResolvedSource, type DataFormat } from './source';
export { jsonScalar, jsonRows, numberOf, type JsonScalar } from './values';
export { Sandbox, openSandbox, messageOf, type SandboxOptions, type QueryRows, type ColumnInfo } from './sandbox';
export type { QualityHooks, ProgressStep } from './hooks';
export { runSuite, MAX_SAMPLES, type SuiteRun } from './run-suite';
export { parseSuiteText, checkSuiteValue } from './suite';
export { encodeSample } from './arrow';
export { columnKind, isIntegerType, type ColumnKind } from './columns';
export { profileTable, EXACT_ROW_LIMIT, type ProfileOptions } from './profile';
export { driftTables, columnDriftStatistic, describeSource, DRIFT_THRESHOLDS, type DriftMethod, type ColumnDriftStatistic } from './drift';
export { suggestSuite, suiteFromProfile, suiteName, IN_SET_LIMIT } from './suggest';
export * from './stats';
