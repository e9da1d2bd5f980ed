import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { api, must } from "../api/client";
import { fmtTime } from "../api/format";
import { Empty, ErrorMessage, Loading } from "../components/States";
import { Pager, useCursorPages } from "../components/Pager";

type Filters = { actor: string; action: string; target_type: string; target_id: string; from: string };
const NONE: Filters = { actor: "", action: "", target_type: "", target_id: "", from: "" };

/// Who changed what, newest first (admins only: the server refuses anyone else).
export default function AuditPage() {
  const pages = useCursorPages();
  const [draft, setDraft] = useState<Filters>(NONE);
  const [filters, setFilters] = useState<Filters>(NONE);
  const query = {
    actor: filters.actor || undefined,
    action: filters.action || undefined,
    target_type: filters.target_type || undefined,
    target_id: filters.target_id || undefined,
    from: filters.from ? new Date(filters.from).toISOString() : undefined,
    limit: 50,
    cursor: pages.cursor,
  };
  const entries = useQuery({
    queryKey: ["audit", query],
    queryFn: () => must(api.GET("/api/v1/audit", { params: { query } })),
    placeholderData: (prev) => prev,
  });
  const field = (name: keyof Filters, label: string, placeholder: string, type = "text") => (
    <label>
      {label}
      <input
        type={type}
        value={draft[name]}
        placeholder={placeholder}
        onChange={(e) => setDraft({ ...draft, [name]: e.target.value })}
      />
    </label>
  );
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <form
        className="card filters"
        aria-label="Filter the audit log"
        onSubmit={(e) => {
          e.preventDefault();
          pages.reset();
          setFilters(draft);
        }}
      >
        {field("actor", "Who", "user:ann@example.com")}
        {field("action", "What", "campaign. or contact.updated")}
        {field("target_type", "Object type", "campaign")}
        {field("target_id", "Object id", "12")}
        {field("from", "Since", "", "datetime-local")}
        <button type="submit">Filter</button>
      </form>
      <div className="card">
        {entries.isPending ? (
          <Loading />
        ) : entries.isError ? (
          <ErrorMessage error={entries.error} retry={() => entries.refetch()} />
        ) : entries.data.items.length === 0 ? (
          <Empty title="Nothing recorded">No change matches these filters.</Empty>
        ) : (
          <div className="table-wrap">
            <table className="table cards" data-testid="audit-log">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Who</th>
                  <th scope="col">What</th>
                  <th scope="col">Object</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {entries.data.items.map((e) => (
                  <tr key={e.id}>
                    <td data-label="When">{fmtTime(e.at)}</td>
                    <td data-label="Who">{e.actor}</td>
                    <td data-label="What">{e.action}</td>
                    <td data-label="Object">
                      {e.target_type}
                      {e.target_id ? ` #${e.target_id}` : ""}
                    </td>
                    <td data-label="Details">
                      <code className="small">{JSON.stringify(e.details)}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager pages={pages} next={entries.data?.next_cursor} />
      </div>
    </section>
  );
}
