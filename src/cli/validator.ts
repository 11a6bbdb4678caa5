import { SchemaValidator } from '@opsbook/schema';

let shared: SchemaValidator | undefined;

/**
 * The CLI's one schema validator, made on first use: making one registers every schema (about
 * 70 ms here), which a command that prints no JSON document should not pay at start-up.
 */
export function cliValidator(): SchemaValidator {
  shared ??= new SchemaValidator();
  return shared;
}
