import type { CheckSuite, SchemaValidator } from '@opsbook/schema';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';

/** A suite as typed in the editor: the suite it holds, or the first problem with the line it is on. */
export type SuiteText = { ok: true; suite: CheckSuite } | { ok: false; line: number | undefined; message: string };

/**
 * Reads the text of the suite editor (YAML, or JSON, which YAML reads too) and validates it against
 * `check-suite.schema.json`, as the daemon will, so a mistake is shown before anything runs.
 * Problems read like the CLI's: `line 7: /checks/3/column must be string: 5`.
 */
export function readSuiteText(text: string, validator: SchemaValidator): SuiteText {
  if (text.trim() === '') return { ok: false, line: undefined, message: 'the suite is empty: write one, or press Suggest' };
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const [syntax] = doc.errors;
  if (syntax) {
    const line = syntax.linePos?.[0].line ?? lineAt(lines, syntax.pos[0]);
    return { ok: false, line, message: `line ${line}: ${firstLine(syntax.message)}` };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (reason) {
    return { ok: false, line: undefined, message: reason instanceof Error ? reason.message : String(reason) };
  }
  const issue = validator.check('check-suite.schema.json', value);
  if (!issue) return { ok: true, suite: value as CheckSuite };
  const line = lineOfPointer(doc.contents, issue.field, lines);
  return { ok: false, line, message: line === undefined ? issue.message : `line ${line}: ${issue.message}` };
}

/**
 * The line of the value a JSON pointer names, or of the key naming it; for a field that is missing,
 * the line of the nearest object that holds it.
 */
function lineOfPointer(root: unknown, pointer: string, lines: LineCounter): number | undefined {
  const path = pointer === '/' || pointer === '' ? [] : pointer.split('/').slice(1).map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
  let node = root as Node | null;
  let line = startLine(node, lines);
  for (const part of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === part);
      if (!pair) break;
      line = startLine(pair.key as Node, lines) ?? line;
      node = pair.value as Node | null;
    } else if (isSeq(node)) {
      const item = node.items[Number(part)] as Node | undefined;
      if (item === undefined) break;
      node = item;
      line = startLine(node, lines) ?? line;
    } else {
      break;
    }
  }
  return line;
}

function startLine(node: Node | null | undefined, lines: LineCounter): number | undefined {
  return node?.range ? lineAt(lines, node.range[0]) : undefined;
}

function lineAt(lines: LineCounter, offset: number): number {
  return lines.linePos(offset).line;
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0] ?? message;
}
