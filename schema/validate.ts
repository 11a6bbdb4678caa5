import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { schemaDocuments } from './generated/schemas';

export type SchemaName = keyof typeof schemaDocuments;

/** The first problem found in a value, in the words an error message needs. */
export interface ValidationIssue {
  /** JSON pointer of the offending value ('' for the root). */
  field: string;
  message: string;
  value: unknown;
}

/** Thrown by {@link SchemaValidator.assert} when a value does not match its schema. */
export class SchemaError extends Error {
  constructor(
    readonly schema: string,
    readonly issue: ValidationIssue,
  ) {
    super(issue.message);
    this.name = 'SchemaError';
  }
}

const BASE = 'https://opsbook.dev/schema/';

function describe(error: ErrorObject, data: unknown): ValidationIssue {
  let field = error.instancePath;
  if (error.keyword === 'required') {
    field = `${field}/${(error.params as { missingProperty: string }).missingProperty}`;
  } else if (error.keyword === 'additionalProperties') {
    field = `${field}/${(error.params as { additionalProperty: string }).additionalProperty}`;
  }
  const value = field.split('/').slice(1).reduce<unknown>((node, part) => {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    return node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  }, data);
  const shown = value === undefined ? '' : `: ${truncate(JSON.stringify(value))}`;
  let what = error.message ?? 'is invalid';
  if (error.keyword === 'additionalProperties') what = 'is not an allowed field';
  if (error.keyword === 'required') what = 'is required';
  if (error.keyword === 'enum') {
    what = `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return { field: field || '/', message: `${field || '/'} ${what}${shown}`, value: truncateValue(value) };
}

function truncate(text: string | undefined, max = 120): string {
  if (text === undefined) return 'undefined';
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function truncateValue(value: unknown): unknown {
  if (typeof value === 'string') return truncate(value, 200);
  if (value !== null && typeof value === 'object') return truncate(JSON.stringify(value), 200);
  return value;
}

/**
 * Validates values against the schemas in `schema/`. One instance compiles each schema once;
 * share it.
 */
export class SchemaValidator {
  private static sharedInstance: SchemaValidator | undefined;

  /**
   * The process's shared validator, made on first use: registering every schema and compiling one
   * costs tens of milliseconds each time, which a short CLI command paid once per module that made
   * its own.
   */
  static shared(): SchemaValidator {
    SchemaValidator.sharedInstance ??= new SchemaValidator();
    return SchemaValidator.sharedInstance;
  }

  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor() {
    this.ajv = new Ajv2020({ allErrors: false, strict: false, useDefaults: false });
    addFormats(this.ajv);
    for (const doc of Object.values(schemaDocuments)) {
      this.ajv.addSchema(doc as object);
    }
  }

  /**
   * Validates `value` against a schema file, or a `$defs` entry (`bridge.schema.json#/$defs/BridgeReply`).
   * @returns the first issue, or `null` when the value is valid.
   * @throws Error when the schema name is unknown.
   */
  check(schema: SchemaName | `${SchemaName}#${string}`, value: unknown): ValidationIssue | null {
    let fn = this.compiled.get(schema);
    if (!fn) {
      fn = this.ajv.getSchema(BASE + schema);
      if (!fn) throw new Error(`unknown schema ${schema}`);
      this.compiled.set(schema, fn);
    }
    if (fn(value)) return null;
    const [first] = fn.errors ?? [];
    return first ? describe(first, value) : { field: '/', message: 'is invalid', value: undefined };
  }

  /**
   * Narrows `value` to `T` when it matches the schema.
   * @throws SchemaError naming the offending field and value when it does not.
   */
  assert<T>(schema: SchemaName | `${SchemaName}#${string}`, value: unknown): T {
    const issue = this.check(schema, value);
    if (issue) throw new SchemaError(schema, issue);
    return value as T;
  }
}
