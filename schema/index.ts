export * from './generated/types';
export { schemaDocuments, openapiDocument } from './generated/schemas';
export { SchemaValidator, SchemaError, type SchemaName, type ValidationIssue } from './validate';
export { commandTable, type CommandSpec, type OptionSpec } from './commands';
export type { paths as ApiPaths, operations as ApiOperations } from './generated/openapi';
