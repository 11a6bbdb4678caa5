import * as validators from '../generated/validators';

/** The schemas a webview or the renderer checks, compiled ahead of time (scripts/validators.mjs). */
export type ValidatedSchema = keyof typeof validators;

interface CompiledValidator {
  (data: unknown): boolean;
  errors?: { instancePath: string; message?: string }[] | null;
}

/**
 * Checks a value against one of the precompiled schemas. Webviews run under a content security policy
 * without `eval`, so ajv cannot compile schemas there at run time.
 * @returns the first problem in words (`/view/kind must be equal to one of the allowed values`), or null.
 */
export function checkValue(schema: ValidatedSchema, value: unknown): string | null {
  const validate = validators[schema] as unknown as CompiledValidator;
  if (validate(value)) return null;
  const first = validate.errors?.[0];
  return `${first?.instancePath || '/'} ${first?.message ?? 'is invalid'}`;
}
