import { afterEach, describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import ContactDetailPage from "./ContactDetail";

const call = (id: number, extra: object) => ({
  id,
  campaign_id: 3,
  campaign_name: "Spring",
  attempt: 1,
  status: "completed",
  outcome: "conversation",
  duration_seconds: 42,
  summary: null,
  created_at: "2026-12-01T20:05:00Z",
  ended_at: "2026-12-01T20:06:00Z",
  has_transcript: true,
  has_recording: false,
  transcript_url: `/api/v1/calls/${id}`,
  recording_url: null,
  callbacks: [],
  opted_out: false,
  tool_actions: [],
  ...extra,
});

const history = {
  contact: {
    id: 5,
    phone: "+15550100001",
    first_name: "Ann",
    timezone: "America/New_York",
    custom_fields: { plan: "basic" },
    tags: ["vip"],
    do_not_call: false,
    consent: null,
    created_at: "2026-11-24T05:00:00Z",
    updated_at: "2026-11-24T05:00:00Z",
  },
  calls: [
    call(9, { opted_out: true, outcome: "opted_out", summary: "Asked not to be called again." }),
    call(8, {
      summary: "Busy; call back tomorrow.",
      callbacks: [{ at: "2026-12-02T20:00:00Z", requested: "tomorrow 15:00", reason: "driving", created_at: "2026-12-01T20:05:30Z" }],
      tool_actions: [{ id: 1, call_id: 8, tool: "schedule_callback", via: "client", parameters: {}, result: "Callback scheduled.", is_error: false, duration_ms: 4, created_at: "2026-12-01T20:05:30Z" }],
    }),
  ],
  next_cursor: null,
};

afterEach(() => vi.unstubAllGlobals());

describe("contact page", () => {
  it("shows the contact's fields and every call with what it led to", async () => {
    const fetch = vi.fn(
      async (_request: Request) => new Response(JSON.stringify(history), { headers: { "Content-Type": "application/json" } }),
    );
    vi.stubGlobal("fetch", fetch);
    render(
      <QueryClientProvider client={new QueryClient()}>
        <MemoryRouter initialEntries={["/contacts/5"]}>
          <Routes>
            <Route path="/contacts/:id" element={<ContactDetailPage />} />
          </Routes>
        </MemoryRouter>
      </QueryClientProvider>,
    );
    expect(await screen.findByRole("heading", { name: "Ann" })).toBeInTheDocument();
    expect(fetch.mock.calls[0][0].url).toContain("/api/v1/contacts/5/history?limit=20");
    expect(screen.getByTestId("contact-facts")).toHaveTextContent(/vip.*Plan.*basic/);
    const [newest, older] = screen.getAllByTestId("contact-call");
    expect(within(newest).getByRole("link", { name: "Call #9" })).toHaveAttribute("href", "/calls/9");
    expect(newest).toHaveTextContent("Opted out");
    expect(older).toHaveTextContent("Busy; call back tomorrow.");
    expect(older).toHaveTextContent(/called back “tomorrow 15:00”.*driving/);
    expect(older).toHaveTextContent("Schedule callback: Callback scheduled.");
  });
});
