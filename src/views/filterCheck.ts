import { FilterSyntaxError, matchesFilter, parseFilter, type FilterableRun } from '../client/filter';

/** Why a filter does not parse, and where (0-based offset into the text). */
export interface FilterProblem {
  message: string;
  position: number;
}

/**
 * Checks filter text against the grammar (docs/filter.md) before it is sent, so a typo shows under
 * the box instead of coming back as a 400.
 * @throws whatever the parser throws other than a syntax error (a bug, not bad input)
 */
export function checkFilter(text: string): FilterProblem | null {
  try {
    parseFilter(text);
    return null;
  } catch (error) {
    if (error instanceof FilterSyntaxError) return { message: error.message, position: Math.max(0, error.position - 1) };
    throw error;
  }
}

/**
 * The runs a filter keeps, for hosts that hold every row (a notebook output), with the meaning the
 * daemon's SQL gives it. Text that does not parse keeps every run (the box shows why).
 */
export function filterRuns<R extends FilterableRun>(runs: readonly R[], text: string): R[] {
  let node: ReturnType<typeof parseFilter>;
  try {
    node = parseFilter(text);
  } catch (error) {
    if (error instanceof FilterSyntaxError) return [...runs];
    throw error;
  }
  return runs.filter((run) => matchesFilter(node, run));
}
