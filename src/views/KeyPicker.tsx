import { useId } from 'react';

export interface KeyPickerProps {
  /** What is picked, shown before the list ("Metric", "Param"). */
  label: string;
  value: string;
  options: readonly string[];
  onChange: (value: string) => void;
}

/** A labelled list of metric or param keys; the current value stays listed even when not offered. */
export function KeyPicker({ label, value, options, onChange }: KeyPickerProps): JSX.Element {
  const id = useId();
  return (
    <label htmlFor={id}>
      {label}
      <select id={id} value={value} onChange={(event) => onChange(event.target.value)} disabled={options.length === 0}>
        {!options.includes(value) && <option value={value}>{value || '—'}</option>}
        {options.map((key) => (
          <option key={key} value={key}>
            {key}
          </option>
        ))}
      </select>
    </label>
  );
}
