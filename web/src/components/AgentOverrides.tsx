import type { Schema } from "../api/client";

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
  const fromContact = (key: string) =>
    o?.from_contact.includes(key) ? <span className="muted small"> (from the contact)</span> : null;
  return (
    <div className="card" data-testid="agent-overrides">
      <h2>Agent overrides</h2>
      {none ? (
        <p className="muted">This call used the agent's own settings.</p>
      ) : (
        <dl className="facts">
          {variant && (
            <>
              <dt>A/B variant</dt>
              <dd data-testid="call-variant">{variant}</dd>
            </>
          )}
          {o?.first_message && (
            <>
              <dt>First message</dt>
              <dd data-testid="override-first-message">
                {o.first_message}
                {fromContact("first_message")}
              </dd>
            </>
          )}
          {o?.language && (
            <>
              <dt>Language</dt>
              <dd data-testid="override-language">
                {o.language}
                {fromContact("language")}
              </dd>
            </>
          )}
          {o?.voice_id && (
            <>
              <dt>Voice</dt>
              <dd data-testid="override-voice">
                {o.voice_id}
                {fromContact("voice_id")}
              </dd>
            </>
          )}
          {o?.prompt && (
            <>
              <dt>Prompt</dt>
              <dd>Replaced (see the campaign's settings)</dd>
            </>
          )}
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
