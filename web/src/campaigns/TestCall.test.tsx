import { afterEach, describe, expect, it, vi } from "vitest";
import { act, fireEvent, render, screen } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router-dom";
import { TestCall } from "./TestCall";
import { live } from "../api/live";
import { FakeSocket } from "../test/fakeSocket";

const call = {
  id: 41,
  campaign_id: 7,
  contact_id: 3,
  attempt: 1,
  to: "+15550100001",
  from: "+15005550006",
  status: "ringing",
  test: true,
  created_at: "2026-12-04T10:00:00Z",
  updated_at: "2026-12-04T10:00:01Z",
  events: [],
  transcript: [],
  recordings: [],
  recording: null,
};

const contacts = {
  items: [{ contact_id: 3, phone: "+15550100002", first_name: "Ada", last_name: "Lovelace", state: "pending", attempts: 0 }],
  next_cursor: null,
};

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

afterEach(() => {
  live.stop();
  vi.unstubAllGlobals();
});

function renderPanel() {
  render(
    <QueryClientProvider client={new QueryClient()}>
      <MemoryRouter>
        <TestCall campaignId={7} variableNames={["customer_name"]} />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

describe("test call", () => {
  it("places a call to the typed number with the chosen contact and shows its transcript live", async () => {
    vi.stubGlobal("WebSocket", FakeSocket);
    const posted: unknown[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: Request) => {
        const url = new URL(input.url);
        if (url.pathname === "/api/v1/campaigns/7/contacts") return json(contacts);
        if (url.pathname === "/api/v1/campaigns/7/test-call" && input.method === "POST") {
          posted.push(await input.json());
          return json(call, 201);
        }
        if (url.pathname === "/api/v1/calls/41") return json(call);
        return json({ error: { code: "not_found", message: "no" } }, 404);
      }),
    );
    renderPanel();
    fireEvent.click(screen.getByRole("button", { name: "Call me" }));
    fireEvent.change(screen.getByLabelText("Your number"), { target: { value: " +15550100001 " } });
    fireEvent.change(await screen.findByLabelText("Variables from a contact"), { target: { value: "3" } });
    fireEvent.change(screen.getByLabelText("Variable customer_name"), { target: { value: "Grace" } });
    live.start();
    act(() => FakeSocket.last!.onopen?.());
    fireEvent.click(screen.getByRole("button", { name: "Call me" }));

    const link = await screen.findByTestId("test-call-link");
    expect(posted).toEqual([{ to: "+15550100001", contact_id: 3, variables: { customer_name: "Grace" } }]);
    expect(link).toHaveAttribute("href", "/calls/41");
    expect(screen.getByTestId("test-call-badge")).toHaveTextContent("Test call");
    expect(screen.getByText("Waiting for the first words…")).toBeInTheDocument();

    FakeSocket.last!.say({ type: "transcript", call_id: 41, role: "agent", text: "Hello Grace", time_in_call_secs: 0.5 });
    FakeSocket.last!.say({ type: "transcript", call_id: 9, role: "agent", text: "Someone else", time_in_call_secs: 1 });
    FakeSocket.last!.say({ type: "transcript", call_id: 41, role: "user", text: "Hi!", time_in_call_secs: 1.5 });
    const turns = screen.getByTestId("transcript");
    expect(turns).toHaveTextContent(/Agent.*Hello Grace.*Contact.*Hi!/);
    expect(turns).not.toHaveTextContent("Someone else");
  });

  it("shows the server's refusal of a number on the do-not-call list", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: Request) => {
        const url = new URL(input.url);
        if (url.pathname === "/api/v1/campaigns/7/contacts") return json({ items: [], next_cursor: null });
        return json({ error: { code: "conflict", message: "this number is on a do-not-call list" } }, 409);
      }),
    );
    renderPanel();
    fireEvent.click(screen.getByRole("button", { name: "Call me" }));
    fireEvent.change(screen.getByLabelText("Your number"), { target: { value: "+15550100003" } });
    fireEvent.click(screen.getByRole("button", { name: "Call me" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("do-not-call");
    expect(screen.queryByTestId("test-call-progress")).not.toBeInTheDocument();
  });
});
