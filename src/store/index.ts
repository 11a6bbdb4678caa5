export { Store, type StoreOptions, type StoreSession, type SqlParams, type SqlRow, type SqlTypes } from './store';
export { quoteIdent } from './sql';
export { migrations, type Migration } from './migrations';
export { NotFoundError, ConflictError, BadInputError, StoreLockedError } from './errors';
