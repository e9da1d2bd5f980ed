import { afterEach, describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { Doctor } from "./Doctor";

afterEach(() => vi.unstubAllGlobals());

describe("configuration check", () => {
  it("lists problems first, each with its fix", async () => {
    const report = {
      healthy: false,
      sandbox: false,
      findings: [
        { check: "database", severity: "ok", message: "Postgres database reachable and migrated", fix: null },
        {
          check: "elevenlabs.agent",
          severity: "warning",
          message: 'agent "a" uses output pcm_16000: every call is transcoded',
          fix: "set the agent's input and output audio format to μ-law 8000 Hz in ElevenLabs",
        },
        {
          check: "twilio.account",
          severity: "problem",
          message: "Twilio refused the account",
          fix: "check twilio.account_sid and twilio.auth_token",
        },
      ],
    };
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => new Response(JSON.stringify(report), { headers: { "Content-Type": "application/json" } })),
    );
    render(
      <QueryClientProvider client={new QueryClient()}>
        <Doctor />
      </QueryClientProvider>,
    );
    expect(await screen.findByTestId("doctor-summary")).toHaveTextContent("1 problem(s) to fix before real calls.");
    const items = screen.getAllByRole("listitem");
    expect(items.map((i) => within(i).getByText(/OK|Warning|Problem/).textContent)).toEqual([
      "Problem",
      "Warning",
      "OK",
    ]);
    expect(items[0]).toHaveTextContent("Fix: check twilio.account_sid and twilio.auth_token");
    expect(items[2]).not.toHaveTextContent("Fix:");
  });
});
