import { useState } from "react";

/** The calls list's `result` filters (`interested:yes`, every one must match): the ones
 * in force as removable chips, and a field to add another. */
export function ResultFilters({
  values,
  onChange,
}: {
  values: string[];
  onChange: (next: string[]) => void;
}) {
  const [draft, setDraft] = useState("");
  const valid = /^[^:]+:/.test(draft.trim());
  return (
    <form
      className="filters"
      aria-label="Filter calls by result"
      onSubmit={(e) => {
        e.preventDefault();
        const value = draft.trim();
        if (!valid || values.includes(value)) return;
        onChange([...values, value]);
        setDraft("");
      }}
    >
      <label>
        Result (name:value)
        <input
          value={draft}
          placeholder="interested:yes"
          onChange={(e) => setDraft(e.target.value)}
          aria-describedby="result-filter-help"
        />
      </label>
      <button type="submit" disabled={!valid}>
        Add result filter
      </button>
      <span id="result-filter-help" className="muted small">
        A data-collection or evaluation field at a value, e.g. <code>goal_met:success</code>; every filter must match.
      </span>
      {values.length > 0 && (
        <ul className="inline-list" aria-label="Result filters">
          {values.map((v) => (
            <li key={v}>
              <code>{v}</code>{" "}
              <button
                type="button"
                className="link"
                aria-label={`Remove result filter ${v}`}
                onClick={() => onChange(values.filter((x) => x !== v))}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
    </form>
  );
}
