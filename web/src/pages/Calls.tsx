import { useMemo } from "react";
import { useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router-dom";
import type { ColumnDef } from "@tanstack/react-table";
import { api, must, type Schema } from "../api/client";
import { fmtCredits, fmtDuration, fmtTime, humanize } from "../api/format";
import { CALL_OUTCOME, CALL_STATUS, label } from "../api/labels";
import { DataTable } from "../components/DataTable";
import { ExportLinks } from "../components/ExportLinks";
import { usePollInterval } from "../components/LiveSync";
import { Pager, useCursorPages } from "../components/Pager";
import { ResultFilters } from "../components/ResultFilters";
import { Empty, ErrorMessage, Loading } from "../components/States";
import { TestCallBadge } from "../components/Transcript";

type Call = Schema<"CallRow">;

// The columns: contacts by name, campaigns by name once the campaign list has loaded.
function callColumns(campaignNames: Map<number, string>): ColumnDef<Call, unknown>[] {
  return [
    {
      header: "Call",
      cell: ({ row }) => (
        <>
          <Link to={`/calls/${row.original.id}`}>#{row.original.id}</Link> {row.original.test && <TestCallBadge />}
        </>
      ),
    },
    {
      header: "Contact",
      cell: ({ row }) =>
        row.original.contact_id ? (
          <Link to={`/contacts/${row.original.contact_id}`}>{row.original.contact_name ?? "No name"}</Link>
        ) : (
          "—"
        ),
    },
    { header: "Number", accessorKey: "to" },
    { header: "Status", cell: ({ row }) => label(CALL_STATUS, row.original.status) },
    { header: "Outcome", cell: ({ row }) => label(CALL_OUTCOME, row.original.outcome) },
    { header: "Answered by", cell: ({ row }) => humanize(row.original.answered_by) },
    { header: "Duration", cell: ({ row }) => fmtDuration(row.original.duration_seconds) },
    { header: "Agent cost", cell: ({ row }) => fmtCredits(row.original.cost) },
    {
      header: "Campaign",
      cell: ({ row }) =>
        row.original.campaign_id ? (
          <Link to={`/campaigns/${row.original.campaign_id}`}>
            {campaignNames.get(row.original.campaign_id) ?? `#${row.original.campaign_id}`}
          </Link>
        ) : (
          "—"
        ),
    },
    { header: "Started", cell: ({ row }) => fmtTime(row.original.created_at) },
  ];
}

export default function CallsPage() {
  const [params, setParams] = useSearchParams();
  const pages = useCursorPages();
  const poll = usePollInterval();
  const filter = useMemo(
    () => ({
      status: (params.get("status") || undefined) as Schema<"CallStatus"> | undefined,
      outcome: (params.get("outcome") || undefined) as Schema<"CallOutcome"> | undefined,
      campaign_id: params.get("campaign_id") ? Number(params.get("campaign_id")) : undefined,
      from: params.get("from") ? new Date(params.get("from")!).toISOString() : undefined,
      to: params.get("to") ? new Date(params.get("to")!).toISOString() : undefined,
      result: params.getAll("result").length ? params.getAll("result") : undefined,
    }),
    [params],
  );
  const calls = useQuery({
    queryKey: ["calls", "list", filter, pages.cursor],
    queryFn: () =>
      must(api.GET("/api/v1/calls", { params: { query: { ...filter, limit: 50, cursor: pages.cursor } } })),
    placeholderData: (prev) => prev,
    // Only the first page moves as calls arrive.
    refetchInterval: pages.hasPrev ? false : poll,
  });
  const campaigns = useQuery({
    queryKey: ["campaigns"],
    queryFn: () => must(api.GET("/api/v1/campaigns", { params: { query: { limit: 200 } } })),
  });
  const columns = useMemo(
    () => callColumns(new Map((campaigns.data?.items ?? []).map((c) => [c.id, c.name]))),
    [campaigns.data],
  );

  const set = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
    pages.reset();
  };
  const setResults = (values: string[]) => {
    const next = new URLSearchParams(params);
    next.delete("result");
    values.forEach((v) => next.append("result", v));
    setParams(next, { replace: true });
    pages.reset();
  };

  return (
    <section aria-labelledby="calls-title">
      <h1 id="calls-title">Calls</h1>
      <form className="filters" role="search" aria-label="Filter calls" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select value={params.get("status") ?? ""} onChange={(e) => set("status", e.target.value)}>
            <option value="">Any</option>
            {Object.entries(CALL_STATUS).map(([value, text]) => (
              <option key={value} value={value}>
                {text}
              </option>
            ))}
          </select>
        </label>
        <label>
          Outcome
          <select value={params.get("outcome") ?? ""} onChange={(e) => set("outcome", e.target.value)}>
            <option value="">Any</option>
            {Object.entries(CALL_OUTCOME).map(([value, text]) => (
              <option key={value} value={value}>
                {text}
              </option>
            ))}
          </select>
        </label>
        <label>
          Campaign
          <select value={params.get("campaign_id") ?? ""} onChange={(e) => set("campaign_id", e.target.value)}>
            <option value="">Any</option>
            {campaigns.data?.items.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Placed from
          <input type="datetime-local" value={params.get("from") ?? ""} onChange={(e) => set("from", e.target.value)} />
        </label>
        <label>
          Placed before
          <input type="datetime-local" value={params.get("to") ?? ""} onChange={(e) => set("to", e.target.value)} />
        </label>
      </form>
      <ResultFilters values={params.getAll("result")} onChange={setResults} />
      <ExportLinks path="/api/v1/calls/export" filters={filter} what="calls" />
      {calls.isPending ? (
        <Loading />
      ) : calls.isError ? (
        <ErrorMessage error={calls.error} retry={() => calls.refetch()} />
      ) : calls.data.items.length === 0 ? (
        <Empty title={params.size ? "No calls match these filters" : "No calls yet"}>
          {params.size ? "Change or clear the filters." : "Calls appear here as soon as a campaign dials."}
        </Empty>
      ) : (
        <DataTable data={calls.data.items} columns={columns} caption="Calls, newest first" rowTestId={(c) => `call-${c.id}`} />
      )}
      <Pager pages={pages} next={calls.data?.next_cursor} />
    </section>
  );
}
