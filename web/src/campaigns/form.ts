// The campaign form's model: the API's settings, with lists edited as text. Field names
// match the API's (`settings.calling_window.end`) so server validation errors land next
// to the right input.
import { z } from "zod";
import type { Schema } from "../api/client";
import {
  overridesSchema,
  overridesToForm,
  overridesToRequest,
  variantsSchema,
  variantsToForm,
  variantsToRequest,
} from "./variants";
import { transferSchema, transferToForm, transferToRequest } from "./transfer";

export type Campaign = Schema<"Campaign">;
export type Settings = Schema<"CampaignSettings">;

export const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export const RETRY_KINDS = [
  ["no_answer", "No answer"],
  ["busy", "Busy"],
  ["failed", "Failed"],
  ["voicemail", "Voicemail"],
  ["short_call", "Short call"],
  ["unsuccessful", "Unsuccessful conversation"],
] as const;
export const MACHINE_POLICIES = [
  ["hang_up", "Hang up"],
  ["leave_voicemail", "Leave a voicemail"],
  ["agent_talks", "Detect, but let the agent talk"],
  ["off", "No detection"],
] as const;

/// What a call can remember of earlier ones, as the agent's dynamic variables.
export const MEMORY_VARIABLES = [
  ["previous_call_summary", "Summary of the previous conversation"],
  ["previous_outcome", "Its outcome"],
  ["previous_call_at", "When it was (spoken, in the contact's time)"],
  ["attempt_number", "Attempt number"],
  ["callback_reason", "Why the contact asked to be called back"],
  ["previous_results", "Data collected so far (previous_<item>)"],
] as const;
type MemoryVariable = (typeof MEMORY_VARIABLES)[number][0];
const MEMORY_NAMES = MEMORY_VARIABLES.map(([v]) => v) as [MemoryVariable, ...MemoryVariable[]];

export const CONSENT_TYPES = [
  ["express_written", "Prior express written consent (marketing)"],
  ["express", "Prior express consent"],
  ["existing_business_relationship", "An existing business relationship"],
  ["none", "None (every contact not on a do-not-call list)"],
] as const;

/// A consent type as a person reads it.
export function consentLabel(t: string | null | undefined): string {
  return CONSENT_TYPES.find(([v]) => v === t)?.[1].replace(/ \(.*\)$/, "") ?? "None";
}

const int = (min: number, max: number) =>
  z.coerce
    .number({ invalid_type_error: "Enter a number" })
    .int("Enter a whole number")
    .min(min, `Must be at least ${min}`)
    .max(max, `Must be at most ${max}`);

const rule = z.object({ max_attempts: int(1, 20), delay_minutes: int(0, 43_200) });

type WriteBackColumn = Schema<"WriteBackColumn">;
export const WRITE_BACK_FIELDS = ["status", "outcome", "last_call_at", "summary", "next_attempt_at", "data_collection"];

/** A write-back column as a line: `field`, `data_collection:item`, then `= Header` if any. */
function columnLine(c: WriteBackColumn): string {
  const field = c.name ? `${c.field}:${c.name}` : c.field;
  return c.header ? `${field} = ${c.header}` : field;
}

function columnOf(line: string): WriteBackColumn {
  const [left, ...header] = line.split("=");
  const [field, ...name] = left.split(":");
  const column: WriteBackColumn = { field: field.trim() as WriteBackColumn["field"] };
  if (name.length) column.name = name.join(":").trim();
  if (header.length) column.header = header.join("=").trim();
  return column;
}

/** Lines of a textarea, one item each (commas are text: a header may hold one). */
const rows = (s: string) =>
  s
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
const E164 = /^\+[1-9]\d{6,14}$/;

export const campaignSchema = z
  .object({
    name: z.string().trim().min(1, "Give the campaign a name").max(200, "At most 200 characters"),
    description: z.string(),
    settings: z.object({
      agent_id: z.string(),
      caller_ids: z.string().refine(
        (s) => lines(s).every((n) => E164.test(n)),
        "One number per line in international form, like +15005550006",
      ),
      max_concurrent_calls: int(1, 1000),
      calls_per_second: z.coerce
        .number({ invalid_type_error: "Enter a number" })
        .gt(0, "Must be above 0")
        .max(100, "Must be at most 100"),
      calling_window: z.object({
        start: z.string().regex(/^\d{2}:\d{2}$/, "Pick a start time"),
        end: z.string().regex(/^\d{2}:\d{2}$/, "Pick an end time"),
        days: z.array(z.enum(DAYS)).min(1, "Choose at least one day"),
      }),
      allow_outside_legal_hours: z.boolean(),
      start_date: z.string(),
      end_date: z.string(),
      retry: z.object({
        no_answer: rule,
        busy: rule,
        failed: rule,
        voicemail: rule,
        short_call: rule,
        unsuccessful: rule,
        short_call_seconds: int(0, 3600),
        max_attempts_per_day: int(1, 20),
      }),
      answering_machine: z.object({
        policy: z.enum(["off", "hang_up", "leave_voicemail", "agent_talks"]),
        voicemail_message: z.string(),
      }),
      record_calls: z.boolean(),
      max_call_duration_seconds: int(10, 14_400),
      max_abandonment_rate_pct: z.coerce
        .number({ invalid_type_error: "Enter a number" })
        .min(0, "Must be at least 0")
        .max(100, "Must be at most 100"),
      dynamic_variables: z.string().refine(
        (s) => lines(s).every((l) => /^[^=\s][^=]*=\s*\S.*$/.test(l)),
        "One per line: variable = contact field",
      ),
      first_message: z.string(),
      prompt: z.string(),
      required_consent: z.enum(["express_written", "express", "existing_business_relationship", "none"]),
      disclosures: z.object({
        required: z.boolean(),
        identification: z.string().max(500, "At most 500 characters"),
        ai_voice: z.string().max(500, "At most 500 characters"),
        all_party_recording: z.enum(["do_not_record", "notice_first"]),
        recording_notice: z.string().max(500, "At most 500 characters"),
      }),
      remember_previous_calls: z.object({
        enabled: z.boolean(),
        // A group of checkboxes: none checked reads as `false`.
        variables: z.preprocess((v) => (Array.isArray(v) ? v : v ? [v] : []), z.array(z.enum(MEMORY_NAMES))),
      }),
      hidden_variables: z.string(),
      sheet_write_back: z.object({
        enabled: z.boolean(),
        columns: z.string().refine(
          (s) =>
            rows(s).every((l) => {
              const c = columnOf(l);
              return WRITE_BACK_FIELDS.includes(c.field) && (c.field !== "data_collection" || !!c.name);
            }),
          "One per line: status, outcome, last_call_at, summary, next_attempt_at or data_collection:item, then = Header if you like",
        ),
      }),
      variants: variantsSchema,
      contact_overrides: overridesSchema,
      transfer: transferSchema,
    }),
  })
  .superRefine((v, ctx) => {
    const w = v.settings.calling_window;
    if (w.start && w.end && w.start >= w.end) {
      ctx.addIssue({
        code: "custom",
        path: ["settings", "calling_window", "end"],
        message: "Must be later than the start",
      });
    }
    const { start_date, end_date } = v.settings;
    if (start_date && end_date && end_date < start_date) {
      ctx.addIssue({
        code: "custom",
        path: ["settings", "end_date"],
        message: "Must not be before the start date",
      });
    }
    const d = v.settings.disclosures;
    for (const field of ["identification", "ai_voice"] as const) {
      if (d.required && !d[field].trim()) {
        ctx.addIssue({
          code: "custom",
          path: ["settings", "disclosures", field],
          message: "Required when the first message must carry the disclosures",
        });
      }
    }
    const am = v.settings.answering_machine;
    if (am.policy === "leave_voicemail" && !am.voicemail_message.trim()) {
      ctx.addIssue({
        code: "custom",
        path: ["settings", "answering_machine", "voicemail_message"],
        message: "Write the message to leave after the beep",
      });
    }
  });

export type CampaignForm = z.input<typeof campaignSchema>;
type Parsed = z.output<typeof campaignSchema>;

function lines(s: string): string[] {
  return s
    .split(/[\n,]/)
    .map((l) => l.trim())
    .filter(Boolean);
}

const blankToNull = (s: string) => (s.trim() ? s.trim() : null);

export function toForm(c: { name: string; description?: string | null; settings: Settings }): CampaignForm {
  const s = c.settings;
  return {
    name: c.name,
    description: c.description ?? "",
    settings: {
      agent_id: s.agent_id ?? "",
      caller_ids: s.caller_ids.join("\n"),
      max_concurrent_calls: s.max_concurrent_calls,
      calls_per_second: s.calls_per_second,
      calling_window: {
        start: s.calling_window.start,
        end: s.calling_window.end,
        days: s.calling_window.days as (typeof DAYS)[number][],
      },
      allow_outside_legal_hours: s.allow_outside_legal_hours,
      start_date: s.start_date ?? "",
      end_date: s.end_date ?? "",
      retry: { ...s.retry },
      answering_machine: {
        policy: s.answering_machine.policy,
        voicemail_message: s.answering_machine.voicemail_message ?? "",
      },
      record_calls: s.record_calls,
      max_call_duration_seconds: s.max_call_duration_seconds,
      max_abandonment_rate_pct: s.max_abandonment_rate_pct,
      dynamic_variables: Object.entries(s.dynamic_variables ?? {})
        .map(([k, v]) => `${k} = ${v}`)
        .join("\n"),
      first_message: s.first_message ?? "",
      prompt: s.prompt ?? "",
      required_consent: s.required_consent,
      disclosures: {
        required: s.disclosures?.required ?? false,
        identification: s.disclosures?.identification ?? "",
        ai_voice: s.disclosures?.ai_voice ?? "",
        all_party_recording: s.disclosures?.all_party_recording ?? "do_not_record",
        recording_notice: s.disclosures?.recording_notice ?? "",
      },
      remember_previous_calls: {
        enabled: s.remember_previous_calls?.enabled ?? false,
        variables: (s.remember_previous_calls?.variables ?? []) as MemoryVariable[],
      },
      hidden_variables: (s.hidden_variables ?? []).join("\n"),
      sheet_write_back: {
        enabled: s.sheet_write_back?.enabled ?? false,
        columns: (s.sheet_write_back?.columns ?? []).map(columnLine).join("\n"),
      },
      variants: variantsToForm(s.variants),
      contact_overrides: overridesToForm(s.contact_overrides),
      transfer: transferToForm(s.transfer),
    },
  };
}

export function toRequest(v: Parsed): { name: string; description: string | null; settings: Settings } {
  const s = v.settings;
  return {
    name: v.name,
    description: blankToNull(v.description),
    settings: {
      ...s,
      agent_id: blankToNull(s.agent_id),
      caller_ids: lines(s.caller_ids),
      start_date: blankToNull(s.start_date),
      end_date: blankToNull(s.end_date),
      answering_machine: {
        policy: s.answering_machine.policy,
        voicemail_message: blankToNull(s.answering_machine.voicemail_message),
      },
      dynamic_variables: Object.fromEntries(
        lines(s.dynamic_variables).map((l) => {
          const [k, ...rest] = l.split("=");
          return [k.trim(), rest.join("=").trim()];
        }),
      ),
      first_message: blankToNull(s.first_message),
      prompt: blankToNull(s.prompt),
      disclosures: {
        required: s.disclosures.required,
        identification: blankToNull(s.disclosures.identification),
        ai_voice: blankToNull(s.disclosures.ai_voice),
        all_party_recording: s.disclosures.all_party_recording,
        recording_notice: blankToNull(s.disclosures.recording_notice),
      },
      hidden_variables: lines(s.hidden_variables),
      sheet_write_back: {
        enabled: s.sheet_write_back.enabled,
        columns: rows(s.sheet_write_back.columns).map(columnOf),
      },
      variants: variantsToRequest(s.variants),
      contact_overrides: overridesToRequest(s.contact_overrides),
      transfer: transferToRequest(s.transfer),
    },
  };
}
