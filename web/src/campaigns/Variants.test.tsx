import { afterEach, describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { CampaignVariants, significanceLabel } from "./Variants";
import { AgentOverridesCard } from "../components/AgentOverrides";
import type { Schema } from "../api/client";

const totals = (dialed: number, conversations: number, successful: number) =>
  ({
    dialed,
    answered: dialed,
    human: dialed,
    machine: 0,
    conversations,
    successful,
    failed: 0,
    no_answer: 0,
    busy: 0,
    voicemail: 0,
    total_duration_seconds: 0,
    average_duration_seconds: null,
    answer_rate: 1,
    human_rate: 1,
    success_rate: conversations ? successful / conversations : null,
    billed_minutes: 0,
    cost_usd: 0,
  }) as Schema<"Totals">;

const split = {
  campaign_id: 4,
  from: "2026-12-01T00:00:00Z",
  to: "2026-12-05T00:00:00Z",
  control: "A",
  items: [
    { name: "A", weight: 1, totals: totals(120, 100, 30), success_vs_control: null },
    { name: "B", weight: 1, totals: totals(110, 100, 50), success_vs_control: { z: 2.8868, p_value: 0.0039, significant: true } },
    { name: "C", weight: null, totals: totals(20, 20, 8), success_vs_control: { z: 0.64, p_value: 0.525, significant: false } },
  ],
};

afterEach(() => vi.unstubAllGlobals());

describe("campaign variants", () => {
  it("shows each variant's rates and whether it beats the control", async () => {
    const fetch = vi.fn(
      async (_: Request) => new Response(JSON.stringify(split), { headers: { "Content-Type": "application/json" } }),
    );
    vi.stubGlobal("fetch", fetch);
    const campaign = {
      id: 4,
      created_at: "2026-12-01T00:00:00Z",
      progress: { attempts: 250 },
      settings: { variants: [{ name: "A", weight: 1 }, { name: "B", weight: 1 }] },
    } as unknown as Schema<"Campaign">;
    render(
      <QueryClientProvider client={new QueryClient()}>
        <CampaignVariants campaign={campaign} />
      </QueryClientProvider>,
    );
    const table = await screen.findByTestId("campaign-variants");
    const url = new URL(fetch.mock.calls[0][0].url);
    expect(url.pathname).toBe("/api/v1/analytics/variants");
    expect(url.searchParams.get("campaign_id")).toBe("4");
    const row = (name: string) => within(table).getByRole("row", { name: new RegExp(`^${name}\\b`) });
    expect(row("A")).toHaveTextContent("control");
    expect(row("B")).toHaveTextContent("50.0%");
    expect(row("B")).toHaveTextContent("better, significant at 95% (p = 0.004)");
    expect(row("C")).toHaveTextContent("no clear difference (p = 0.525)");
    expect(row("C")).toHaveTextContent("no longer listed");
  });

  it("is absent for a campaign without variants", () => {
    const campaign = { id: 1, created_at: "", progress: { attempts: 0 }, settings: { variants: [] } };
    const { container } = render(
      <QueryClientProvider client={new QueryClient()}>
        <CampaignVariants campaign={campaign as unknown as Schema<"Campaign">} />
      </QueryClientProvider>,
    );
    expect(container).toBeEmptyDOMElement();
  });

  it("says when there is too little to compare, and when worse", () => {
    const item = split.items[1] as Schema<"VariantPerformance">;
    expect(significanceLabel({ ...item, success_vs_control: null }, false)).toBe(
      "nothing to test yet (too few conversations, or all alike)",
    );
    expect(significanceLabel({ ...item, success_vs_control: { z: -4, p_value: 0.00001, significant: true } }, false)).toBe(
      "worse, significant at 95% (p < 0.001)",
    );
  });
});

describe("agent overrides on the call page", () => {
  it("names the variant and marks what came from the contact", () => {
    render(
      <AgentOverridesCard
        variant="B"
        overrides={{ first_message: "Hola", prompt: false, language: "es", voice_id: null, from_contact: ["language"] }}
      />,
    );
    expect(screen.getByTestId("call-variant")).toHaveTextContent("B");
    expect(screen.getByTestId("override-language")).toHaveTextContent("es (from the contact)");
    expect(screen.getByTestId("override-first-message")).toHaveTextContent(/^Hola$/);
  });

  it("says when the agent's own settings were used", () => {
    render(<AgentOverridesCard variant={null} overrides={{ first_message: null, prompt: false, language: null, voice_id: null, from_contact: [] }} />);
    expect(screen.getByTestId("agent-overrides")).toHaveTextContent("the agent's own settings");
  });
});
