import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router-dom";
import { api, must, type Schema } from "../api/client";
import { fmtCredits, fmtDuration, fmtTime, humanize } from "../api/format";
import { CALL_OUTCOME, CALL_STATUS, label } from "../api/labels";
import { usePollInterval } from "../components/LiveSync";
import { Analysis } from "../calls/Analysis";
import { AgentOverridesCard } from "../components/AgentOverrides";
import { CallQualityCard } from "../components/Quality";
import { ErrorMessage, Loading } from "../components/States";
import { shownTurns, TestCallBadge, Transcript, useLiveTranscript } from "../components/Transcript";
import { CallTransferCard } from "../components/Transfer";

export { correctTurn } from "../components/Transcript";

const FINAL: Schema<"CallStatus">[] = ["completed", "busy", "no-answer", "failed", "canceled"];

export default function CallDetailPage() {
  const id = Number(useParams().id);
  const poll = usePollInterval(2_000);
  const call = useQuery({
    queryKey: ["call", id],
    queryFn: () => must(api.GET("/api/v1/calls/{id}", { params: { path: { id } } })),
    refetchInterval: (q) =>
      q.state.data && FINAL.includes(q.state.data.status) && q.state.data.summary != null ? false : poll,
  });
  const liveTurns = useLiveTranscript(id);

  if (call.isPending) return <Loading />;
  if (call.isError) return <ErrorMessage error={call.error} retry={() => call.refetch()} />;
  const c = call.data;
  const ended = FINAL.includes(c.status);
  // While the call runs, turns arrive live; once stored, the stored transcript is complete.
  const turns = shownTurns(c.transcript, liveTurns);

  return (
    <section aria-labelledby="call-title">
      <div className="page-head">
        <h1 id="call-title">Call #{c.id}</h1>
        <span className={`badge status-${c.status}`} data-testid="call-status">
          {label(CALL_STATUS, c.status)}
        </span>
        {c.outcome && (
          <span className={`badge outcome-${c.outcome}`} data-testid="call-outcome">
            {label(CALL_OUTCOME, c.outcome)}
          </span>
        )}
        {c.test && <TestCallBadge />}
      </div>
      <dl className="facts">
        <dt>To</dt>
        <dd>
          {c.contact_id ? (
            <Link to={`/contacts/${c.contact_id}`} data-testid="call-contact">
              {c.contact_name ? `${c.contact_name} (${c.to})` : c.to}
            </Link>
          ) : (
            c.to
          )}
        </dd>
        <dt>From</dt>
        <dd>{c.from}</dd>
        <dt>Campaign</dt>
        <dd>{c.campaign_id ? <CampaignLink id={c.campaign_id} /> : "—"}</dd>
        <dt>Attempt</dt>
        <dd>{c.attempt}</dd>
        <dt>Answered by</dt>
        <dd>{humanize(c.answered_by)}</dd>
        <dt>Duration</dt>
        <dd>{fmtDuration(c.duration_seconds)}</dd>
        <dt>Ended by</dt>
        <dd>{humanize(c.termination_source)}</dd>
        <dt>Agent cost</dt>
        <dd>{fmtCredits(c.cost)}</dd>
        {c.error_message && (
          <>
            <dt>Error</dt>
            <dd>
              {c.error_message} {c.error_code && <span className="muted">({c.error_code})</span>}
            </dd>
          </>
        )}
      </dl>
      <div className="grid-2">
        <div className="card">
          <h2>Timeline</h2>
          <ol className="timeline" data-testid="call-timeline">
            <li>
              <time>{fmtTime(c.created_at)}</time> Created
            </li>
            {c.events.map((e) => (
              <li key={e.id}>
                <time>{new Date(e.created_at).toLocaleTimeString()}</time> {describeEvent(e)}
              </li>
            ))}
          </ol>
        </div>
        <div className="card">
          <h2>{ended ? "Transcript" : "Live transcript"}</h2>
          <Transcript turns={turns} ended={ended} />
        </div>
      </div>
      <div className="card">
        <h2>Summary and analysis</h2>
        {c.summary ? <p data-testid="call-summary">{c.summary}</p> : <p className="muted">{ended ? "No summary yet." : "Available after the call."}</p>}
        <Analysis analysis={c.analysis} />
      </div>
      <CallTransferCard transfer={c.transfer} />
      <AgentVariables variables={c.dynamic_variables} />
      <AgentOverridesCard variant={c.variant} overrides={c.agent_overrides} />
      <CallQualityCard quality={c.quality} ended={ended} />
      <div className="card">
        <h2>Recording</h2>
        {c.recording ? (
          <>
            <audio controls preload="metadata" src={c.recording.url} data-testid="recording" className="player">
              Your browser cannot play this recording; <a href={c.recording.url}>download it</a>.
            </audio>
            <div className="muted small">
              {fmtDuration(c.recording.duration_seconds)}
              {c.recording.channels === 2 && " · two channels (contact and agent)"} ·{" "}
              <a href={c.recording.url} download={`call-${c.id}.wav`}>
                Download
              </a>
            </div>
          </>
        ) : (
          <p className="muted">
            {c.recording_withheld_by
              ? `Not recorded: every party must consent to a recording where this contact is (${c.recording_withheld_by}).`
              : ended
                ? "No recording for this call."
                : "The recording appears after the call."}
          </p>
        )}
      </div>
    </section>
  );
}

/// A campaign by its name (its number until the name has loaded).
function CampaignLink({ id }: { id: number }) {
  const campaign = useQuery({
    queryKey: ["campaign", id],
    queryFn: () => must(api.GET("/api/v1/campaigns/{id}", { params: { path: { id } } })),
    staleTime: 60_000,
  });
  return <Link to={`/campaigns/${id}`}>{campaign.data?.name ?? `Campaign ${id}`}</Link>;
}

/// What the agent was told when the call started: its dynamic variables as placed
/// (secrets and the campaign's hidden variables are not kept).
function AgentVariables({ variables }: { variables?: Record<string, unknown> | null }) {
  const entries = Object.entries(variables ?? {});
  return (
    <div className="card">
      <h2>What the agent knew</h2>
      {variables == null ? (
        <p className="muted">Not recorded for this call.</p>
      ) : entries.length === 0 ? (
        <p className="muted">No dynamic variables were sent.</p>
      ) : (
        <dl className="facts" data-testid="agent-variables">
          {entries.map(([k, v]) => (
            <div key={k} className="fact">
              <dt>
                <code>{k}</code>
              </dt>
              <dd>{String(v)}</dd>
            </div>
          ))}
        </dl>
      )}
    </div>
  );
}

const EVENT_NAMES: Record<string, string> = {
  status: "Call",
  amd: "Machine detection",
  recording: "Recording",
  tool_call: "Agent tool",
};

/// One line per event: what happened, from the carrier's or the agent's own fields.
function describeEvent(e: Schema<"CallEvent">): string {
  const d = (e.data ?? {}) as Record<string, unknown>;
  const detail =
    d.CallStatus ?? d.AnsweredBy ?? d.RecordingStatus ?? d.tool_name ?? d.name ?? d.status ?? d.outcome ?? d.reason;
  const name = EVENT_NAMES[e.kind] ?? humanize(e.kind);
  return detail ? `${name}: ${humanize(String(detail))}` : name;
}
