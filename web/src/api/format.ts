// Display helpers shared by pages.
export function fmtInt(n: number | null | undefined): string {
  return n == null ? "—" : Math.round(n).toLocaleString();
}

export function fmtPct(ratio: number | null | undefined): string {
  return ratio == null || Number.isNaN(ratio) ? "—" : `${(ratio * 100).toFixed(1)}%`;
}

/// A length of time as the recording player shows one, so a page never shows two formats:
/// "0:16", "4:05", "1:02:03".
export function fmtDuration(seconds: number | null | undefined): string {
  if (seconds == null || Number.isNaN(seconds)) return "—";
  const total = Math.max(0, Math.round(seconds));
  const [h, m, s] = [Math.floor(total / 3600), Math.floor(total / 60) % 60, total % 60];
  const pad = (n: number) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

export function fmtMoney(usd: number | null | undefined): string {
  return usd == null
    ? "—"
    : usd.toLocaleString(undefined, { style: "currency", currency: "USD", minimumFractionDigits: 2 });
}

/** ElevenLabs bills conversations in credits (post-call `metadata.cost`), not dollars. */
export function fmtCredits(credits: number | null | undefined): string {
  return credits == null ? "—" : `${credits.toLocaleString()} credits`;
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/// A time as the clock reads where the contact lives, e.g. "Thu 09:00 (America/New_York)".
export function fmtTimeIn(iso: string | null | undefined, timeZone: string | null | undefined): string {
  if (!iso) return "—";
  if (!timeZone) return fmtTime(iso);
  const local = new Date(iso).toLocaleString(undefined, {
    timeZone,
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
  return `${local} (${timeZone})`;
}

/// Words for the API's snake_case states and outcomes.
export function humanize(s: string | null | undefined): string {
  if (!s) return "—";
  const t = s.replace(/[_-]+/g, " ");
  return t.charAt(0).toUpperCase() + t.slice(1);
}

/// Start of today in the browser's time zone, as an ISO time.
export function startOfToday(now = new Date()): string {
  const d = new Date(now);
  d.setHours(0, 0, 0, 0);
  return d.toISOString();
}
