import { describe, expect, it } from "vitest";
import { transferSchema, transferToForm, transferToRequest } from "./transfer";

describe("transfer settings in the campaign form", () => {
  it("reads empty texts as not set and targets one per line", () => {
    const form = transferToForm(undefined);
    expect(form.ring_seconds).toBe(20);
    form.targets = " +15550109901 \n\n+15550109902";
    expect(transferToRequest(transferSchema.parse(form))).toEqual({
      targets: ["+15550109901", "+15550109902"],
      whisper: null,
      ring_seconds: 20,
      fallback: { voicemail_message: null, schedule_callback_in_minutes: null },
    });
  });

  it("explains bad numbers, ring times, open placeholders and callback delays", () => {
    const form = transferToForm(undefined);
    form.targets = "+15550109901\n555-0100";
    form.whisper = "Call from {{contact_name";
    form.ring_seconds = 2;
    form.fallback.schedule_callback_in_minutes = "0";
    const result = transferSchema.safeParse(form);
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((i) => i.path.join("."));
    expect(paths).toEqual(["targets", "whisper", "ring_seconds", "fallback.schedule_callback_in_minutes"]);
  });
});
