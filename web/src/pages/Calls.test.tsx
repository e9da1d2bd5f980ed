import { afterEach, describe, expect, it, vi } from "vitest";
import { render, screen } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router-dom";
import CallsPage from "./Calls";

const call = {
  id: 7,
  campaign_id: 3,
  contact_id: 11,
  contact_name: "Ann Lee",
  attempt: 1,
  to: "+15550100001",
  from: "+15005550006",
  status: "completed",
  outcome: "success",
  duration_seconds: 42,
  created_at: "2026-11-24T05:00:00Z",
  updated_at: "2026-11-24T05:00:42Z",
};

const json = (body: unknown) => new Response(JSON.stringify(body), { headers: { "Content-Type": "application/json" } });

afterEach(() => vi.unstubAllGlobals());

describe("calls page", () => {
  it("names each call's contact and campaign and tells the number column from the date filters", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async (req: Request) =>
        req.url.includes("/api/v1/campaigns")
          ? json({ items: [{ id: 3, name: "Spring renewals" }] })
          : json({ items: [call] }),
      ),
    );
    render(
      <QueryClientProvider client={new QueryClient()}>
        <MemoryRouter>
          <CallsPage />
        </MemoryRouter>
      </QueryClientProvider>,
    );
    const link = await screen.findByRole("link", { name: "Spring renewals" });
    expect(link).toHaveAttribute("href", "/campaigns/3");
    expect(screen.getByRole("link", { name: "Ann Lee" })).toHaveAttribute("href", "/contacts/11");
    expect(screen.getByRole("cell", { name: "0:42" })).toBeInTheDocument();
    expect(screen.getByRole("columnheader", { name: "Number" })).toBeInTheDocument();
    expect(screen.getByLabelText("Placed from")).toBeInTheDocument();
    expect(screen.getByLabelText("Placed before")).toBeInTheDocument();
  });
});
