import { afterEach, describe, expect, it, vi } from "vitest";
import { act, render, screen } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import CallDetailPage from "./CallDetail";
import { live } from "../api/live";
import { FakeSocket } from "../test/fakeSocket";

const call = {
  id: 7,
  attempt: 1,
  to: "+15550100001",
  from: "+15005550006",
  status: "in-progress",
  created_at: "2026-11-24T05:00:00Z",
  updated_at: "2026-11-24T05:00:01Z",
  events: [],
  transcript: [],
  recordings: [],
  recording: null,
};

afterEach(() => {
  live.stop();
  vi.unstubAllGlobals();
});

describe("call page", () => {
  it("shows the transcript live while the call is in progress", async () => {
    vi.stubGlobal("WebSocket", FakeSocket);
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => new Response(JSON.stringify(call), { headers: { "Content-Type": "application/json" } })),
    );
    render(
      <QueryClientProvider client={new QueryClient()}>
        <MemoryRouter initialEntries={["/calls/7"]}>
          <Routes>
            <Route path="/calls/:id" element={<CallDetailPage />} />
          </Routes>
        </MemoryRouter>
      </QueryClientProvider>,
    );
    expect(await screen.findByText("Waiting for the first words…")).toBeInTheDocument();
    live.start();
    act(() => FakeSocket.last!.onopen?.());
    FakeSocket.last!.say({ type: "transcript", call_id: 7, role: "agent", text: "Hello there", time_in_call_secs: 0.5 });
    FakeSocket.last!.say({ type: "transcript", call_id: 8, role: "agent", text: "Another call", time_in_call_secs: 1 });
    FakeSocket.last!.say({ type: "transcript", call_id: 7, role: "user", text: "Hi, who is this?", time_in_call_secs: 2 });
    expect(screen.getByRole("heading", { name: "Live transcript" })).toBeInTheDocument();
    const turns = screen.getByTestId("transcript");
    expect(turns).toHaveTextContent(/Agent.*Hello there.*Contact.*Hi, who is this\?/);
    expect(turns).not.toHaveTextContent("Another call");
    // The agent is cut off: its turn is replaced by what the caller heard, not repeated.
    FakeSocket.last!.say({ type: "transcript", call_id: 7, role: "agent", text: "We have a new plan for you.", time_in_call_secs: 3 });
    FakeSocket.last!.say({ type: "transcript_corrected", call_id: 7, role: "agent", original_text: "We have a new plan for you.", text: "We have a…" });
    expect(turns).toHaveTextContent(/Hello there.*Hi, who is this\?.*We have a…/);
    expect(turns).not.toHaveTextContent("new plan");
    expect(turns.querySelectorAll("li")).toHaveLength(3);
  });
});
