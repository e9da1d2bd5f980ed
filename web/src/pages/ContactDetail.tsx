import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router-dom";
import { api, must, type Schema } from "../api/client";
import { fmtDuration, fmtTime, fmtTimeIn, humanize } from "../api/format";
import { CALL_OUTCOME, CALL_STATUS, label } from "../api/labels";
import { Pager, useCursorPages } from "../components/Pager";
import { ErrorMessage, Loading } from "../components/States";
import { ConsentCell } from "./Contacts";

type HistoryCall = Schema<"HistoryCall">;

/// A contact's page: who they are (tags, custom fields, consent, do-not-call) and every
/// call to them, newest first, with what each led to.
export default function ContactDetailPage() {
  const id = Number(useParams().id);
  const pages = useCursorPages();
  const history = useQuery({
    queryKey: ["contact-history", id, pages.cursor],
    queryFn: () =>
      must(
        api.GET("/api/v1/contacts/{id}/history", {
          params: { path: { id }, query: { limit: 20, cursor: pages.cursor } },
        }),
      ),
    placeholderData: (prev) => prev,
  });

  if (history.isPending) return <Loading />;
  if (history.isError) return <ErrorMessage error={history.error} retry={() => history.refetch()} />;
  const { contact: c, calls, next_cursor } = history.data;
  const name = [c.first_name, c.last_name].filter(Boolean).join(" ") || c.phone;
  const fields = Object.entries(c.custom_fields ?? {});

  return (
    <section aria-labelledby="contact-title">
      <div className="page-head">
        <h1 id="contact-title">{name}</h1>
        {c.do_not_call && <span className="badge outcome-opted_out">Do not call</span>}
      </div>
      <dl className="facts" data-testid="contact-facts">
        <dt>Phone</dt>
        <dd>{c.phone}</dd>
        <dt>Email</dt>
        <dd>{c.email ?? "—"}</dd>
        <dt>Company</dt>
        <dd>{c.company ?? "—"}</dd>
        <dt>Time zone</dt>
        <dd>{c.timezone ?? "From the number"}</dd>
        <dt>Tags</dt>
        <dd>{c.tags.length ? c.tags.join(", ") : "—"}</dd>
        <dt>Consent</dt>
        <dd>
          <ConsentCell consent={c.consent} />
        </dd>
        {fields.map(([k, v]) => (
          <div key={k} className="fact">
            <dt>{humanize(k)}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
      <div className="card">
        <h2>Calls</h2>
        {calls.length === 0 ? (
          <p className="muted">No calls to this contact yet.</p>
        ) : (
          <ol className="timeline" data-testid="contact-calls">
            {calls.map((call) => (
              <CallEntry key={call.id} call={call} timezone={c.timezone} />
            ))}
          </ol>
        )}
        <Pager pages={pages} next={next_cursor} />
      </div>
    </section>
  );
}

function CallEntry({ call, timezone }: { call: HistoryCall; timezone?: string | null }) {
  return (
    <li data-testid="contact-call">
      <div className="page-head">
        <Link to={`/calls/${call.id}`}>Call #{call.id}</Link>
        <time title={fmtTimeIn(call.created_at, timezone)}>{fmtTime(call.created_at)}</time>
        <span className={`badge status-${call.status}`}>{label(CALL_STATUS, call.status)}</span>
        {call.outcome && <span className={`badge outcome-${call.outcome}`}>{label(CALL_OUTCOME, call.outcome)}</span>}
        {call.opted_out && <span className="badge outcome-opted_out">Opted out</span>}
      </div>
      <div className="muted small">
        {call.campaign_id ? (
          <Link to={`/campaigns/${call.campaign_id}`}>{call.campaign_name ?? `Campaign #${call.campaign_id}`}</Link>
        ) : (
          "Placed on its own"
        )}
        {" · "}attempt {call.attempt} · {fmtDuration(call.duration_seconds)}
        {call.transcript_url && (
          <>
            {" · "}
            <Link to={`/calls/${call.id}`}>Transcript</Link>
          </>
        )}
      </div>
      {call.summary && <p data-testid="contact-call-summary">{call.summary}</p>}
      {call.callbacks.map((cb, i) => (
        <p key={i} className="small">
          Asked to be called back {cb.requested ? `“${cb.requested}”` : ""}
          {cb.at && <> (scheduled {fmtTimeIn(cb.at, timezone)})</>}
          {cb.reason && <>: {cb.reason}</>}
        </p>
      ))}
      {call.tool_actions.length > 0 && (
        <ul className="analysis-items small">
          {call.tool_actions.map((a) => (
            <li key={a.id}>
              <strong>{humanize(a.tool)}</strong>
              {a.is_error ? " failed" : ""}: {typeof a.result === "string" ? a.result : JSON.stringify(a.result)}
            </li>
          ))}
        </ul>
      )}
      {call.recording_url && (
        <audio controls preload="none" src={call.recording_url} className="player">
          <a href={call.recording_url}>Download the recording</a>
        </audio>
      )}
    </li>
  );
}
