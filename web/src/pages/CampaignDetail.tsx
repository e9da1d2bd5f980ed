import { useMemo, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useParams } from "react-router-dom";
import { analytics } from "../api/analytics";
import { api, describeError, must, type Schema } from "../api/client";
import { fmtDuration, fmtInt, fmtPct, fmtTime, fmtTimeIn, humanize } from "../api/format";
import { CALL_OUTCOME, CALL_STATUS, CONTACT_STANDING, label, PROGRESS_STATE, WAIT_REASON } from "../api/labels";
import { canOperate, useMe } from "../auth";
import { Compliance } from "../campaigns/Compliance";
import { CampaignResults } from "../campaigns/Results";
import { CampaignVariants } from "../campaigns/Variants";
import { SheetWrites } from "../campaigns/SheetWrites";
import { TestCall } from "../campaigns/TestCall";
import { ExportLinks } from "../components/ExportLinks";
import { usePollInterval } from "../components/LiveSync";
import { Empty, ErrorMessage, Loading, ProgressBar, Stat } from "../components/States";
import { Pager, useCursorPages } from "../components/Pager";
import { CampaignQualityCard } from "../components/Quality";

type Action = "start" | "pause" | "resume" | "stop";
type State = Schema<"CampaignState">;

/// Which actions each state allows (mirrors the server's state machine; the server has
/// the last word and explains a refusal).
const ACTIONS: Record<State, Action[]> = {
  draft: ["start"],
  scheduled: ["pause", "stop"],
  running: ["pause", "stop"],
  paused: ["resume", "stop"],
  completed: [],
  stopped: [],
  failed: [],
};

export default function CampaignDetailPage() {
  const id = Number(useParams().id);
  const me = useMe();
  const client = useQueryClient();
  const poll = usePollInterval(3_000);
  const campaign = useQuery({
    queryKey: ["campaign", id],
    queryFn: () => must(api.GET("/api/v1/campaigns/{id}", { params: { path: { id } } })),
    refetchInterval: poll,
  });
  const [actionError, setActionError] = useState<string | null>(null);
  const act = useMutation({
    mutationFn: (action: Action) =>
      must(api.POST(`/api/v1/campaigns/{id}/${action}`, { params: { path: { id } }, body: {} })),
    onMutate: () => setActionError(null),
    onSuccess: (c) => {
      client.setQueryData(["campaign", id], c);
      void client.invalidateQueries({ queryKey: ["campaigns"] });
    },
    onError: (e) => setActionError(describeError(e)),
  });

  if (campaign.isPending) return <Loading />;
  if (campaign.isError) return <ErrorMessage error={campaign.error} retry={() => campaign.refetch()} />;
  const c = campaign.data;
  const p = c.progress;
  const done = p.completed + p.failed + p.cancelled;
  const editable = c.state === "draft" || c.state === "paused" || c.state === "scheduled";

  return (
    <section aria-labelledby="campaign-title">
      <div className="page-head">
        <h1 id="campaign-title">{c.name}</h1>
        <span className={`badge state-${c.state}`} data-testid="campaign-state">
          {humanize(c.state)}
        </span>
        <span className="spacer" />
        {canOperate(me) && (
          <div className="actions">
            {ACTIONS[c.state].map((a) => (
              <button
                key={a}
                type="button"
                className={a === "stop" ? "danger" : "primary"}
                disabled={act.isPending}
                onClick={() => {
                  if (a === "stop" && !window.confirm("Stop this campaign for good? Calls in progress finish.")) return;
                  act.mutate(a);
                }}
              >
                {humanize(a)}
              </button>
            ))}
            {editable && (
              <Link className="button" to={`/campaigns/${id}/edit`}>
                Edit
              </Link>
            )}
          </div>
        )}
      </div>
      {actionError && (
        <p className="form-error" role="alert">
          {actionError}
        </p>
      )}
      {c.description && <p>{c.description}</p>}
      <Activity campaignId={id} version={`${c.updated_at}/${p.attempts}/${p.scheduled}/${p.in_progress}`} />
      <div className="card">
        <h2>Progress</h2>
        <ProgressBar value={done} max={p.total} label="Campaign progress" />
        <div className="stats" data-testid="campaign-progress">
          <Stat label="Contacts" value={fmtInt(p.total)} />
          {/* Contacts by state, in words distinct from the call outcomes below. */}
          <Stat label={PROGRESS_STATE.pending} value={fmtInt(p.pending)} />
          <Stat label={PROGRESS_STATE.scheduled} value={fmtInt(p.scheduled)} />
          <Stat label={PROGRESS_STATE.in_progress} value={fmtInt(p.in_progress)} />
          <Stat label={PROGRESS_STATE.completed} value={fmtInt(p.completed)} />
          <Stat label={PROGRESS_STATE.failed} value={fmtInt(p.failed)} />
          <Stat label={PROGRESS_STATE.cancelled} value={fmtInt(p.cancelled)} />
          <Stat label="Attempts" value={fmtInt(p.attempts)} />
        </div>
      </div>
      <Outcomes campaign={c} />
      <CampaignVariants campaign={c} />
      <CampaignQualityCard quality={"quality" in c ? c.quality : undefined} limitPct={c.settings.max_abandonment_rate_pct} />
      <CampaignResults campaignId={id} version={p.attempts + p.completed + p.failed} />
      <SheetWrites campaignId={id} canRetry={canOperate(me)} />
      <Compliance campaignId={id} />
      {canOperate(me) && <TestCall campaignId={id} variableNames={Object.keys(c.settings.dynamic_variables ?? {})} />}
      <div className="card">
        <h2>Export</h2>
        <p className="muted">
          Every call of this campaign with its outcome and the agent&apos;s collected data, or its contacts with their
          progress.
        </p>
        <ExportLinks path="/api/v1/calls/export" filters={{ campaign_id: id }} what="this campaign's calls" />
        <ExportLinks path="/api/v1/contacts/export" filters={{ campaign_id: id }} what="this campaign's contacts" />
      </div>
      {canOperate(me) && !["completed", "stopped", "failed"].includes(c.state) && <AddContacts campaignId={id} />}
      <CampaignContacts campaignId={id} />
    </section>
  );
}

/// What the campaign does next and why, in the server's words (refreshed with the page).
export function Activity({ campaignId, version }: { campaignId: number; version: string }) {
  const poll = usePollInterval(5_000);
  const activity = useQuery({
    queryKey: ["campaign-activity", campaignId, version],
    queryFn: () => must(api.GET("/api/v1/campaigns/{id}/activity", { params: { path: { id: campaignId } } })),
    placeholderData: (prev) => prev,
    refetchInterval: poll,
  });
  if (!activity.data) return null;
  const a = activity.data;
  return (
    <div className={`card activity activity-${a.next_action}`} role="status" data-testid="campaign-activity">
      <h2>What happens next</h2>
      <p>{a.message}</p>
      {a.waiting.length > 0 && (
        <ul className="inline-list" aria-label="Waiting contacts">
          {a.waiting.map((g) => (
            <li key={g.reason}>
              {label(WAIT_REASON, g.reason)}: {fmtInt(g.count)}
              {g.next_at && <span className="muted"> (next {fmtTime(g.next_at)})</span>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Outcomes({ campaign }: { campaign: Schema<"Campaign"> }) {
  const range = useMemo(
    () => ({
      from: campaign.created_at,
      to: new Date(Date.now() + 86_400_000).toISOString(),
      campaign_id: campaign.id,
    }),
    [campaign.created_at, campaign.id],
  );
  const summary = useQuery({
    queryKey: ["analytics", "campaign-summary", campaign.id, campaign.progress.attempts],
    queryFn: () => analytics.summary(range),
  });
  return (
    <div className="card">
      <h2>Outcomes</h2>
      {summary.isPending ? (
        <Loading />
      ) : summary.isError ? (
        <ErrorMessage error={summary.error} retry={() => summary.refetch()} />
      ) : summary.data.totals.dialed === 0 ? (
        <p className="muted">No calls placed yet.</p>
      ) : (
        <div className="stats" data-testid="campaign-outcomes">
          <Stat label="Dialed" value={fmtInt(summary.data.totals.dialed)} />
          <Stat label="Answered" value={fmtInt(summary.data.totals.answered)} hint={fmtPct(summary.data.totals.answer_rate)} />
          <Stat label="Humans" value={fmtInt(summary.data.totals.human)} />
          <Stat label="Machines" value={fmtInt(summary.data.totals.machine)} />
          <Stat label={CALL_OUTCOME.success} value={fmtInt(summary.data.totals.successful)} hint={fmtPct(summary.data.totals.success_rate)} />
          <Stat label={CALL_OUTCOME.no_answer} value={fmtInt(summary.data.totals.no_answer)} />
          <Stat label={CALL_OUTCOME.busy} value={fmtInt(summary.data.totals.busy)} />
          <Stat label={CALL_OUTCOME.voicemail} value={fmtInt(summary.data.totals.voicemail)} />
          <Stat label={CALL_OUTCOME.failed} value={fmtInt(summary.data.totals.failed)} />
          <Stat label="Average duration" value={fmtDuration(summary.data.totals.average_duration_seconds)} />
        </div>
      )}
    </div>
  );
}

/// Enrols every contact with a tag (contacts already enrolled are left as they are).
function AddContacts({ campaignId }: { campaignId: number }) {
  const client = useQueryClient();
  const [tag, setTag] = useState("");
  const tags = useQuery({ queryKey: ["tags"], queryFn: () => must(api.GET("/api/v1/tags")) });
  const add = useMutation({
    mutationFn: () =>
      must(api.POST("/api/v1/campaigns/{id}/contacts", { params: { path: { id: campaignId } }, body: { tag } })),
    onSuccess: (r) => {
      client.setQueryData(["campaign", campaignId], r.campaign);
      void client.invalidateQueries({ queryKey: ["campaign-contacts", campaignId] });
    },
  });
  if (tags.data?.length === 0) {
    return (
      <p className="muted">
        To add contacts, import a CSV with a <code>tags</code> column on the <Link to="/contacts">Contacts</Link> page.
      </p>
    );
  }
  return (
    <form
      className="card filters"
      aria-label="Add contacts"
      onSubmit={(e) => {
        e.preventDefault();
        if (tag) add.mutate();
      }}
    >
      <label>
        Add every contact tagged
        <select value={tag} onChange={(e) => setTag(e.target.value)}>
          <option value="">Choose a tag</option>
          {tags.data?.map((t) => (
            <option key={t.name} value={t.name}>
              {t.name} ({fmtInt(t.contacts)})
            </option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={!tag || add.isPending}>
        Add contacts
      </button>
      {add.isSuccess && <span role="status">{fmtInt(add.data.count)} contacts added.</span>}
      {add.isError && (
        <span className="form-error" role="alert">
          {describeError(add.error)}
        </span>
      )}
    </form>
  );
}

function CampaignContacts({ campaignId }: { campaignId: number }) {
  const pages = useCursorPages();
  const poll = usePollInterval(3_000);
  const cursor = pages.cursor;
  const contacts = useQuery({
    queryKey: ["campaign-contacts", campaignId, cursor],
    queryFn: () =>
      must(
        api.GET("/api/v1/campaigns/{id}/contacts", {
          params: { path: { id: campaignId }, query: { limit: 50, cursor } },
        }),
      ),
    placeholderData: (prev) => prev,
    refetchInterval: pages.hasPrev ? false : poll,
  });
  const [open, setOpen] = useState<number | null>(null);
  return (
    <div className="card">
      <h2>Contacts</h2>
      {contacts.isPending ? (
        <Loading />
      ) : contacts.isError ? (
        <ErrorMessage error={contacts.error} retry={() => contacts.refetch()} />
      ) : contacts.data.items.length === 0 ? (
        <Empty title="No contacts in this campaign">
          Import a CSV on the <Link to="/contacts">Contacts</Link> page and choose this campaign.
        </Empty>
      ) : (
        <div className="table-wrap">
          <table className="table cards">
            <thead>
              <tr>
                <th scope="col">Contact</th>
                <th scope="col">Standing</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last outcome</th>
                <th scope="col">Next attempt</th>
              </tr>
            </thead>
            <tbody>
              {contacts.data.items.map((cc) => (
                <ContactRow
                  key={cc.contact_id}
                  cc={cc}
                  campaignId={campaignId}
                  open={open === cc.contact_id}
                  toggle={() => setOpen(open === cc.contact_id ? null : cc.contact_id)}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager pages={pages} next={contacts.data?.next_cursor} />
    </div>
  );
}

function ContactRow({
  cc,
  campaignId,
  open,
  toggle,
}: {
  cc: Schema<"CampaignContact">;
  campaignId: number;
  open: boolean;
  toggle: () => void;
}) {
  const name = [cc.first_name, cc.last_name].filter(Boolean).join(" ") || cc.phone;
  return (
    <>
      <tr>
        <td data-label="Contact">
          <button type="button" className="link" aria-expanded={open} onClick={toggle}>
            {name}
          </button>
          <div className="muted small">{cc.phone}</div>
        </td>
        <td data-label="Standing">{label(CONTACT_STANDING, cc.standing)}</td>
        <td data-label="Attempts">{cc.attempts}</td>
        <td data-label="Last outcome">{label(CALL_OUTCOME, cc.last_outcome as Schema<"CallOutcome"> | null)}</td>
        <td data-label="Next attempt">
          {cc.waiting_for && cc.waiting_for !== "due" ? (
            <>
              {label(WAIT_REASON, cc.waiting_for)}
              <div className="muted small">{fmtTimeIn(cc.next_attempt_at, cc.timezone)} their time</div>
            </>
          ) : cc.waiting_for === "due" ? (
            label(WAIT_REASON, "due")
          ) : (
            fmtTime(cc.next_attempt_at)
          )}
        </td>
      </tr>
      {open && (
        <tr className="subrow">
          <td colSpan={5}>
            <AttemptHistory campaignId={campaignId} contactId={cc.contact_id} />
          </td>
        </tr>
      )}
    </>
  );
}

function AttemptHistory({ campaignId, contactId }: { campaignId: number; contactId: number }) {
  const calls = useQuery({
    queryKey: ["calls", "attempts", campaignId, contactId],
    queryFn: () =>
      must(
        api.GET("/api/v1/calls", {
          params: { query: { campaign_id: campaignId, contact_id: contactId, limit: 50 } },
        }),
      ),
  });
  if (calls.isPending) return <Loading label="Loading attempts" />;
  if (calls.isError) return <ErrorMessage error={calls.error} />;
  if (calls.data.items.length === 0) return <p className="muted">Not called yet.</p>;
  return (
    <ol className="attempts" aria-label="Attempt history">
      {calls.data.items.map((call) => (
        <li key={call.id}>
          <Link to={`/calls/${call.id}`}>Attempt {call.attempt}</Link> · {fmtTime(call.created_at)} ·{" "}
          {label(CALL_STATUS, call.status)} · {label(CALL_OUTCOME, call.outcome)} · {fmtDuration(call.duration_seconds)}
        </li>
      ))}
    </ol>
  );
}
