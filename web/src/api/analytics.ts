// Analytics reads, typed from the OpenAPI document.
import { api, must, type Schema } from "./client";

export type Totals = Schema<"Totals">;
export type Summary = Schema<"Summary">;
/// A bar of the hourly chart: an hour of a timeline (a time) or of the day (0-23).
export type HourPoint = { hour: string | number; dialed: number; answered: number; successful: number };

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
