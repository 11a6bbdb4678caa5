import { SchemaValidator } from '@opsbook/schema';

/**
 * The CLI's schema validator: the process's shared one, made on first use (registering every schema
 * costs about 70 ms here, which a command that prints no JSON document should not pay at start-up).
 */
export function cliValidator(): SchemaValidator {
  return SchemaValidator.shared();
}
