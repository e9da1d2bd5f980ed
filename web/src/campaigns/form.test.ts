import { describe, expect, it } from "vitest";
import { campaignSchema, toForm, toRequest, type Settings } from "./form";

const settings: Settings = {
  agent_id: null,
  caller_ids: ["+15005550006"],
  max_concurrent_calls: 5,
  calls_per_second: 1,
  calling_window: { start: "09:00", end: "20:00", days: ["mon", "fri"] },
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
  dynamic_variables: { name: "first_name" },
  first_message: null,
  prompt: null,
  required_consent: "express_written",
  disclosures: {
    required: true,
    identification: "Acme Dental",
    ai_voice: "an AI assistant",
    all_party_recording: "notice_first",
    recording_notice: "This call is recorded.",
  },
  remember_previous_calls: { enabled: true, variables: ["previous_call_summary", "attempt_number"] },
  hidden_variables: ["account_number"],
  sheet_write_back: {
    enabled: true,
    columns: [
      { field: "status" },
      { field: "data_collection", name: "interested", header: "Interested, really?" },
    ],
  },
  variants: [
    { name: "A", weight: 1, agent_id: null, first_message: "Hi, this is A", prompt: null },
    { name: "B", weight: 3, agent_id: "agent_b", first_message: null, prompt: "Be brief." },
  ],
  contact_overrides: { language_field: "Language", voice_field: null, first_message_field: "Opening" },
  transfer: {
    targets: ["+15550109901", "+15550109902"],
    whisper: "Call from {{contact_name}}: {{reason}}",
    ring_seconds: 15,
    fallback: { voicemail_message: "Sorry, no one is free.", schedule_callback_in_minutes: 60 },
  },
};

describe("campaign form", () => {
  it("round-trips every setting through the form", () => {
    const form = toForm({ name: "Spring", description: null, settings });
    const back = toRequest(campaignSchema.parse(form));
    expect(back).toEqual({ name: "Spring", description: null, settings });
  });

  it("reads a memory with no variable checked as one that sends them all", () => {
    const form = toForm({ name: "Spring", settings });
    // What the browser gives for a group of checkboxes with none checked.
    (form.settings.remember_previous_calls as { variables: unknown }).variables = false;
    const back = toRequest(campaignSchema.parse(form));
    expect(back.settings.remember_previous_calls).toEqual({ enabled: true, variables: [] });
  });

  it("sends a variant's or mapping's empty texts as null, so the campaign's own apply", () => {
    const form = toForm({ name: "x", settings });
    form.settings.variants = [{ name: " A ", weight: 2, agent_id: " ", first_message: " Hi ", prompt: "" }];
    form.settings.contact_overrides = { language_field: " lang ", voice_field: "", first_message_field: "" };
    const sent = toRequest(campaignSchema.parse(form)).settings;
    expect(sent.variants).toEqual([{ name: "A", weight: 2, agent_id: null, first_message: "Hi", prompt: null }]);
    expect(sent.contact_overrides).toEqual({ language_field: "lang", voice_field: null, first_message_field: null });
  });

  it("explains each invalid field in words, at the API's field path", () => {
    const form = toForm({ name: " ", settings });
    form.settings.max_concurrent_calls = 0;
    form.settings.calling_window.end = "08:00";
    form.settings.calling_window.days = [];
    form.settings.caller_ids = "555-0100";
    form.settings.answering_machine.policy = "leave_voicemail";
    const result = campaignSchema.safeParse(form);
    expect(result.success).toBe(false);
    const issues = Object.fromEntries(result.error!.issues.map((i) => [i.path.join("."), i.message]));
    expect(issues).toMatchObject({
      name: "Give the campaign a name",
      "settings.max_concurrent_calls": "Must be at least 1",
      "settings.calling_window.end": "Must be later than the start",
      "settings.calling_window.days": "Choose at least one day",
      "settings.caller_ids": expect.stringMatching(/international form/),
      "settings.answering_machine.voicemail_message": expect.stringMatching(/message/),
    });
  });
});
