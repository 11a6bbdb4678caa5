/** Data-quality checks: suites compiled to DuckDB SQL and run in a sandbox over files. */
export { quoteIdent, quoteLiteral, quotePath } from './sql';
export { cancelled, throwIfCancelled } from './cancel';
export { resolveSource, formatOf, type ResolvedSource, type DataFormat } from './source';
export { jsonScalar, jsonRows, numberOf, type JsonScalar } from './values';
export { Sandbox, openSandbox, messageOf, type SandboxOptions, type QueryRows, type ColumnInfo } from './sandbox';
export type { QualityHooks, ProgressStep } from './hooks';
export { runSuite, type SuiteRun } from './run-suite';
