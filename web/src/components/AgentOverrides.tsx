import type { Schema } from "../api/client";

/// One overridden value, if there is one.
function Fact({
  term,
  value,
  testId,
  note,
}: {
  term: string;
  value: string | null | undefined;
  testId?: string;
  note?: boolean;
}) {
  if (!value) return null;
  return (
    <>
      <dt>{term}</dt>
      <dd data-testid={testId}>
        {value}
        {note && <span className="muted small"> (from the contact)</span>}
      </dd>
    </>
  );
}

const FROM_CONTACT: Record<string, string> = {
  language: "language",
  voice_id: "voice",
  first_message: "first message",
};

/// What the call told its agent instead of the agent's own settings: its A/B variant,
/// and which values came from the contact's fields.
export function AgentOverridesCard({
  variant,
  overrides,
}: {
  variant: string | null | undefined;
  overrides: Schema<"AgentOverrides"> | undefined;
}) {
  const o = overrides;
  const none = !variant && !o?.first_message && !o?.prompt && !o?.language && !o?.voice_id;
  const fromContact = (key: string) => !!o?.from_contact.includes(key);
  return (
    <div className="card" data-testid="agent-overrides">
      <h2>Agent overrides</h2>
      {none ? (
        <p className="muted">This call used the agent's own settings.</p>
      ) : (
        <dl className="facts">
          <Fact term="A/B variant" testId="call-variant" value={variant} />
          <Fact
            term="First message"
            testId="override-first-message"
            value={o?.first_message}
            note={fromContact("first_message")}
          />
          <Fact term="Language" testId="override-language" value={o?.language} note={fromContact("language")} />
          <Fact term="Voice" testId="override-voice" value={o?.voice_id} note={fromContact("voice_id")} />
          <Fact term="Prompt" value={o?.prompt ? "Replaced (see the campaign's settings)" : null} />
        </dl>
      )}
      {o && o.from_contact.length > 0 && (
        <p className="muted small">
          From the contact's fields: {o.from_contact.map((k) => FROM_CONTACT[k] ?? k).join(", ")}.
        </p>
      )}
    </div>
  );
}
