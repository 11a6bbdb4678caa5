import { useEffect, useMemo, useRef, useState } from 'react';

export interface ColumnChooserProps {
  /** Every `params.<k>` / `metrics.<k>` / `tags.<k>` key that can be shown. */
  offered: readonly string[];
  /** The keys shown now, in their order. */
  chosen: readonly string[];
  onChange: (columns: string[]) => void;
}

/**
 * A "Columns" button that opens a searchable list of checkboxes. Tab and Space work on the list as
 * on any form; the search box takes the focus when it opens and Escape closes it.
 */
export function ColumnChooser({ offered, chosen, onChange }: ColumnChooserProps): JSX.Element {
  const [open, setOpen] = useState(false);
  const [search, setSearch] = useState('');
  const button = useRef<HTMLButtonElement>(null);
  const panel = useRef<HTMLDivElement>(null);
  const panelId = useMemo(() => `opsbook-columns-${Math.random().toString(36).slice(2, 10)}`, []);
  const shown = offered.filter((key) => key.toLowerCase().includes(search.trim().toLowerCase()));

  const close = (): void => {
    setOpen(false);
    button.current?.focus();
  };

  // A click outside closes it, as a menu would.
  useEffect(() => {
    if (!open) return undefined;
    const onPointer = (event: PointerEvent): void => {
      const target = event.target as Node;
      if (!panel.current?.contains(target) && !button.current?.contains(target)) setOpen(false);
    };
    document.addEventListener('pointerdown', onPointer);
    return () => document.removeEventListener('pointerdown', onPointer);
  }, [open]);

  const toggle = (key: string): void => {
    onChange(chosen.includes(key) ? chosen.filter((column) => column !== key) : [...chosen, key]);
  };

  return (
    <div className="opsbook-ColumnChooser">
      <button
        ref={button}
        type="button"
        className="opsbook-RunsTable-tool"
        aria-expanded={open}
        aria-controls={panelId}
        onClick={() => setOpen(!open)}
      >
        Columns{chosen.length > 0 ? ` (${chosen.length})` : ''}
      </button>
      {open && (
        <div
          ref={panel}
          id={panelId}
          className="opsbook-ColumnChooser-panel"
          role="dialog"
          aria-label="Choose columns"
          onKeyDown={(event) => {
            if (event.key === 'Escape') {
              event.stopPropagation();
              close();
            }
          }}
        >
          <input
            type="search"
            className="opsbook-ColumnChooser-search"
            placeholder="Search params, metrics, tags"
            aria-label="Search columns"
            autoFocus
            value={search}
            onChange={(event) => setSearch(event.target.value)}
          />
          {offered.length === 0 ? (
            <p className="opsbook-muted">These runs have no params, metrics or tags yet.</p>
          ) : shown.length === 0 ? (
            <p className="opsbook-muted">No column matches “{search}”.</p>
          ) : (
            <ul className="opsbook-ColumnChooser-list" aria-label="Columns">
              {shown.map((key) => (
                <li key={key}>
                  <label>
                    <input type="checkbox" checked={chosen.includes(key)} onChange={() => toggle(key)} data-column={key} />
                    <span>{key}</span>
                  </label>
                </li>
              ))}
            </ul>
          )}
          <div className="opsbook-ColumnChooser-actions">
            {chosen.length > 0 && (
              <button type="button" className="opsbook-RunsTable-link" onClick={() => onChange([])}>
                Hide all
              </button>
            )}
            <button type="button" className="opsbook-RunsTable-link" onClick={close}>
              Done
            </button>
          </div>
        </div>
      )}
    </div>
  );
}
