// Words for the API's enums. `satisfies Record<...>` makes the compiler fail when the
// API gains a value that has no label here.
import type { Schema } from "./client";

export const CALL_STATUS = {
  queued: "Queued",
  initiated: "Dialing",
  ringing: "Ringing",
  "in-progress": "In progress",
  completed: "Completed",
  busy: "Busy",
  "no-answer": "No answer",
  failed: "Failed",
  canceled: "Cancelled",
} satisfies Record<Schema<"CallStatus">, string>;

export const CALL_OUTCOME = {
  success: "Successful",
  unsuccessful: "Unsuccessful",
  conversation: "Conversation",
  short_call: "Short call",
  voicemail: "Voicemail",
  no_answer: "No answer",
  busy: "Busy",
  failed: "Failed",
  canceled: "Cancelled",
  opted_out: "Opted out",
} satisfies Record<Schema<"CallOutcome">, string>;

export const WAIT_REASON = {
  due: "Due now",
  outside_calling_window: "Outside calling hours",
  state_calling_hours: "Outside the state's calling hours",
  frequency_cap: "At a frequency cap",
  no_consent: "No consent",
  retry: "Retry",
  callback: "Callback requested",
} satisfies Record<Schema<"WaitReason">, string>;

export function label<T extends string>(table: Record<T, string>, value: T | null | undefined): string {
  return value == null ? "—" : (table[value] ?? value);
}
