import type { Run } from '@opsbook/schema';
import { STATUS_LABEL } from './format';

/** A run status as colour AND text, so it reads without colour vision too. */
export function StatusBadge({ status }: { status: Run['status'] }): JSX.Element {
  return <span className={`opsbook-badge opsbook-badge-${status}`}>{STATUS_LABEL[status] ?? status}</span>;
}
