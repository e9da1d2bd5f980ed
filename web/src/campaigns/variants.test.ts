import { describe, expect, it } from "vitest";
import { campaignSchema, toForm, toRequest } from "./form";
import { newVariant, overridesSchema, shares, variantsSchema } from "./variants";
import type { Settings } from "./form";

const variant = (name: string, weight: number | string = 1) => ({
  name,
  weight,
  agent_id: "",
  first_message: "",
  prompt: "",
});

describe("A/B variants in the form", () => {
  it("refuses the server's way: repeated names, weights out of range, too many", () => {
    const bad = variantsSchema.safeParse([variant("A"), variant("a", 0), variant(" ", 1001)]);
    expect(bad.success).toBe(false);
    const issues = Object.fromEntries(bad.error!.issues.map((i) => [i.path.join("."), i.message]));
    expect(issues).toEqual({
      "1.name": "Another variant has this name",
      "1.weight": "Must be at least 1",
      "2.name": "Name the variant",
      "2.weight": "Must be at most 1000",
    });
    const many = Array.from({ length: 11 }, (_, i) => variant(`v${i}`));
    expect(variantsSchema.safeParse(many).success).toBe(false);
    expect(variantsSchema.safeParse([variant("control"), variant("short", "3")]).success).toBe(true);
  });

  it("shows each variant's share of contacts and names new ones by the next free letter", () => {
    expect(shares([{ weight: 1 }, { weight: 3 }])).toEqual([25, 75]);
    expect(shares([{ weight: "" }])).toEqual([0]);
    expect(newVariant([{ name: "A" }, { name: "c" }]).name).toBe("B");
    expect(newVariant([]).weight).toBe(1);
  });

  it("refuses the phone and email as override fields", () => {
    const r = overridesSchema.safeParse({ language_field: "phone", voice_field: "", first_message_field: " email " });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join("."))).toEqual(["language_field", "first_message_field"]);
  });

  it("sends empty texts as null and trims names and fields, so the campaign's own apply", () => {
    const form = toForm({ name: "x", settings: baseSettings() });
    form.settings.variants = [{ name: " A ", weight: 2, agent_id: " ", first_message: " Hi ", prompt: "" }];
    form.settings.contact_overrides = { language_field: " lang ", voice_field: "", first_message_field: "" };
    const sent = toRequest(campaignSchema.parse(form)).settings;
    expect(sent.variants).toEqual([{ name: "A", weight: 2, agent_id: null, first_message: "Hi", prompt: null }]);
    expect(sent.contact_overrides).toEqual({ language_field: "lang", voice_field: null, first_message_field: null });
  });
});

function baseSettings(): Settings {
  return {
    agent_id: null,
    caller_ids: [],
    max_concurrent_calls: 5,
    calls_per_second: 1,
    calling_window: { start: "09:00", end: "20:00", days: ["mon"] },
    allow_outside_legal_hours: false,
    start_date: null,
    end_date: null,
    retry: {
      no_answer: { max_attempts: 3, delay_minutes: 240 },
      busy: { max_attempts: 3, delay_minutes: 30 },
      failed: { max_attempts: 2, delay_minutes: 60 },
      voicemail: { max_attempts: 2, delay_minutes: 1440 },
      short_call: { max_attempts: 2, delay_minutes: 120 },
      short_call_seconds: 10,
      unsuccessful: { max_attempts: 1, delay_minutes: 1440 },
      max_attempts_per_day: 2,
    },
    answering_machine: { policy: "hang_up", voicemail_message: null },
    record_calls: true,
    max_call_duration_seconds: 600,
    max_abandonment_rate_pct: 3,
    dynamic_variables: {},
    first_message: null,
    prompt: null,
    required_consent: "none",
    disclosures: {
      required: false,
      identification: null,
      ai_voice: null,
      all_party_recording: "do_not_record",
      recording_notice: null,
    },
    remember_previous_calls: { enabled: false, variables: [] },
    hidden_variables: [],
    sheet_write_back: { enabled: false, columns: [] },
    variants: [],
    contact_overrides: { language_field: null, voice_field: null, first_message_field: null },
  };
}
