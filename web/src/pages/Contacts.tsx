import { useRef, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router-dom";
import type { ColumnDef } from "@tanstack/react-table";
import { api, describeError, must, type Schema } from "../api/client";
import { fmtInt } from "../api/format";
import { consentLabel } from "../campaigns/form";
import { importCsv, type ImportReport } from "../api/upload";
import { canOperate, useMe } from "../auth";
import { DataTable } from "../components/DataTable";
import { ExportLinks } from "../components/ExportLinks";
import { Pager, useCursorPages } from "../components/Pager";
import { Empty, ErrorMessage, Loading, ProgressBar } from "../components/States";

type Contact = Schema<"Contact">;

export default function ContactsPage() {
  const me = useMe();
  return (
    <section aria-labelledby="contacts-title">
      <h1 id="contacts-title">Contacts</h1>
      {canOperate(me) && <ImportPanel />}
      <ContactList editable={canOperate(me)} />
    </section>
  );
}

type ImportSource = "file" | "sheets";

function ImportPanel() {
  const client = useQueryClient();
  const fileInput = useRef<HTMLInputElement>(null);
  const [source, setSource] = useState<ImportSource>("file");
  const [spreadsheet, setSpreadsheet] = useState("");
  const [range, setRange] = useState("");
  const [campaignId, setCampaignId] = useState("");
  const [progress, setProgress] = useState<number | null>(null);
  const [report, setReport] = useState<ImportReport | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const status = useQuery({ queryKey: ["status"], queryFn: () => must(api.GET("/api/v1/status")) });
  const campaigns = useQuery({
    queryKey: ["campaigns"],
    queryFn: () => must(api.GET("/api/v1/campaigns", { params: { query: { limit: 200 } } })),
  });
  const open = campaigns.data?.items.filter((c) => !["completed", "stopped", "failed"].includes(c.state)) ?? [];

  const read = (campaign: number | undefined): Promise<ImportReport> | string => {
    if (source === "sheets") {
      if (!spreadsheet.trim()) return "Paste the spreadsheet's URL or id first.";
      return must(
        api.POST("/api/v1/contacts/import/sheets", {
          body: { spreadsheet, range: range.trim() || undefined, campaign_id: campaign },
        }),
      );
    }
    const file = fileInput.current?.files?.[0];
    if (!file) return "Choose a CSV or XLSX file first.";
    return importCsv(file, { campaignId: campaign, onProgress: setProgress });
  };

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const pending = read(campaignId ? Number(campaignId) : undefined);
    if (typeof pending === "string") {
      setProblem(pending);
      return;
    }
    setProblem(null);
    setReport(null);
    setProgress(0);
    try {
      setReport(await pending);
      void client.invalidateQueries({ queryKey: ["contacts"] });
      void client.invalidateQueries({ queryKey: ["tags"] });
      void client.invalidateQueries({ queryKey: ["campaigns"] });
    } catch (err) {
      setProblem(describeError(err));
    } finally {
      setProgress(null);
    }
  };

  return (
    <form className="card" onSubmit={submit} aria-labelledby="import-title">
      <h2 id="import-title">Import contacts</h2>
      <p className="muted small">
        A header row names the columns: <code>phone</code> (required), <code>first_name</code>,{" "}
        <code>last_name</code>, <code>email</code>, <code>company</code>, <code>timezone</code>, <code>tags</code>, and
        the consent given: <code>consent_type</code> (express_written, express, existing_business_relationship, none),{" "}
        <code>consent_at</code>, <code>consent_text</code>, <code>consent_url</code>; other columns become custom
        fields. Rows with a phone seen before are merged.
      </p>
      <fieldset className="segmented">
        <legend className="field-label">Import from</legend>
        {(
          [
            ["file", "A file"],
            ["sheets", "Google Sheets"],
          ] as const
        ).map(([value, label]) => (
          <label key={value}>
            <input
              type="radio"
              name="import-source"
              value={value}
              checked={source === value}
              onChange={() => setSource(value)}
            />{" "}
            {label}
          </label>
        ))}
      </fieldset>
      <div className="row-fields">
        {source === "file" ? (
          <label className="field">
            <span className="field-label">CSV or XLSX file</span>
            <input ref={fileInput} type="file" accept=".csv,text/csv,.xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" name="file" />
          </label>
        ) : (
          <>
            <label className="field">
              <span className="field-label">Spreadsheet URL or id</span>
              <input
                value={spreadsheet}
                onChange={(e) => setSpreadsheet(e.target.value)}
                placeholder="https://docs.google.com/spreadsheets/d/…"
                aria-describedby="sheets-hint"
              />
            </label>
            <label className="field">
              <span className="field-label">Range (optional)</span>
              <input value={range} onChange={(e) => setRange(e.target.value)} placeholder="Sheet1!A1:H" />
            </label>
          </>
        )}
        <label className="field">
          <span className="field-label">Also add to campaign</span>
          <select value={campaignId} onChange={(e) => setCampaignId(e.target.value)}>
            <option value="">No campaign</option>
            {open.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      {source === "sheets" && (
        <p id="sheets-hint" className="muted small">
          The first sheet is read unless a range is given; its first row is the header. Share the spreadsheet with
          Parley's service account, or as “anyone with the link” when Parley uses an API key.
          {status.data?.sandbox && (
            <>
              {" "}
              Sandbox: try <code>parley-sandbox-contacts</code>.
            </>
          )}
        </p>
      )}
      <button type="submit" className="primary" disabled={progress != null}>
        {progress != null ? "Importing…" : "Import"}
      </button>
      {progress != null && source === "file" && (
        <ProgressBar value={progress * 100} max={100} label="Import progress" />
      )}
      {problem && (
        <p className="form-error" role="alert">
          {problem}
        </p>
      )}
      {report && <ImportResult report={report} />}
    </form>
  );
}

function ImportResult({ report }: { report: ImportReport }) {
  const i = report.import;
  const [more, setMore] = useState<Schema<"RowProblem">[]>([]);
  const [after, setAfter] = useState<number | null | undefined>(
    report.errors_truncated ? report.errors[report.errors.length - 1]?.line : null,
  );
  const errors = [...report.errors, ...more];
  const loadMore = useMutation({
    mutationFn: () =>
      must(
        api.GET("/api/v1/imports/{id}/errors", {
          params: { path: { id: i.id }, query: { after_line: after ?? undefined, limit: 500 } },
        }),
      ),
    onSuccess: (page) => {
      setMore((m) => [...m, ...page.items]);
      setAfter(page.next_after_line);
    },
  });
  return (
    <div className="import-result" role="status" data-testid="import-result">
      <p>
        <strong>{i.state === "completed" ? "Import finished" : `Import ${i.state}`}:</strong> {fmtInt(i.rows_total)} rows
        read, {fmtInt(i.created)} new contacts, {fmtInt(i.updated)} updated, {fmtInt(i.duplicates)} duplicates merged,{" "}
        {fmtInt(i.rejected)} rejected.
      </p>
      {i.error && <p className="form-error">{i.error}</p>}
      {errors.length > 0 && (
        <div className="table-wrap">
          <table className="table cards" aria-label="Rows with problems">
            <thead>
              <tr>
                <th scope="col">Line</th>
                <th scope="col">What happened</th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              {errors.map((e) => (
                <tr key={`${e.line}-${e.reason}`}>
                  <td data-label="Line">{e.line}</td>
                  <td data-label="What happened">{ROW_PROBLEM[e.reason] ?? "Not imported"}</td>
                  <td data-label="Why">{e.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {after != null && (
        <button type="button" onClick={() => loadMore.mutate()} disabled={loadMore.isPending}>
          Show more problems
        </button>
      )}
    </div>
  );
}

/// What became of a reported row, by the report's reason code.
const ROW_PROBLEM: Record<string, string> = {
  missing_phone: "Not imported: no phone",
  invalid_phone: "Not imported: not a phone number",
  invalid_encoding: "Not imported: unreadable text",
  duplicate: "Merged into an earlier row",
  field_left_out: "Imported without some cells",
  invalid_consent: "Imported without its consent",
};

function ContactList({ editable }: { editable: boolean }) {
  const [q, setQ] = useState("");
  const [search, setSearch] = useState("");
  const [tag, setTag] = useState("");
  const pages = useCursorPages();
  const contacts = useQuery({
    queryKey: ["contacts", search, tag, pages.cursor],
    queryFn: () =>
      must(
        api.GET("/api/v1/contacts", {
          params: { query: { q: search || undefined, tag: tag || undefined, limit: 50, cursor: pages.cursor } },
        }),
      ),
    placeholderData: (prev) => prev,
  });
  const tags = useQuery({ queryKey: ["tags"], queryFn: () => must(api.GET("/api/v1/tags")) });

  const columns: ColumnDef<Contact, unknown>[] = [
    {
      header: "Name",
      cell: ({ row }) => (
        <Link to={`/contacts/${row.original.id}`}>
          {[row.original.first_name, row.original.last_name].filter(Boolean).join(" ") || row.original.phone}
        </Link>
      ),
    },
    { header: "Phone", accessorKey: "phone" },
    { header: "Company", cell: ({ row }) => row.original.company ?? "—" },
    { header: "Tags", cell: ({ row }) => <TagsCell contact={row.original} editable={editable} /> },
    { header: "Consent", cell: ({ row }) => <ConsentCell consent={row.original.consent} /> },
    { header: "Do not call", cell: ({ row }) => <DncToggle contact={row.original} editable={editable} /> },
  ];

  return (
    <div className="card">
      <h2>All contacts</h2>
      <form
        className="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setSearch(q.trim());
          pages.reset();
        }}
      >
        <label>
          Search
          <input type="search" value={q} placeholder="Name, phone, email or company" onChange={(e) => setQ(e.target.value)} />
        </label>
        <label>
          Tag
          <select
            value={tag}
            onChange={(e) => {
              setTag(e.target.value);
              pages.reset();
            }}
          >
            <option value="">Any</option>
            {tags.data?.map((t) => (
              <option key={t.name} value={t.name}>
                {t.name} ({fmtInt(t.contacts)})
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Search</button>
      </form>
      <ExportLinks path="/api/v1/contacts/export" filters={{ q: search || undefined, tag: tag || undefined }} what="contacts" />
      {contacts.isPending ? (
        <Loading />
      ) : contacts.isError ? (
        <ErrorMessage error={contacts.error} retry={() => contacts.refetch()} />
      ) : contacts.data.items.length === 0 ? (
        <Empty title={search || tag ? "No contacts match" : "No contacts yet"}>
          {search || tag ? "Try another search." : "Import a file or a Google Sheet above to add contacts."}
        </Empty>
      ) : (
        <DataTable data={contacts.data.items} columns={columns} caption="Contacts" />
      )}
      <Pager pages={pages} next={contacts.data?.next_cursor} />
    </div>
  );
}

function DncToggle({ contact, editable }: { contact: Contact; editable: boolean }) {
  const client = useQueryClient();
  // Set in the change handler itself, so the controlled checkbox never shows the old value
  // for a render while the mutation's own state catches up; cleared once the list is fresh.
  const [shown, setShown] = useState<boolean | null>(null);
  const toggle = useMutation({
    mutationFn: async (block: boolean) => {
      if (block) {
        await must(api.POST("/api/v1/dnc", { body: { phone: contact.phone, reason: "set from the dashboard" } }));
      } else {
        await must(api.DELETE("/api/v1/dnc/{phone}", { params: { path: { phone: contact.phone } } }));
      }
    },
    onSettled: async () => {
      await client.invalidateQueries({ queryKey: ["contacts"] });
      setShown(null);
    },
  });
  const checked = shown ?? contact.do_not_call;
  return (
    <label className="switch">
      <input
        type="checkbox"
        role="switch"
        checked={checked}
        disabled={!editable || toggle.isPending}
        aria-label={`Do not call ${contact.phone}`}
        onChange={(e) => {
          setShown(e.target.checked);
          toggle.mutate(e.target.checked);
        }}
      />
      <span>{checked ? "Blocked" : "Callable"}</span>
      {toggle.isError && (
        <span className="field-error" role="alert">
          {describeError(toggle.error)}
        </span>
      )}
    </label>
  );
}

/// A contact's tags, editable in place as a comma-separated list.
function TagsCell({ contact, editable }: { contact: Contact; editable: boolean }) {
  const client = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState("");
  const save = useMutation({
    mutationFn: (tags: string[]) =>
      must(api.PATCH("/api/v1/contacts/{id}", { params: { path: { id: contact.id } }, body: { tags } })),
    onSuccess: () => {
      setEditing(false);
      void client.invalidateQueries({ queryKey: ["contacts"] });
      void client.invalidateQueries({ queryKey: ["tags"] });
    },
  });
  if (editing) {
    return (
      <form
        className="tag-editor"
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate(
            text
              .split(",")
              .map((t) => t.trim())
              .filter(Boolean),
          );
        }}
      >
        <input
          aria-label={`Tags of ${contact.phone}, separated by commas`}
          value={text}
          autoFocus
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => e.key === "Escape" && setEditing(false)}
        />
        <button type="submit" disabled={save.isPending}>
          Save
        </button>
        {save.isError && (
          <span className="field-error" role="alert">
            {describeError(save.error)}
          </span>
        )}
      </form>
    );
  }
  return (
    <span className="tags">
      {contact.tags.length
        ? contact.tags.map((t) => (
            <span key={t} className="tag">
              {t}
            </span>
          ))
        : "—"}
      {editable && (
        <button
          type="button"
          className="link small"
          aria-label={`Edit tags of ${contact.phone}`}
          onClick={() => {
            setText(contact.tags.join(", "));
            setEditing(true);
          }}
        >
          Edit
        </button>
      )}
    </span>
  );
}

/// The consent in force: its type, with where and when it was given on hover.
export function ConsentCell({ consent }: { consent?: Schema<"ConsentRecord"> | null }) {
  if (!consent) return <span className="muted">None</span>;
  const when = consent.captured_at.slice(0, 10);
  return (
    <span title={`${consent.source.kind}: ${consent.source.detail}, ${when}`}>
      {consentLabel(consent.consent_type)}
    </span>
  );
}
