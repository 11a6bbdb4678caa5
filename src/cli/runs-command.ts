import { SchemaValidator, type RunDetail, type RunList } from '@opsbook/schema';
import type { RunStatus } from '../tracking/run-store';
import type { ParsedCommand } from './args';
import { formatRunDetail, formatRunTable } from './format';
import { openRunSource } from './source';
import { workspaceOf } from './workspace';

/** Where a command writes. */
export interface CliOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

const validator = new SchemaValidator();

/**
 * `opsbook runs list` and `opsbook runs show`.
 * @throws UsageError for a missing workspace, bad filter or unknown run id.
 * @throws EnvironmentError when no daemon answers for the workspace and none can be started.
 */
export async function runsCommand(parsed: ParsedCommand, out: CliOutput): Promise<number> {
  const workspace = workspaceOf(parsed.values.workspace as string | undefined);
  const source = await openRunSource(workspace);
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
}
