import { useState } from 'react';
import { formatDuration, relativeTime, runDuration } from './format';
import type { TableRun } from './runColumns';
import { StatusBadge } from './StatusBadge';

/**
 * A change to a run's annotations, as `updateRun` takes it: a tag set to null is removed,
 * `deleted: true` soft-deletes the run and `deleted: false` restores it.
 */
export interface RunAnnotation {
  name?: string;
  starred?: boolean;
  notes?: string;
  tags?: Record<string, string | null>;
  deleted?: boolean;
}

export interface RunDetailsPaneProps {
  run: TableRun;
  now: number;
  onOpen?: (runId: string) => void;
  onOpenSweep?: (runId: string) => void;
  /** Saves a change; without it the pane is read-only. */
  onUpdate?: (change: RunAnnotation) => void;
  /** Starts renaming the run in its row. */
  onRename?: () => void;
  onClose: () => void;
}

/** The focused run beside the table: its facts, tags, notes, and delete or restore. */
export function RunDetailsPane({ run, now, onOpen, onOpenSweep, onUpdate, onRename, onClose }: RunDetailsPaneProps): JSX.Element {
  const [notes, setNotes] = useState(run.notes ?? '');
  const [newTag, setNewTag] = useState('');
  const [tagProblem, setTagProblem] = useState<string | null>(null);
  const tags = Object.entries(run.tags ?? {});
  const children = run.child_count ?? 0;

  const addTag = (): void => {
    const equals = newTag.indexOf('=');
    const key = (equals < 0 ? newTag : newTag.slice(0, equals)).trim();
    const value = equals < 0 ? '' : newTag.slice(equals + 1).trim();
    if (!key) {
      setTagProblem('Write a tag as key=value.');
      return;
    }
    setTagProblem(null);
    onUpdate?.({ tags: { [key]: value } });
    setNewTag('');
  };

  return (
    <aside className="opsbook-RunDetailsPane" aria-label={`Run ${run.name}`} data-run-id={run.id}>
      <div className="opsbook-RunDetailsPane-title">
        <h3>{run.name}</h3>
        <StatusBadge status={run.status} />
        <button type="button" className="opsbook-RunsTable-link opsbook-RunDetailsPane-close" aria-label="Close the details" onClick={onClose}>
          ×
        </button>
      </div>
      {run.deleted && <p className="opsbook-RunsTable-tag">deleted</p>}
      <dl className="opsbook-RunDetail-facts">
        <dt>Experiment</dt>
        <dd>{run.experiment}</dd>
        <dt>Started</dt>
        <dd>
          <time dateTime={run.start_time} title={new Date(run.start_time).toLocaleString()}>
            {relativeTime(run.start_time, now)}
          </time>
        </dd>
        <dt>Duration</dt>
        <dd>{formatDuration(runDuration(run, now))}</dd>
        {run.parent_run_id && (
          <>
            <dt>Parent run</dt>
            <dd className="opsbook-num">{run.parent_run_id.slice(0, 8)}</dd>
          </>
        )}
        {children > 0 && (
          <>
            <dt>Child runs</dt>
            <dd>{children}</dd>
          </>
        )}
        <dt>Run id</dt>
        <dd className="opsbook-num opsbook-RunDetailsPane-id">{run.id}</dd>
      </dl>
      <div className="opsbook-RunDetailsPane-actions">
        {onOpen && (
          <button type="button" className="opsbook-button" onClick={() => onOpen(run.id)}>
            Open
          </button>
        )}
        {onOpenSweep && children > 0 && (
          <button type="button" className="opsbook-RunsTable-tool" onClick={() => onOpenSweep(run.id)}>
            Open sweep
          </button>
        )}
        {onRename && (
          <button type="button" className="opsbook-RunsTable-tool" onClick={onRename}>
            Rename
          </button>
        )}
        {onUpdate && (
          <button
            type="button"
            className="opsbook-RunsTable-tool opsbook-RunDetailsPane-delete"
            onClick={() => onUpdate({ deleted: !run.deleted })}
          >
            {run.deleted ? 'Restore' : 'Delete'}
          </button>
        )}
      </div>
      <h4>Tags</h4>
      {tags.length === 0 ? (
        <p className="opsbook-muted">No tags.</p>
      ) : (
        <ul className="opsbook-RunDetailsPane-tags">
          {tags.map(([key, value]) => (
            <li key={key} className="opsbook-RunsTable-tag">
              <span>{value === '' ? key : `${key}=${value}`}</span>
              {onUpdate && (
                <button type="button" className="opsbook-RunsTable-link" aria-label={`Remove tag ${key}`} onClick={() => onUpdate({ tags: { [key]: null } })}>
                  ×
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {onUpdate && (
        <form
          className="opsbook-RunDetailsPane-addTag"
          onSubmit={(event) => {
            event.preventDefault();
            addTag();
          }}
        >
          <input aria-label="New tag" placeholder="key=value" value={newTag} onChange={(event) => setNewTag(event.target.value)} />
          <button type="submit" className="opsbook-RunsTable-tool">
            Add tag
          </button>
        </form>
      )}
      {tagProblem && (
        <p className="opsbook-error-text" role="alert">
          {tagProblem}
        </p>
      )}
      <h4>
        <label htmlFor={`opsbook-notes-${run.id}`}>Notes</label>
      </h4>
      {onUpdate ? (
        <>
          <textarea
            id={`opsbook-notes-${run.id}`}
            className="opsbook-RunDetailsPane-notes"
            rows={5}
            value={notes}
            onChange={(event) => setNotes(event.target.value)}
          />
          <button type="button" className="opsbook-RunsTable-tool" disabled={notes === (run.notes ?? '')} onClick={() => onUpdate({ notes })}>
            Save notes
          </button>
        </>
      ) : (
        <p id={`opsbook-notes-${run.id}`} className={run.notes ? 'opsbook-RunDetailsPane-notesText' : 'opsbook-muted'}>
          {run.notes || 'No notes.'}
        </p>
      )}
    </aside>
  );
}
