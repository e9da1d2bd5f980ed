// The campaign form's warm-transfer model (`settings.transfer`): targets edited as one
// number per line, empty texts meaning "not set".
import { z } from "zod";
import type { Schema } from "../api/client";

type Transfer = Schema<"TransferSettings">;

const E164 = /^\+[1-9]\d{6,14}$/;
const lines = (s: string) =>
  s
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
const closed = (t: string) => !/\{\{(?![^{}]*\}\})/.test(t);

export const transferSchema = z.object({
  targets: z
    .string()
    .refine((s) => lines(s).every((l) => E164.test(l)), "One number per line, in E.164 form (+15550109999)")
    .refine((s) => lines(s).length <= 5, "At most 5 numbers"),
  whisper: z.string().max(500, "At most 500 characters").refine(closed, "A {{ without its }}"),
  ring_seconds: z.coerce
    .number({ invalid_type_error: "Enter a number" })
    .int("Enter a whole number")
    .min(5, "Must be at least 5")
    .max(120, "Must be at most 120"),
  fallback: z.object({
    voicemail_message: z.string().max(500, "At most 500 characters"),
    schedule_callback_in_minutes: z
      .string()
      .refine((s) => s.trim() === "" || (/^\d+$/.test(s.trim()) && +s >= 1 && +s <= 10_080), "1 to 10080 minutes, or empty"),
  }),
});

export type TransferForm = z.infer<typeof transferSchema>;

export function transferToForm(t: Transfer | undefined): TransferForm {
  return {
    targets: (t?.targets ?? []).join("\n"),
    whisper: t?.whisper ?? "",
    ring_seconds: t?.ring_seconds ?? 20,
    fallback: {
      voicemail_message: t?.fallback?.voicemail_message ?? "",
      schedule_callback_in_minutes: t?.fallback?.schedule_callback_in_minutes?.toString() ?? "",
    },
  };
}

export function transferToRequest(v: TransferForm): Transfer {
  const blank = (s: string) => (s.trim() === "" ? null : s);
  const minutes = v.fallback.schedule_callback_in_minutes.trim();
  return {
    targets: lines(v.targets),
    whisper: blank(v.whisper),
    ring_seconds: v.ring_seconds,
    fallback: {
      voicemail_message: blank(v.fallback.voicemail_message),
      schedule_callback_in_minutes: minutes === "" ? null : Number(minutes),
    },
  };
}
