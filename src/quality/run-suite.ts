import type { CheckResult, CheckSuite } from '@opsbook/schema';
import type { QualityHooks } from './hooks';
import type { ResolvedSource } from './source';

/** A suite to run on one table. */
export interface SuiteRun {
  data: ResolvedSource;
  suite: CheckSuite;
  /** Replaces the reference of every drift check. */
  reference?: ResolvedSource;
  /** Folder relative references of drift checks are read from (the suite file's folder). */
  suiteDir: string;
  /** Failing rows to fetch per failed check (default 20, at most 20). */
  samples?: number;
}

/**
 * Runs a suite on one table in a sandbox and reports every check in suite order.
 * @throws BadInputError when a file cannot be read or a sql check is not exactly one SELECT.
 * @throws ConflictError (field job_id) when the job is cancelled.
 */
export async function runSuite(input: SuiteRun, hooks: QualityHooks = {}): Promise<CheckResult> {
  void input;
  void hooks;
  throw new Error('runSuite is being written (issue 7)');
}
