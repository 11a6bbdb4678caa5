import type { Run, RunDetail, RunList, RunUpdate } from '@opsbook/schema';
import { parseFilter, type FilterNode } from '../client/filter';
import type { DeletedFilter } from '../tracking/run-filter';
import type { RunStatus } from '../tracking/run-store';
import type { ParsedCommand } from './args';
import { UsageError } from './errors';
import { formatRunDetail, formatRunLine, formatRunTable } from './format';
import { openRunSource } from './source';
import { workspaceOf } from './workspace';
import { cliValidator } from './validator';

/** Where a command writes. */
export interface CliOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}


/**
 * `opsbook runs list`, `show`, `update`, `delete` and `restore`.
 * @throws UsageError for a missing workspace, bad option combination or bad tag.
 * @throws BadInputError for a bad filter or sort (one line naming the position) or an ambiguous id.
 * @throws NotFoundError for an unknown run id.
 * @throws EnvironmentError when no daemon answers for the workspace and none can be started.
 */
export async function runsCommand(parsed: ParsedCommand, out: CliOutput): Promise<number> {
  const { values } = parsed;
  const workspace = workspaceOf(values.workspace as string | undefined);
  // Bad usage is told before any daemon is started for it.
  const update = parsed.command === 'runs update' ? updateOf(values) : undefined;
  const source = await openRunSource(workspace);
  switch (parsed.command) {
    case 'runs list': {
      const filter = values.filter as string | undefined;
      const list = await source.listRuns({
        experiment: values.experiment as string | undefined,
        status: values.status as RunStatus | undefined,
        limit: values.limit as number | undefined,
        filter,
        sort: values.sort as string | undefined,
        order: values.order as 'asc' | 'desc' | undefined,
        offset: values.offset as number | undefined,
        deleted: values.deleted as DeletedFilter | undefined,
      });
      if (values.json) out.stdout(`${JSON.stringify(cliValidator().assert<RunList>('run-list.schema.json', list))}\n`);
      else out.stdout(formatRunTable(list, wantedColumns(filter, values.sort as string | undefined)));
      return 0;
    }
    case 'runs show': {
      const detail = await source.getRun(parsed.positionals.run_id);
      if (values.json) out.stdout(`${JSON.stringify(cliValidator().assert<RunDetail>('run-detail.schema.json', detail))}\n`);
      else out.stdout(formatRunDetail(detail));
      return 0;
    }
    default: {
      const change: RunUpdate = update ?? { deleted: parsed.command === 'runs delete' };
      const run = await source.updateRun(parsed.positionals.run_id, change);
      if (values.json) out.stdout(`${JSON.stringify(cliValidator().assert<Run>('run.schema.json', run))}\n`);
      else out.stdout(formatRunLine(run));
      if (!values.json && parsed.command === 'runs delete') out.stderr(`deleted; opsbook runs restore ${run.id.slice(0, 8)} brings it back\n`);
      return 0;
    }
  }
}

/**
 * The update `opsbook runs update` asks for.
 * @throws UsageError when nothing is asked, --star and --unstar are both given, or a tag is not KEY=VALUE.
 */
function updateOf(values: ParsedCommand['values']): RunUpdate {
  const update: RunUpdate = {};
  if (values.star && values.unstar) throw new UsageError('--star and --unstar contradict each other; give one');
  if (values.star) update.starred = true;
  if (values.unstar) update.starred = false;
  if (values.name !== undefined) update.name = values.name as string;
  if (values.note !== undefined) update.notes = values.note as string;
  const tags: Record<string, string | null> = {};
  for (const pair of (values.tag as string[] | undefined) ?? []) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new UsageError(`--tag takes KEY=VALUE, not ${JSON.stringify(pair)}`);
    tags[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  for (const key of (values.untag as string[] | undefined) ?? []) {
    if (key in tags) throw new UsageError(`--tag and --untag both name the tag ${JSON.stringify(key)}`);
    tags[key] = null;
  }
  if (Object.keys(tags).length > 0) update.tags = tags;
  if (Object.keys(update).length === 0) {
    throw new UsageError('runs update needs at least one of --name, --star, --unstar, --note, --tag, --untag');
  }
  return update;
}

/**
 * The `params.<k>` and `metrics.<k>` a filter and sort name, as table columns. A filter that does
 * not parse names none: the daemon refuses it with the position.
 */
function wantedColumns(filter: string | undefined, sort: string | undefined): string[] {
  const wanted = new Set<string>();
  if (sort !== undefined && /^(params|metrics)\../.test(sort)) wanted.add(sort);
  const visit = (node: FilterNode | null): void => {
    if (node === null) return;
    if (node.type === 'and' || node.type === 'or') {
      visit(node.left);
      visit(node.right);
    } else if (node.type === 'not') {
      visit(node.operand);
    } else if ((node.type === 'compare' || node.type === 'in' || node.type === 'exists') && (node.field.kind === 'params' || node.field.kind === 'metrics')) {
      wanted.add(`${node.field.kind}.${node.field.key}`);
    }
  };
  try {
    visit(parseFilter(filter ?? ''));
  } catch {
    // Refused below by the daemon, with the position.
  }
  return [...wanted];
}
