import { afterEach, describe, expect, it, vi } from "vitest";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import CampaignEditPage from "./CampaignEdit";
import openapi from "../../openapi.json";

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

// What `GET /campaign-defaults` answers; the first test checks it names every setting.
const settings = {
  agent_id: null,
  caller_ids: [],
  max_concurrent_calls: 5,
  calls_per_second: 1,
  calling_window: { start: "09:00", end: "20:00", days: ["mon", "tue", "wed", "thu", "fri"] },
  allow_outside_legal_hours: false,
  start_date: null,
  end_date: null,
  retry: Object.fromEntries(
    ["no_answer", "busy", "failed", "voicemail", "short_call", "unsuccessful"].map((k) => [
      k,
      { max_attempts: 2, delay_minutes: 60 },
    ]),
  ),
  answering_machine: { policy: "hang_up", voicemail_message: null },
  record_calls: true,
  max_call_duration_seconds: 600,
  max_abandonment_rate_pct: 3,
  dynamic_variables: {},
  first_message: null,
  sheet_write_back: { enabled: false, columns: [] },
  transfer: { targets: [], whisper: null, ring_seconds: 20, fallback: { voicemail_message: null, schedule_callback_in_minutes: null } },
  remember_previous_calls: { enabled: false, variables: [] },
  hidden_variables: [],
  prompt: null,
  required_consent: "express_written",
  disclosures: {
    required: false,
    identification: null,
    ai_voice: null,
    all_party_recording: "do_not_record",
    recording_notice: null,
  },
  variants: [],
  contact_overrides: { language_field: null, voice_field: null, first_message_field: null },
};
Object.assign(settings.retry, { short_call_seconds: 10, max_attempts_per_day: 2 });

afterEach(() => vi.unstubAllGlobals());

function renderNewCampaign() {
  render(
    <QueryClientProvider client={new QueryClient()}>
      <MemoryRouter initialEntries={["/campaigns/new"]}>
        <Routes>
          <Route path="/campaigns/new" element={<CampaignEditPage />} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

describe("campaign form", () => {
  it("covers every setting the API documents", () => {
    const documented = Object.keys(
      (openapi as { components: { schemas: { CampaignSettings: { properties: object } } } }).components.schemas
        .CampaignSettings.properties,
    );
    expect(Object.keys(settings).sort()).toEqual(documented.sort());
  });

  it("puts the server's validation message next to the field it names", async () => {
    const fetch = vi.fn(async (req: Request) => {
      if (req.url.endsWith("/api/v1/campaign-defaults")) return json(settings);
      if (req.method === "GET") return json({ error: { code: "upstream", message: "down" } }, 502);
      return json(
        {
          error: {
            code: "validation_failed",
            message: "some fields are not valid",
            details: { fields: [{ field: "settings.calls_per_second", message: "too fast for this account" }] },
          },
        },
        422,
      );
    });
    vi.stubGlobal("fetch", fetch);
    renderNewCampaign();
    await userEvent.type(await screen.findByLabelText("Name"), "Spring");
    await userEvent.click(screen.getByRole("button", { name: "Create campaign" }));
    const field = screen.getByLabelText("Calls per second");
    expect(await screen.findByText("too fast for this account")).toBeInTheDocument();
    expect(field).toHaveAttribute("aria-invalid", "true");
    expect(field).toHaveAccessibleDescription("too fast for this account");
    const post = fetch.mock.calls.map((c) => c[0] as Request).find((r) => r.method === "POST")!;
    const sent = JSON.parse(await post.text());
    expect(sent).toMatchObject({ name: "Spring", settings: { max_concurrent_calls: 5, caller_ids: [] } });
  });

  it("sends the consent the campaign requires, written consent unless changed", async () => {
    const fetch = vi.fn(async (req: Request) => {
      const path = new URL(req.url).pathname;
      if (path === "/api/v1/campaign-defaults") return json(settings);
      if (req.method === "GET") return json({ items: [] });
      return json({ id: 9, name: "Reminders", settings }, 201);
    });
    vi.stubGlobal("fetch", fetch);
    renderNewCampaign();
    const consent = await screen.findByLabelText("Consent a contact must have");
    expect(consent).toHaveValue("express_written");
    await userEvent.selectOptions(consent, "express");
    await userEvent.type(screen.getByLabelText("Name"), "Reminders");
    await userEvent.click(screen.getByRole("button", { name: "Create campaign" }));
    await vi.waitFor(() => expect(fetch.mock.calls.some((c) => (c[0] as Request).method === "POST")).toBe(true));
    const post = fetch.mock.calls.map((c) => c[0] as Request).find((r) => r.method === "POST")!;
    expect(JSON.parse(await post.text())).toMatchObject({ settings: { required_consent: "express" } });
  });

  it("suggests the account's agents and adds one of its numbers with a click", async () => {
    const fetch = vi.fn(async (req: Request) => {
      const path = new URL(req.url).pathname;
      if (path === "/api/v1/campaign-defaults") return json(settings);
      if (path === "/api/v1/agents")
        return json({ items: [{ agent_id: "agent_renewals", name: "Renewals", tags: [], is_default: true }] });
      if (path === "/api/v1/phone-numbers")
        return json({
          items: [
            { phone_number: "+14155550100", friendly_name: null, kind: "purchased", voice: true, is_default: true },
            { phone_number: "+14155550199", friendly_name: null, kind: "verified_caller_id", voice: true, is_default: false },
            { phone_number: "+14155550177", friendly_name: null, kind: "purchased", voice: false, is_default: false },
          ],
        });
      return json({ id: 9, name: "Spring", settings }, 201);
    });
    vi.stubGlobal("fetch", fetch);
    renderNewCampaign();
    const agent = await screen.findByLabelText("ElevenLabs agent");
    expect(await screen.findByText("Empty: calls use Renewals (agent_renewals)")).toBeInTheDocument();
    await userEvent.type(agent, "agent_gone");
    expect(agent).toHaveAccessibleDescription("Not an agent of your ElevenLabs account: the campaign will not start");
    await userEvent.clear(agent);
    await userEvent.type(agent, "agent_renewals");
    expect(agent).toHaveAccessibleDescription("Renewals");
    // A number that cannot place voice calls is not offered.
    expect(screen.queryByRole("button", { name: "Add +14155550177" })).toBeNull();
    await userEvent.click(screen.getByRole("button", { name: "Add +14155550199" }));
    await userEvent.click(screen.getByRole("button", { name: "Add +14155550199" }));
    expect(screen.getByLabelText("Caller ids")).toHaveValue("+14155550199");
    await userEvent.type(screen.getByLabelText("Name"), "Spring");
    await userEvent.click(screen.getByRole("button", { name: "Create campaign" }));
    await vi.waitFor(() => expect(fetch.mock.calls.some((c) => (c[0] as Request).method === "POST")).toBe(true));
    const post = fetch.mock.calls.map((c) => c[0] as Request).find((r) => r.method === "POST")!;
    expect(JSON.parse(await post.text())).toMatchObject({
      settings: { agent_id: "agent_renewals", caller_ids: ["+14155550199"] },
    });
    // Typing four fields key by key takes about 5 s on a loaded 2-core machine.
  }, 15_000);
});
