/**
 * The run filter language (docs/filter.md), shared by the runs table, the CLI, the magics and the
 * daemon: `parseFilter` turns text into an AST, `matchesFilter` evaluates an AST against a run in JS
 * (the table uses it for runs pushed live), and the daemon compiles the same AST to SQL
 * (`src/tracking/run-filter.ts`). Browser-safe: no Node built-ins.
 */

/** Run fields a filter can name without a key. */
export const RUN_FIELDS = [
  'status',
  'name',
  'experiment',
  'id',
  'notes',
  'starred',
  'deleted',
  'start_time',
  'end_time',
  'duration',
] as const;

export type RunFieldName = (typeof RUN_FIELDS)[number];
export type KeyedFieldKind = 'params' | 'metrics' | 'tags';

export type FilterField =
  | { kind: 'run'; name: RunFieldName }
  | { kind: 'params'; key: string }
  | { kind: 'metrics'; key: string }
  | { kind: 'tags'; key: string };

export type ComparisonOperator = '=' | '!=' | '<' | '<=' | '>' | '>=' | '~';

/**
 * A literal as written. `number` is set for an unquoted numeric literal (and, for times and
 * durations, holds milliseconds); `text` is what text comparisons use.
 */
export interface FilterLiteral {
  text: string;
  number?: number;
  boolean?: boolean;
  quoted: boolean;
  /** 1-based position of the literal in the filter text. */
  position: number;
}

export type FilterNode =
  | { type: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { type: 'not'; operand: FilterNode }
  | { type: 'compare'; field: FilterField; operator: ComparisonOperator; value: FilterLiteral; position: number }
  | { type: 'in'; field: FilterField; values: FilterLiteral[]; position: number }
  | { type: 'exists'; field: FilterField; position: number }
  | { type: 'text'; text: string; position: number };

/** A filter that does not parse: `position` is the 1-based character where the problem is. */
export class FilterSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(`${message} (at position ${position})`);
    this.name = 'FilterSyntaxError';
  }
}

/** What `matchesFilter` reads of a run: the list item of `run.schema.json`. */
export interface FilterableRun {
  id: string;
  name: string;
  experiment: string;
  status: string;
  start_time: string;
  end_time: string | null;
  duration_ms: number | null;
  notes?: string;
  starred?: boolean;
  deleted?: boolean;
  params?: Record<string, string>;
  tags?: Record<string, string>;
  metrics_latest?: Record<string, number | null>;
}

const STATUSES = ['running', 'finished', 'failed', 'killed'];
const TEXT_FIELDS: readonly RunFieldName[] = ['status', 'name', 'experiment', 'id', 'notes'];
const ORDER_OPERATORS: readonly ComparisonOperator[] = ['=', '!=', '<', '<=', '>', '>='];
/** The numbers both the parser and the store's SQL read as numbers (no `inf`, hex or `_`). */
export const NUMBER_PATTERN = '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$';
const NUMBER = new RegExp(NUMBER_PATTERN);
const DURATION = /^([0-9]+[.]?[0-9]*|[.][0-9]+)(ms|s|m|h|d)?$/;
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const KEYWORDS = ['and', 'or', 'not', 'in', 'exists'];

type Token =
  | { kind: 'word'; text: string; position: number }
  | { kind: 'string'; text: string; position: number }
  | { kind: 'field'; field: FilterField; text: string; position: number }
  | { kind: 'op'; text: ComparisonOperator; position: number }
  | { kind: '(' | ')' | ','; position: number }
  | { kind: 'end'; position: number };

/**
 * Parses filter text into an AST; an empty or blank text gives `null` (no filter).
 * @throws FilterSyntaxError naming the problem and its 1-based position.
 */
export function parseFilter(text: string): FilterNode | null {
  const tokens = tokenize(text);
  if (tokens.length === 1) return null;
  const parser = new Parser(tokens);
  const node = parser.expression();
  const next = parser.peek();
  if (next.kind !== 'end') throw new FilterSyntaxError(`unexpected ${describe(next)}`, next.position);
  return node;
}

/**
 * Parses a sort field: `start_time`, `end_time`, `name`, `status`, `experiment`, `duration`,
 * `starred`, or `params.<k>`, `metrics.<k>`, `tags.<k>`.
 * @throws FilterSyntaxError when the text names no sortable field.
 */
export function parseSortField(text: string): FilterField {
  const field = fieldOf(text);
  if (!field || (field.kind === 'run' && ['id', 'notes', 'deleted'].includes(field.name))) {
    throw new FilterSyntaxError(
      `cannot sort by ${JSON.stringify(text)}; sort by start_time, end_time, name, status, experiment, duration, starred, params.<key>, metrics.<key> or tags.<key>`,
      1,
    );
  }
  return field;
}

/** Evaluates a parsed filter against a run, with the same meaning as the store's SQL. */
export function matchesFilter(node: FilterNode | null, run: FilterableRun): boolean {
  if (node === null) return true;
  switch (node.type) {
    case 'and':
      return matchesFilter(node.left, run) && matchesFilter(node.right, run);
    case 'or':
      return matchesFilter(node.left, run) || matchesFilter(node.right, run);
    case 'not':
      return !matchesFilter(node.operand, run);
    case 'compare':
      return compareField(node.field, node.operator, node.value, run);
    case 'in':
      return node.values.some((value) => compareField(node.field, '=', value, run));
    case 'exists':
      return valueOf(node.field, run) !== undefined;
    case 'text': {
      const needle = node.text.toLowerCase();
      const hit = (value: string | undefined): boolean => value !== undefined && value.toLowerCase().includes(needle);
      return (
        hit(run.name) ||
        hit(run.notes ?? '') ||
        hit(run.experiment) ||
        Object.values(run.tags ?? {}).some(hit) ||
        run.id.startsWith(node.text.toLowerCase())
      );
    }
  }
}

/** The text a parsed value would be written as in a filter: quoted when it must be. */
export function quoteFilterValue(value: string): string {
  if (value.length > 0 && /^[^\s()=!<>~,"'\\]+$/.test(value) && !KEYWORDS.includes(value.toLowerCase())) return value;
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

type FieldValue = string | number | boolean | null | undefined;

/** A field's value on a run: `undefined` when the run does not have it (a missing param, a running run's end). */
function valueOf(field: FilterField, run: FilterableRun): FieldValue {
  if (field.kind === 'params') return own(run.params, field.key);
  if (field.kind === 'tags') return own(run.tags, field.key);
  if (field.kind === 'metrics') {
    const latest = run.metrics_latest ?? {};
    return Object.prototype.hasOwnProperty.call(latest, field.key) ? latest[field.key] : undefined;
  }
  switch (field.name) {
    case 'start_time':
      return Date.parse(run.start_time);
    case 'end_time':
      return run.end_time === null ? undefined : Date.parse(run.end_time);
    case 'duration':
      return run.duration_ms === null ? undefined : run.duration_ms;
    case 'starred':
      return run.starred ?? false;
    case 'deleted':
      return run.deleted ?? false;
    case 'notes':
      return run.notes ?? '';
    default:
      return run[field.name];
  }
}

function own(record: Record<string, string> | undefined, key: string): string | undefined {
  return record !== undefined && Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}

function compareField(field: FilterField, operator: ComparisonOperator, literal: FilterLiteral, run: FilterableRun): boolean {
  const value = valueOf(field, run);
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return operator === '=' ? value === literal.boolean : value !== literal.boolean;
  if (typeof value === 'number') return literal.number !== undefined && order(value, literal.number, operator);
  if (operator === '~') return value.toLowerCase().includes(literal.text.toLowerCase());
  if (literal.number !== undefined && NUMBER.test(value)) return order(Number(value), literal.number, operator);
  return order(compareCodePoints(value, literal.text), 0, operator);
}

function order(a: number, b: number, operator: ComparisonOperator): boolean {
  switch (operator) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    default:
      return false;
  }
}

/** Orders strings by code point, as DuckDB orders VARCHARs (UTF-8 bytes), not by UTF-16 units. */
function compareCodePoints(a: string, b: string): number {
  const left = Array.from(a);
  const right = Array.from(b);
  const length = Math.min(left.length, right.length);
  for (let i = 0; i < length; i++) {
    const difference = left[i].codePointAt(0)! - right[i].codePointAt(0)!;
    if (difference !== 0) return difference;
  }
  return left.length - right.length;
}

function fieldOf(word: string): FilterField | null {
  const dot = word.indexOf('.');
  if (dot > 0) {
    const kind = word.slice(0, dot);
    if (kind === 'params' || kind === 'metrics' || kind === 'tags') {
      const key = word.slice(dot + 1);
      return key.length > 0 ? { kind, key } : null;
    }
    return null;
  }
  return (RUN_FIELDS as readonly string[]).includes(word) ? { kind: 'run', name: word as RunFieldName } : null;
}

function fieldText(field: FilterField): string {
  return field.kind === 'run' ? field.name : `${field.kind}.${field.key}`;
}

function describe(token: Token): string {
  switch (token.kind) {
    case 'end':
      return 'end of filter';
    case 'word':
    case 'string':
    case 'field':
      return JSON.stringify(token.text);
    case 'op':
      return `operator ${token.text}`;
    default:
      return `"${token.kind}"`;
  }
}

const SPECIAL = /[\s()=!<>~,"']/;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const char = text[i];
    const position = i + 1;
    if (/\s/.test(char)) {
      i++;
    } else if (char === '(' || char === ')' || char === ',') {
      tokens.push({ kind: char, position });
      i++;
    } else if ('=!<>~'.includes(char)) {
      const two = text.slice(i, i + 2);
      if (two === '!=' || two === '<=' || two === '>=') {
        tokens.push({ kind: 'op', text: two, position });
        i += 2;
      } else if (char === '!') {
        throw new FilterSyntaxError('"!" must be followed by "=" (use not for negation)', position);
      } else {
        tokens.push({ kind: 'op', text: char as ComparisonOperator, position });
        i++;
      }
    } else if (char === '"' || char === "'") {
      const [value, end] = readString(text, i);
      tokens.push({ kind: 'string', text: value, position });
      i = end;
    } else {
      let end = i;
      while (end < text.length && !SPECIAL.test(text[end])) end++;
      const word = text.slice(i, end);
      // `params."a key"`: a quoted key right after the dot.
      if (/^(params|metrics|tags)\.$/.test(word) && (text[end] === '"' || text[end] === "'")) {
        const [key, after] = readString(text, end);
        if (key.length === 0) throw new FilterSyntaxError(`${word} needs a key`, end + 1);
        tokens.push({ kind: 'field', field: { kind: word.slice(0, -1) as KeyedFieldKind, key }, text: `${word}${key}`, position });
        i = after;
        continue;
      }
      if (word.includes('\\')) throw new FilterSyntaxError('a backslash can only appear inside quotes', i + word.indexOf('\\') + 1);
      tokens.push({ kind: 'word', text: word, position });
      i = end;
    }
  }
  tokens.push({ kind: 'end', position: text.length + 1 });
  return tokens;
}

const ESCAPES: Record<string, string> = { '\\': '\\', '"': '"', "'": "'", n: '\n', t: '\t', r: '\r' };

/** Reads a quoted string starting at `start`; returns its value and the index after the closing quote. */
function readString(text: string, start: number): [string, number] {
  const quote = text[start];
  let value = '';
  let i = start + 1;
  while (i < text.length) {
    const char = text[i];
    if (char === quote) return [value, i + 1];
    if (char === '\\') {
      const next = text[i + 1];
      if (next === undefined) break;
      if (next === 'u') {
        const hex = text.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new FilterSyntaxError('\\u needs four hex digits', i + 1);
        value += String.fromCharCode(parseInt(hex, 16));
        i += 6;
        continue;
      }
      const escaped = ESCAPES[next];
      if (escaped === undefined) throw new FilterSyntaxError(`unknown escape \\${next}`, i + 1);
      value += escaped;
      i += 2;
      continue;
    }
    value += char;
    i++;
  }
  throw new FilterSyntaxError(`unterminated string: no closing ${quote}`, start + 1);
}

class Parser {
  private index = 0;

  constructor(private readonly tokens: Token[]) {}

  peek(offset = 0): Token {
    return this.tokens[Math.min(this.index + offset, this.tokens.length - 1)];
  }

  private take(): Token {
    const token = this.peek();
    if (token.kind !== 'end') this.index++;
    return token;
  }

  private isKeyword(token: Token, keyword: string): boolean {
    return token.kind === 'word' && token.text.toLowerCase() === keyword;
  }

  expression(): FilterNode {
    let left = this.conjunction();
    while (this.isKeyword(this.peek(), 'or')) {
      this.take();
      left = { type: 'or', left, right: this.conjunction() };
    }
    return left;
  }

  private conjunction(): FilterNode {
    let left = this.negation();
    for (;;) {
      const next = this.peek();
      if (this.isKeyword(next, 'and')) {
        this.take();
        left = { type: 'and', left, right: this.negation() };
      } else if (this.startsTerm(next)) {
        // Terms side by side are joined by and: `resnet status = finished`.
        left = { type: 'and', left, right: this.negation() };
      } else {
        return left;
      }
    }
  }

  private startsTerm(token: Token): boolean {
    if (token.kind === 'string' || token.kind === 'field' || token.kind === '(') return true;
    return token.kind === 'word' && !['and', 'or', 'in'].includes(token.text.toLowerCase());
  }

  private negation(): FilterNode {
    if (this.isKeyword(this.peek(), 'not')) {
      this.take();
      return { type: 'not', operand: this.negation() };
    }
    return this.primary();
  }

  private primary(): FilterNode {
    const token = this.take();
    if (token.kind === '(') {
      if (this.peek().kind === ')') throw new FilterSyntaxError('empty parentheses', this.peek().position);
      const inner = this.expression();
      const close = this.take();
      if (close.kind !== ')') throw new FilterSyntaxError(`expected ")" to close the "(" at position ${token.position}, found ${describe(close)}`, close.position);
      return inner;
    }
    if (this.isKeyword(token, 'exists')) {
      const target = this.take();
      const field = target.kind === 'field' ? target.field : target.kind === 'word' ? fieldOf(target.text) : null;
      if (!field || (field.kind === 'run' && field.name !== 'end_time' && field.name !== 'duration')) {
        throw new FilterSyntaxError(`exists takes params.<key>, metrics.<key>, tags.<key>, end_time or duration, not ${describe(target)}`, target.position);
      }
      return { type: 'exists', field, position: token.position };
    }
    if (token.kind === 'word' || token.kind === 'string' || token.kind === 'field') {
      const next = this.peek();
      const comparing = next.kind === 'op' || this.isKeyword(next, 'in') || (this.isKeyword(next, 'not') && this.isKeyword(this.peek(1), 'in'));
      if (comparing) return this.comparison(token);
      if (token.kind === 'field' || (token.kind === 'word' && /^(params|metrics|tags)\./.test(token.text))) {
        throw new FilterSyntaxError(`${token.text} needs an operator (= != < <= > >= ~ in) and a value`, next.position);
      }
      if (token.kind === 'word' && KEYWORDS.includes(token.text.toLowerCase())) {
        throw new FilterSyntaxError(`unexpected ${token.text}; quote it to search for the word`, token.position);
      }
      return { type: 'text', text: token.text, position: token.position };
    }
    throw new FilterSyntaxError(`expected a condition, found ${describe(token)}`, token.position);
  }

  private comparison(subject: Token & { text: string }): FilterNode {
    const field = subject.kind === 'field' ? subject.field : subject.kind === 'word' ? fieldOf(subject.text) : null;
    if (!field) {
      throw new FilterSyntaxError(
        `unknown field ${JSON.stringify(subject.text)}; fields are ${RUN_FIELDS.join(', ')}, params.<key>, metrics.<key>, tags.<key>`,
        subject.position,
      );
    }
    const next = this.take();
    if (next.kind === 'op') {
      const value = this.literal(field, next.text);
      return { type: 'compare', field, operator: next.text, value, position: subject.position };
    }
    const negated = this.isKeyword(next, 'not');
    if (negated) this.take();
    const open = this.take();
    if (open.kind !== '(') throw new FilterSyntaxError(`expected "(" after in, found ${describe(open)}`, open.position);
    const values: FilterLiteral[] = [this.literal(field, '=')];
    for (;;) {
      const separator = this.take();
      if (separator.kind === ')') break;
      if (separator.kind !== ',') throw new FilterSyntaxError(`expected "," or ")" in the list, found ${describe(separator)}`, separator.position);
      values.push(this.literal(field, '='));
    }
    const node: FilterNode = { type: 'in', field, values, position: subject.position };
    return negated ? { type: 'not', operand: node } : node;
  }

  /** Reads the value of a comparison and checks that it suits the field and operator. */
  private literal(field: FilterField, operator: ComparisonOperator): FilterLiteral {
    const token = this.take();
    if (token.kind !== 'word' && token.kind !== 'string') throw new FilterSyntaxError(`expected a value after ${fieldText(field)} ${operator}, found ${describe(token)}`, token.position);
    const quoted = token.kind === 'string';
    const literal: FilterLiteral = { text: token.text, quoted, position: token.position };
    if (!quoted && NUMBER.test(token.text)) literal.number = Number(token.text);
    const name = fieldText(field);
    const fail = (what: string): never => {
      throw new FilterSyntaxError(`${name} ${what}, not ${JSON.stringify(token.text)}`, token.position);
    };
    const kind = field.kind === 'run' ? field.name : field.kind;
    if (kind === 'starred' || kind === 'deleted') {
      if (operator !== '=' && operator !== '!=') fail(`takes = or != with true or false`);
      const lower = token.text.toLowerCase();
      if (quoted || (lower !== 'true' && lower !== 'false')) fail('is true or false');
      literal.boolean = lower === 'true';
      delete literal.number;
    } else if (kind === 'metrics') {
      if (!ORDER_OPERATORS.includes(operator)) fail(`takes = != < <= > >= with a number`);
      if (literal.number === undefined) fail('is compared with a number');
    } else if (kind === 'start_time' || kind === 'end_time') {
      if (!ORDER_OPERATORS.includes(operator)) fail(`takes = != < <= > >= with a date`);
      const ms = literal.number ?? Date.parse(token.text);
      if (Number.isNaN(ms)) fail('is compared with a date (2024-05-01, 2024-05-01T12:00:00Z) or epoch milliseconds');
      literal.number = ms;
    } else if (kind === 'duration') {
      if (!ORDER_OPERATORS.includes(operator)) fail(`takes = != < <= > >= with a duration`);
      const match = quoted ? null : DURATION.exec(token.text);
      if (!match) fail('is compared with a duration such as 90, 90s, 1.5m, 2h, 500ms (a bare number is seconds)');
      literal.number = Number(match![1]) * DURATION_UNITS[match![2] ?? 's'];
    } else if (kind === 'status' && (operator === '=' || operator === '!=')) {
      // A misspelt status would silently match nothing.
      if (!STATUSES.includes(token.text)) fail(`is one of ${STATUSES.join(', ')}`);
    }
    if (field.kind === 'run' && TEXT_FIELDS.includes(field.name)) delete literal.number;
    return literal;
  }
}
