import { afterEach, describe, expect, it, vi } from "vitest";
import { render, screen } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { Compliance } from "./Compliance";

afterEach(() => vi.unstubAllGlobals());

const report = {
  campaign_id: 7,
  from: "2026-11-03T00:00:00Z",
  to: "2026-12-04T00:00:00Z",
  rules_version: "2026-12-03.2",
  rules_versions_recorded: ["2026-11-20.1", "2026-12-03.2"],
  calls_by_jurisdiction: [
    { jurisdiction: null, name: "Outside the US states", calls: 2, rules: ["47 CFR 64.1200(c)(1)"] },
    { jurisdiction: "US-FL", name: "Florida", calls: 5, rules: ["47 CFR 64.1200(c)(1)", "Fla. Stat. 501.616(6)(a)"] },
  ],
  blocked: [
    { reason: "state_hours", jurisdiction: "US-FL", blocked: 3, contacts: 2 },
    { reason: "no_consent", jurisdiction: null, blocked: 1, contacts: 1 },
  ],
  recent_blocked: [
    {
      id: 9,
      campaign_id: 7,
      contact_id: 12,
      phone: "+13055550170",
      jurisdiction: "US-FL",
      reason: "state_hours",
      rule: "Fla. Stat. 501.616(6)(a) (Florida)",
      rules_version: "2026-12-03.2",
      blocked_at: "2026-12-02T01:30:00Z",
      held_until: "2026-12-02T13:00:00Z",
    },
  ],
  consent: { required: "express_written", contacts: 10, satisfying: 8, by_type: [] },
  abandonment: {
    window_days: 30,
    calls: 7,
    live_answered: 5,
    abandoned: 0,
    abandonment_rate: 0,
    slow_first_audio: 0,
    slow_relay: 0,
  },
  opt_outs: { count: 1, max_lag_ms: 4, items: [] },
};

describe("compliance report", () => {
  it("shows calls by jurisdiction, held dials and why, coverage and the rules version", async () => {
    const fetch = vi.fn(
      async () => new Response(JSON.stringify(report), { headers: { "Content-Type": "application/json" } }),
    );
    vi.stubGlobal("fetch", fetch);
    render(
      <QueryClientProvider client={new QueryClient()}>
        <Compliance campaignId={7} />
      </QueryClientProvider>,
    );
    const card = await screen.findByTestId("compliance");
    expect(await screen.findByTestId("compliance-blocked")).toHaveTextContent(/State calling hours\s*US-FL\s*3\s*2/);
    expect(card).toHaveTextContent(/Dials held back\s*4/);
    expect(card).toHaveTextContent(/Calls\s*7/);
    expect(card).toHaveTextContent(/Consent coverage\s*80/);
    expect(screen.getByTestId("compliance-rules-version")).toHaveTextContent(
      "Rules version 2026-12-03.2 (the range also saw 2026-11-20.1)",
    );
    expect(card).toHaveTextContent("Not legal advice.");
    const link = screen.getByRole("link", { name: "Export the compliance report as CSV" });
    expect(link.getAttribute("href")).toMatch(/^\/api\/v1\/campaigns\/7\/compliance\/export\?format=csv&from=/);
    const [request] = fetch.mock.calls[0] as unknown[];
    const url = request instanceof Request ? request.url : String(request);
    expect(url).toContain("/api/v1/campaigns/7/compliance?from=");
  });
});
