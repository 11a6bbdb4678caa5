import { realpathSync } from 'node:fs';
import { SchemaValidator, type RunDetail, type RunList } from '@opsbook/schema';
import type { RunStatus } from '../tracking/run-store';
import type { ParsedCommand } from './args';
import { UsageError } from './errors';
import { formatRunDetail, formatRunTable } from './format';
import { openRunSource } from './source';

/** Where a command writes. */
export interface CliOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

const validator = new SchemaValidator();

/**
 * `opsbook runs list` and `opsbook runs show`.
 * @throws UsageError for a missing workspace, bad filter or unknown run id.
 * @throws EnvironmentError when the store is locked by something that is not a daemon.
 */
export async function runsCommand(parsed: ParsedCommand, out: CliOutput): Promise<number> {
  const workspace = workspaceOf(parsed.values.workspace as string | undefined);
  const source = await openRunSource(workspace);
  try {
    if (parsed.command === 'runs list') {
      const list = await source.listRuns({
        experiment: parsed.values.experiment as string | undefined,
        status: parsed.values.status as RunStatus | undefined,
        limit: parsed.values.limit as number | undefined,
      });
      if (parsed.values.json) out.stdout(`${JSON.stringify(validator.assert<RunList>('run-list.schema.json', list))}\n`);
      else out.stdout(formatRunTable(list));
      return 0;
    }
    const detail = await source.getRun(parsed.positionals.run_id);
    if (parsed.values.json) out.stdout(`${JSON.stringify(validator.assert<RunDetail>('run-detail.schema.json', detail))}\n`);
    else out.stdout(formatRunDetail(detail));
    return 0;
  } finally {
    await source.close();
  }
}

/**
 * The workspace folder, resolved.
 * @throws UsageError when it does not exist.
 */
export function workspaceOf(given: string | undefined): string {
  const folder = given ?? process.cwd();
  try {
    return realpathSync(folder);
  } catch {
    throw new UsageError(`workspace folder ${JSON.stringify(folder)} does not exist`);
  }
}
