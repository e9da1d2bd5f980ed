// A call's transcript as it is spoken (live events) and once stored; shared by the call
// page and the campaign page's test call.
import { useCallback, useEffect, useRef, useState } from "react";
import { fmtDuration } from "../api/format";
import { useLive, type LiveMessage } from "../api/live";

export type Turn = { role: string; text: string; time_in_call_secs?: number | null };

/// While the call runs, turns arrive live; once stored, the stored transcript is complete.
export function shownTurns(stored: Turn[], live: Turn[]): Turn[] {
  return stored.length >= live.length ? stored : live;
}

/// A finished transcript shown whole; a live one scrolls, following its newest turn.
export function Transcript({ turns, ended }: { turns: Turn[]; ended: boolean }) {
  const following = useFollowNewest(turns.length);
  if (turns.length === 0) {
    return <p className="muted">{ended ? "Nothing was said on this call." : "Waiting for the first words…"}</p>;
  }
  return (
    <ol
      ref={following}
      className={ended ? "transcript" : "transcript live"}
      data-testid="transcript"
      aria-live={ended ? "off" : "polite"}
    >
      {turns.map((t, i) => (
        <li key={i} className={`turn turn-${t.role}`}>
          <span className="speaker">{t.role === "agent" ? "Agent" : "Contact"}</span>
          {t.time_in_call_secs != null && <span className="muted small"> {fmtDuration(t.time_in_call_secs)}</span>}
          <p>{t.text}</p>
        </li>
      ))}
    </ol>
  );
}

/// Keeps a scrolling list on its newest item as items arrive, unless the reader has
/// scrolled up to read something older.
function useFollowNewest(count: number) {
  const ref = useRef<HTMLOListElement>(null);
  const atEnd = useRef(true);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const onScroll = () => {
      atEnd.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    };
    el.addEventListener("scroll", onScroll);
    return () => el.removeEventListener("scroll", onScroll);
  });
  useEffect(() => {
    const el = ref.current;
    if (el && atEnd.current) el.scrollTop = el.scrollHeight;
  }, [count]);
  return ref;
}

/// Marks a test call ("Call me" on a campaign): not counted in the campaign's results.
export function TestCallBadge() {
  return (
    <span className="badge badge-warn" data-testid="test-call-badge" title="Not counted in the campaign's results">
      Test call
    </span>
  );
}

/// The agent was cut off: its latest turn reading `original` (else its latest turn) now
/// reads what the caller heard.
export function correctTurn(turns: Turn[], role: string, original: string, text: string): Turn[] {
  let at = -1;
  for (let i = turns.length - 1; i >= 0; i--) {
    if (turns[i].role !== role) continue;
    if (turns[i].text === original) {
      at = i;
      break;
    }
    if (at < 0) at = i;
  }
  if (at < 0) return [...turns, { role, text, time_in_call_secs: null }];
  return turns.map((turn, i) => (i === at ? { ...turn, text } : turn));
}

/// Transcript turns of one call as they are spoken, from the live events.
export function useLiveTranscript(callId: number): Turn[] {
  const [turns, setTurns] = useState<Turn[]>([]);
  useEffect(() => setTurns([]), [callId]);
  const onMessage = useCallback(
    (m: LiveMessage) => {
      if (m.type === "transcript" && m.call_id === callId) {
        setTurns((t) => [
          ...t,
          { role: String(m.role), text: String(m.text), time_in_call_secs: m.time_in_call_secs as number },
        ]);
      } else if (m.type === "transcript_corrected" && m.call_id === callId) {
        setTurns((t) => correctTurn(t, String(m.role), String(m.original_text), String(m.text)));
      }
    },
    [callId],
  );
  useLive(onMessage);
  return turns;
}
