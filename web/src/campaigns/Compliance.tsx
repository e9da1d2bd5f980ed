import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { api, must, type Schema } from "../api/client";
import { fmtInt, fmtPct, fmtTime } from "../api/format";
import { exportUrl } from "../components/ExportLinks";
import { ErrorMessage, Loading, Stat } from "../components/States";

type BlockReason = Schema<"BlockReason">;

export const BLOCK_REASON: Record<BlockReason, string> = {
  calling_window: "Calling window",
  state_hours: "State calling hours",
  frequency_cap: "Frequency cap",
  do_not_call: "Do-not-call list",
  no_consent: "No consent",
};

const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` of a time, in UTC (the range's days are UTC days). */
function day(t: number): string {
  return new Date(t).toISOString().slice(0, 10);
}

/** The campaign's compliance over a date range: calls by jurisdiction, dials held back and
 * why, consent coverage, abandonment, opt-outs, and the rules version in force. */
export function Compliance({ campaignId }: { campaignId: number }) {
  const [from, setFrom] = useState(() => day(Date.now() - 30 * DAY_MS));
  const [to, setTo] = useState(() => day(Date.now()));
  // The end day is included: the range ends at the next midnight (UTC).
  const range = { from: `${from}T00:00:00Z`, to: `${day(Date.parse(`${to}T00:00:00Z`) + DAY_MS)}T00:00:00Z` };
  const report = useQuery({
    queryKey: ["compliance", campaignId, range.from, range.to],
    queryFn: () =>
      must(api.GET("/api/v1/campaigns/{id}/compliance", { params: { path: { id: campaignId }, query: range } })),
    placeholderData: (prev) => prev,
  });
  const path = `/api/v1/campaigns/${campaignId}/compliance/export`;
  return (
    <div className="card" data-testid="compliance">
      <h2>Compliance</h2>
      <div className="actions">
        <label>
          From <input type="date" value={from} onChange={(e) => e.target.value && setFrom(e.target.value)} />
        </label>
        <label>
          To <input type="date" value={to} onChange={(e) => e.target.value && setTo(e.target.value)} />
        </label>
        <a className="button" href={exportUrl(path, range, "csv")} download aria-label="Export the compliance report as CSV">
          Export CSV
        </a>
      </div>
      {report.isPending ? (
        <Loading />
      ) : report.isError ? (
        <ErrorMessage error={report.error} retry={() => report.refetch()} />
      ) : (
        <Figures r={report.data} />
      )}
      <p className="muted">Evidence of what Parley enforced, from the shipped rules. Not legal advice.</p>
    </div>
  );
}

function Figures({ r }: { r: Schema<"ComplianceReport"> }) {
  const blocked = r.blocked.reduce((n, b) => n + b.blocked, 0);
  const calls = r.calls_by_jurisdiction.reduce((n, j) => n + j.calls, 0);
  const c = r.consent;
  return (
    <>
      <div className="stats">
        <Stat label="Calls" value={fmtInt(calls)} />
        <Stat label="Dials held back" value={fmtInt(blocked)} />
        <Stat label="Consent coverage" value={c.contacts ? fmtPct(c.satisfying / c.contacts) : "—"} />
        <Stat label="Abandonment (30 days)" value={fmtPct(r.abandonment.abandonment_rate)} />
        <Stat label="Opt-outs" value={fmtInt(r.opt_outs.count)} />
      </div>
      <p className="muted" data-testid="compliance-rules-version">
        Rules version {r.rules_version}
        {r.rules_versions_recorded.some((v) => v !== r.rules_version) &&
          ` (the range also saw ${r.rules_versions_recorded.filter((v) => v !== r.rules_version).join(", ")})`}
        . Consent required: {c.required.replaceAll("_", " ")}; {fmtInt(c.satisfying)} of {fmtInt(c.contacts)} contacts
        have it.
      </p>
      <h3>Calls by jurisdiction</h3>
      <table>
        <thead>
          <tr>
            <th>Jurisdiction</th>
            <th>Calls</th>
            <th>Rules applied</th>
          </tr>
        </thead>
        <tbody>
          {r.calls_by_jurisdiction.map((j) => (
            <tr key={j.jurisdiction ?? "other"}>
              <td>{j.name}</td>
              <td>{fmtInt(j.calls)}</td>
              <td>{j.rules.join("; ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Dials held back</h3>
      {r.blocked.length === 0 ? (
        <p className="muted">None in this range.</p>
      ) : (
        <table data-testid="compliance-blocked">
          <thead>
            <tr>
              <th>Why</th>
              <th>Jurisdiction</th>
              <th>Held</th>
              <th>Contacts</th>
            </tr>
          </thead>
          <tbody>
            {r.blocked.map((b) => (
              <tr key={`${b.reason}/${b.jurisdiction ?? ""}`}>
                <td>{BLOCK_REASON[b.reason]}</td>
                <td>{b.jurisdiction ?? "outside the US states"}</td>
                <td>{fmtInt(b.blocked)}</td>
                <td>{fmtInt(b.contacts)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {r.recent_blocked.length > 0 && (
        <details>
          <summary>Latest held dials ({fmtInt(r.recent_blocked.length)})</summary>
          <ul>
            {r.recent_blocked.map((b) => (
              <li key={b.id}>
                {fmtTime(b.blocked_at)}: contact #{b.contact_id}, {BLOCK_REASON[b.reason]} ({b.rule})
                {b.held_until ? `, until ${fmtTime(b.held_until)}` : ""}
              </li>
            ))}
          </ul>
        </details>
      )}
      <h3>Opt-outs</h3>
      {r.opt_outs.count === 0 ? (
        <p className="muted">None in this range.</p>
      ) : (
        <p>
          {fmtInt(r.opt_outs.count)} opt-outs; the slowest reached the do-not-call list{" "}
          {r.opt_outs.max_lag_ms == null ? "—" : `${fmtInt(r.opt_outs.max_lag_ms)} ms`} after it was asked for;{" "}
          {fmtInt(r.opt_outs.items.reduce((n, o) => n + o.calls_after, 0))} calls followed one.
        </p>
      )}
    </>
  );
}
