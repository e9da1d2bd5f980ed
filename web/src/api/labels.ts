// Words for the API's enums: the domain's words (crates/parley-domain/src/vocabulary.rs),
// which the OpenAPI document carries as each enum's `x-labels`; labels.test.ts fails when
// a table here says otherwise. `satisfies Record<...>` makes the compiler fail when the
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
  failed: "Call failed",
  canceled: "Call cancelled",
} satisfies Record<Schema<"CallStatus">, string>;

export const CALL_OUTCOME = {
  success: "Successful",
  unsuccessful: "Unsuccessful",
  conversation: "Conversation",
  short_call: "Short call",
  voicemail: "Voicemail",
  no_answer: "No answer",
  busy: "Busy",
  failed: "Call failed",
  canceled: "Call cancelled",
  opted_out: "Opted out",
} satisfies Record<Schema<"CallOutcome">, string>;

/// A contact's state in a campaign (and the campaign's progress counters).
export const PROGRESS_STATE = {
  pending: "Ready",
  scheduled: "Scheduled",
  in_progress: "Being called",
  completed: "Done",
  failed: "Gave up",
  cancelled: "Taken out",
} satisfies Record<Schema<"ProgressState">, string>;

/// Where a contact stands in a campaign: its state read with its last outcome and reason.
export const CONTACT_STANDING = {
  ready: "Ready",
  scheduled: "Scheduled",
  being_called: "Being called",
  reached: "Reached",
  no_answer: "Not reached: no answer",
  busy: "Not reached: busy",
  voicemail: "Not reached: voicemail",
  too_short: "Not reached: call too short",
  call_failed: "Not reached: call failed",
  opted_out: "Opted out",
  do_not_call: "Do not call",
  taken_out: "Taken out",
} satisfies Record<Schema<"ContactStanding">, string>;

export const WAIT_REASON = {
  due: "Due now",
  outside_calling_window: "Outside calling hours",
  state_calling_hours: "Outside the state's calling hours",
  frequency_cap: "At a frequency cap",
  no_consent: "No consent",
  retry: "Retry",
  callback: "Callback requested",
} satisfies Record<Schema<"WaitReason">, string>;

/// How a call's warm transfer to a person went.
export const TRANSFER_OUTCOME = {
  in_progress: "Ringing",
  connected: "Connected",
  no_answer: "No one answered",
  busy: "Every line busy",
  failed: "Failed",
} satisfies Record<Schema<"TransferOutcome">, string>;

export function label<T extends string>(table: Record<T, string>, value: T | null | undefined): string {
  return value == null ? "—" : (table[value] ?? value);
}
