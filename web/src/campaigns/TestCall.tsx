import { useState } from "react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { Link } from "react-router-dom";
import { api, describeError, must, type Schema } from "../api/client";
import { CALL_OUTCOME, CALL_STATUS, label } from "../api/labels";
import { usePollInterval } from "../components/LiveSync";
import { shownTurns, TestCallBadge, Transcript, useLiveTranscript } from "../components/Transcript";

const FINAL: Schema<"CallStatus">[] = ["completed", "busy", "no-answer", "failed", "canceled"];

/** "Call me": a test call of the campaign (its agent, first message, prompt, variables
 * and answering-machine policy) to the operator's number, with the transcript live.
 * Test calls are not counted in the campaign's results. */
export function TestCall({ campaignId, variableNames }: { campaignId: number; variableNames: string[] }) {
  const [open, setOpen] = useState(false);
  const [to, setTo] = useState("");
  const [contactId, setContactId] = useState("");
  const [values, setValues] = useState<Record<string, string>>({});
  const [callId, setCallId] = useState<number | null>(null);
  const place = useMutation({
    mutationFn: () => {
      const variables = Object.fromEntries(Object.entries(values).filter(([, v]) => v.trim() !== ""));
      return must(
        api.POST("/api/v1/campaigns/{id}/test-call", {
          params: { path: { id: campaignId } },
          body: { to: to.trim(), contact_id: contactId ? Number(contactId) : null, variables },
        }),
      );
    },
    onSuccess: (call) => setCallId(call.id),
  });

  return (
    <div className="card" data-testid="test-call">
      <div className="page-head">
        <h2>Test call</h2>
        <span className="spacer" />
        {!open && (
          <button type="button" className="primary" onClick={() => setOpen(true)}>
            Call me
          </button>
        )}
      </div>
      {open && (
        <form
          className="filters"
          onSubmit={(e) => {
            e.preventDefault();
            place.mutate();
          }}
        >
          <p className="muted">
            Calls your phone with this campaign&apos;s agent and settings. Test calls are not counted in the
            campaign&apos;s results, and the campaign need not be running.
          </p>
          <label>
            Your number
            <input
              type="tel"
              required
              placeholder="+15550100001"
              value={to}
              onChange={(e) => setTo(e.target.value)}
              aria-label="Your number"
            />
          </label>
          <ContactPicker campaignId={campaignId} value={contactId} onChange={setContactId} />
          {variableNames.map((name) => (
            <label key={name}>
              <code>{name}</code>
              <input
                value={values[name] ?? ""}
                placeholder={contactId ? "from the contact" : ""}
                onChange={(e) => setValues((v) => ({ ...v, [name]: e.target.value }))}
                aria-label={`Variable ${name}`}
              />
            </label>
          ))}
          <div className="actions">
            <button type="submit" className="primary" disabled={place.isPending || !to.trim()}>
              {callId ? "Call me again" : "Call me"}
            </button>
          </div>
          {place.isError && (
            <p className="form-error" role="alert">
              {describeError(place.error)}
            </p>
          )}
        </form>
      )}
      {callId != null && <TestCallProgress callId={callId} />}
    </div>
  );
}

/// The campaign's contacts, whose fields can fill the variables (the contact is not called).
function ContactPicker({
  campaignId,
  value,
  onChange,
}: {
  campaignId: number;
  value: string;
  onChange: (v: string) => void;
}) {
  const contacts = useQuery({
    queryKey: ["test-call-contacts", campaignId],
    queryFn: () =>
      must(
        api.GET("/api/v1/campaigns/{id}/contacts", {
          params: { path: { id: campaignId }, query: { limit: 100 } },
        }),
      ),
  });
  const items = contacts.data?.items ?? [];
  if (items.length === 0) return null;
  return (
    <label>
      Variables from a contact
      <select value={value} onChange={(e) => onChange(e.target.value)} aria-label="Variables from a contact">
        <option value="">None: type them below</option>
        {items.map((c) => (
          <option key={c.contact_id} value={c.contact_id}>
            {[c.first_name, c.last_name].filter(Boolean).join(" ") || `#${c.contact_id}`}
          </option>
        ))}
      </select>
    </label>
  );
}

/// The placed call: its status, the transcript as it is spoken, and a link to its page.
function TestCallProgress({ callId }: { callId: number }) {
  const poll = usePollInterval(2_000);
  const call = useQuery({
    queryKey: ["call", callId],
    queryFn: () => must(api.GET("/api/v1/calls/{id}", { params: { path: { id: callId } } })),
    refetchInterval: (q) => (q.state.data && FINAL.includes(q.state.data.status) ? false : poll),
  });
  const liveTurns = useLiveTranscript(callId);
  const c = call.data;
  const ended = c != null && FINAL.includes(c.status);
  return (
    <div data-testid="test-call-progress">
      <div className="page-head">
        <Link to={`/calls/${callId}`} data-testid="test-call-link">
          Call #{callId}
        </Link>
        <TestCallBadge />
        {c && (
          <span className={`badge status-${c.status}`} data-testid="test-call-status" data-status={c.status}>
            {label(CALL_STATUS, c.status)}
          </span>
        )}
        {c?.outcome && <span className={`badge outcome-${c.outcome}`}>{label(CALL_OUTCOME, c.outcome)}</span>}
      </div>
      <h3>{ended ? "Transcript" : "Live transcript"}</h3>
      <Transcript turns={shownTurns(c?.transcript ?? [], liveTurns)} ended={ended} />
    </div>
  );
}
