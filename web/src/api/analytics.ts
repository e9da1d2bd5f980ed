// Analytics reads, typed from the OpenAPI document.
import { api, must, type Schema } from "./client";

export type Totals = Schema<"Totals">;
export type Summary = Schema<"Summary">;
/// A bar of the hourly chart: an hour of a timeline (a time) or of the day (0-23), with
/// the label it is shown under when not the hour's own.
export type HourPoint = { hour: string | number; dialed: number; answered: number; successful: number; label?: string };

const HOUR_MS = 3_600_000;
/// Up to this long a timeline is drawn per hour; longer, per day.
const HOURLY_UP_TO_MS = 3 * 24 * HOUR_MS;

/// The timeline on a real time axis: every hour of the range (the API leaves out hours
/// without calls; here they are bars of zero), or every local day over longer ranges.
export function timelineBuckets(points: HourPoint[], range: { from: string; to: string }): { step: "hour" | "day"; points: HourPoint[] } {
  const from = new Date(range.from).getTime();
  const to = new Date(range.to).getTime();
  const hourly = to - from <= HOURLY_UP_TO_MS;
  const start = (t: number) => {
    const d = new Date(t);
    if (hourly) d.setMinutes(0, 0, 0);
    else d.setHours(0, 0, 0, 0);
    return d;
  };
  const buckets = new Map<number, HourPoint>();
  for (let d = start(from); d.getTime() < to; hourly ? d.setTime(d.getTime() + HOUR_MS) : d.setDate(d.getDate() + 1)) {
    const label = hourly
      ? d.toLocaleString(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit" })
      : d.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" });
    buckets.set(d.getTime(), { hour: d.toISOString(), dialed: 0, answered: 0, successful: 0, label });
  }
  for (const p of points) {
    const b = buckets.get(start(new Date(p.hour).getTime()).getTime());
    if (!b) continue;
    b.dialed += p.dialed;
    b.answered += p.answered;
    b.successful += p.successful;
  }
  return { step: hourly ? "hour" : "day", points: [...buckets.values()] };
}

export type Range = { from: string; to: string; campaign_id?: number };

export const analytics = {
  summary: (query: Range) => must(api.GET("/api/v1/analytics/summary", { params: { query } })),
  timeline: (query: Range) =>
    must(api.GET("/api/v1/analytics/timeline", { params: { query } })).then((t): HourPoint[] => t.items),
  hourOfDay: (query: Range & { tz: string }) =>
    must(api.GET("/api/v1/analytics/hour-of-day", { params: { query } })).then((h): HourPoint[] => h.items),
  campaigns: (query: Range) =>
    must(api.GET("/api/v1/analytics/campaigns", { params: { query } })).then((c) => c.items),
};

export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}
