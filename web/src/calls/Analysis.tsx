// The agent's post-call analysis in words: known fields by name and in the page's own
// formats, criteria by whether they were met, collected data by value, each with the
// agent's rationale beside it.
import { fmtDuration, humanize } from "../api/format";

/// What the analysis' own fields are called on the page, in the order shown.
const FIELDS: Record<string, string> = {
  call_successful: "Agent's verdict",
  evaluation_criteria_results: "Goals",
  data_collection_results: "Information collected",
  termination_reason: "How the conversation ended",
  call_duration_secs: "Time with the agent",
};

/// The agent's verdict on the call, and each goal's.
const VERDICT: Record<string, string> = {
  success: "Successful",
  failure: "Unsuccessful",
  unknown: "No verdict",
};
const GOAL: Record<string, string> = { success: "Met", failure: "Not met", unknown: "Unclear" };

export function analysisLabel(field: string): string {
  return FIELDS[field] ?? humanize(field);
}

export function Analysis({ analysis }: { analysis: unknown }) {
  if (!analysis || typeof analysis !== "object") return null;
  const fields = analysis as Record<string, unknown>;
  const known = Object.keys(FIELDS).filter((k) => k in fields);
  const others = Object.keys(fields).filter((k) => !(k in FIELDS) && k !== "transcript_summary").sort();
  const entries = [...known, ...others]
    .map((k) => [k, fields[k]] as const)
    .filter(([, v]) => v != null && !(typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0));
  if (!entries.length) return null;
  return (
    <dl className="facts" data-testid="call-analysis">
      {entries.map(([k, v]) => (
        <div key={k} className="fact">
          <dt>{analysisLabel(k)}</dt>
          <dd>{renderField(k, v)}</dd>
        </div>
      ))}
    </dl>
  );
}

function renderField(field: string, v: unknown): React.ReactNode {
  if (field === "call_successful") return VERDICT[String(v)] ?? humanize(String(v));
  if (field === "call_duration_secs" && typeof v === "number") return fmtDuration(v);
  if (field === "evaluation_criteria_results") return <Items items={v} words={GOAL} />;
  if (field === "data_collection_results") return <Items items={v} />;
  if (v == null || typeof v !== "object") return String(v ?? "—");
  if (Array.isArray(v)) return v.length ? v.map(plain).join(", ") : "none";
  return <Items items={v} />;
}

/// Named results: `{ name: { result | value, rationale } }`.
function Items({ items, words }: { items: unknown; words?: Record<string, string> }) {
  if (!items || typeof items !== "object") return <>{String(items ?? "—")}</>;
  return (
    <ul className="analysis-items">
      {Object.entries(items as Record<string, unknown>).map(([name, item]) => {
        const o = (item ?? {}) as Record<string, unknown>;
        const shown = typeof item === "object" && item ? (o.result ?? o.value) : item;
        const text = Array.isArray(shown) ? (shown.length ? shown.map(plain).join(", ") : "none") : plain(shown);
        return (
          <li key={name}>
            <strong>{humanize(name)}:</strong> {words?.[text] ?? text}
            {typeof o.rationale === "string" && o.rationale && <span className="muted small"> — {o.rationale}</span>}
          </li>
        );
      })}
    </ul>
  );
}

function plain(x: unknown): string {
  if (x == null) return "—";
  return typeof x === "object" ? JSON.stringify(x) : String(x);
}
