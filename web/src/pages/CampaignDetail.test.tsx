import { afterEach, describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import CampaignDetailPage from "./CampaignDetail";
import { SignedIn, type Me } from "../auth";

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

const campaign = {
  id: 4,
  name: "Renewals",
  description: null,
  state: "completed",
  state_reason: null,
  settings: { max_abandonment_rate_pct: 3 },
  progress: { total: 3, pending: 0, scheduled: 0, in_progress: 0, completed: 1, failed: 1, cancelled: 1, attempts: 4 },
  created_at: "2026-11-24T05:00:00Z",
  updated_at: "2026-11-24T06:00:00Z",
};

const contact = (id: number, state: string, standing: string, last_outcome: string | null) => ({
  contact_id: id,
  phone: `+1555010000${id}`,
  first_name: `Person${id}`,
  last_name: null,
  state,
  standing,
  attempts: 1,
  last_outcome,
  next_attempt_at: null,
  updated_at: "2026-11-24T06:00:00Z",
});

const totals = { dialed: 4, answered: 2, human: 1, machine: 1, successful: 1, no_answer: 0, busy: 0, voicemail: 1, failed: 1 };

afterEach(() => vi.unstubAllGlobals());

describe("campaign page", () => {
  it("names contacts' progress and calls' outcomes in different words, and each contact's standing", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async (req: Request) => {
        const path = new URL(req.url).pathname;
        if (path === "/api/v1/campaigns/4") return json(campaign);
        if (path === "/api/v1/campaigns/4/contacts")
          return json({
            items: [
              contact(1, "completed", "reached", "success"),
              contact(2, "failed", "voicemail", "voicemail"),
              contact(3, "cancelled", "opted_out", "opted_out"),
            ],
          });
        if (path === "/api/v1/analytics/summary") return json({ totals });
        return json({ error: { code: "not_found", message: "not here" } }, 404);
      }),
    );
    render(
      <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
        <SignedIn me={{ role: "viewer" } as Me}>
          <MemoryRouter initialEntries={["/campaigns/4"]}>
            <Routes>
              <Route path="/campaigns/:id" element={<CampaignDetailPage />} />
            </Routes>
          </MemoryRouter>
        </SignedIn>
      </QueryClientProvider>,
    );
    const progress = await screen.findByTestId("campaign-progress");
    expect(within(progress).getByTestId("stat-Gave up")).toHaveTextContent("1");
    expect(within(progress).getByTestId("stat-Taken out")).toHaveTextContent("1");
    const outcomes = await screen.findByTestId("campaign-outcomes");
    expect(within(outcomes).getByTestId("stat-Call failed")).toHaveTextContent("1");
    // "Failed" names neither.
    expect(within(progress).queryByText("Failed")).toBeNull();
    expect(within(outcomes).queryByText("Failed")).toBeNull();

    const rows = await screen.findAllByRole("row");
    const row = (name: string) => rows.find((r) => within(r).queryByText(name))!;
    expect(within(row("Person1")).getByText("Reached")).toBeInTheDocument();
    expect(within(row("Person2")).getByText("Not reached: voicemail")).toBeInTheDocument();
    expect(within(row("Person2")).getByText("Voicemail")).toBeInTheDocument();
    expect(within(row("Person3")).getAllByText("Opted out")).toHaveLength(2);
  });
});
