import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import { SchemaValidator, type CheckSuite } from '@opsbook/schema';
import { BadInputError } from '../store/errors';

/**
 * Reads a suite file's text (YAML, or JSON, which YAML reads too) and checks it against
 * check-suite.schema.json.
 * @param fileName shown in errors, e.g. `suite.yaml`.
 * @throws BadInputError whose field is the JSON pointer of the first offending value and whose
 *   message names the file and line: `suite.yaml line 7: /checks/3/column: must be string: 5`.
 */
export function parseSuiteText(text: string, fileName: string): CheckSuite {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const [syntax] = doc.errors;
  if (syntax) {
    const line = syntax.linePos?.[0]?.line ?? lines.linePos(syntax.pos[0]).line;
    throw new BadInputError('/', fileName, `${fileName} line ${line}: not valid YAML or JSON: ${firstLine(syntax.message)}`);
  }
  const value: unknown = doc.toJS();
  return checkSuite(value, fileName, (pointer) => lineOf(doc, lines, pointer));
}

/**
 * Checks a suite that arrived as a value (an API request body): the schema, then the rules the
 * schema cannot say (min not above max).
 * @throws BadInputError whose field is the JSON pointer of the first offending value.
 */
export function checkSuiteValue(value: unknown, source = 'suite'): CheckSuite {
  return checkSuite(value, source, () => undefined);
}

function checkSuite(value: unknown, source: string, lineOfPointer: (pointer: string) => number | undefined): CheckSuite {
  const issue = SchemaValidator.shared().check('check-suite.schema.json', value) ?? boundsIssue(value as CheckSuite);
  if (issue) {
    const what = issue.message.startsWith(issue.field) ? issue.message.slice(issue.field.length).trimStart() : issue.message;
    const line = lineOfPointer(issue.field);
    const where = line === undefined ? source : `${source} line ${line}`;
    throw new BadInputError(issue.field, issue.value, `${where}: ${issue.field}: ${what}`);
  }
  return value as CheckSuite;
}

/** A check whose min lies above its max can never pass: say so before running anything. */
function boundsIssue(suite: CheckSuite): { field: string; message: string; value: unknown } | null {
  for (const [index, check] of suite.checks.entries()) {
    const { min, max } = check as { min?: unknown; max?: unknown };
    const comparable = (typeof min === 'number' && typeof max === 'number') || (typeof min === 'string' && typeof max === 'string');
    if (comparable && (min as number | string) > (max as number | string)) {
      const field = `/checks/${index}/min`;
      return { field, message: `${field} must not be above max (${JSON.stringify(max)}): ${JSON.stringify(min)}`, value: min };
    }
  }
  return null;
}

/** The line of the node a JSON pointer names, or of its nearest existing parent (a missing field). */
function lineOf(doc: Document, lines: LineCounter, pointer: string): number | undefined {
  const path = pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
  for (let length = path.length; length >= 0; length -= 1) {
    const node = length === 0 ? doc.contents : doc.getIn(path.slice(0, length), true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

function firstLine(text: string): string {
  return text.split('\n')[0];
}
