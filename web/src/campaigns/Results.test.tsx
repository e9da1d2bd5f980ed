import { afterEach, describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router-dom";
import { CampaignResults } from "./Results";
import { ResultFilters } from "../components/ResultFilters";
import { exportUrl } from "../components/ExportLinks";

const results = {
  fields: [
    {
      kind: "data_collection",
      name: "interested",
      calls: 161,
      values: [
        { value: "no", count: 120 },
        { value: "yes", count: 41 },
      ],
      other: null,
    },
    {
      kind: "evaluation",
      name: "goal_met",
      calls: 12,
      values: [{ value: "success", count: 9 }],
      other: { values: 2, count: 3 },
    },
  ],
};

afterEach(() => vi.unstubAllGlobals());

describe("campaign results", () => {
  it("counts each value and links to the calls that have it", async () => {
    const fetch = vi.fn(
      async (_: Request) => new Response(JSON.stringify(results), { headers: { "Content-Type": "application/json" } }),
    );
    vi.stubGlobal("fetch", fetch);
    render(
      <QueryClientProvider client={new QueryClient()}>
        <MemoryRouter>
          <CampaignResults campaignId={3} version={0} />
        </MemoryRouter>
      </QueryClientProvider>,
    );
    const interested = await screen.findByRole("list", { name: "Values of interested" });
    expect(interested).toHaveTextContent(/no 120.*yes 41/);
    expect(within(interested).getByRole("link", { name: "yes" })).toHaveAttribute(
      "href",
      "/calls?campaign_id=3&result=data_collection.interested%3Ayes",
    );
    expect(screen.getByRole("list", { name: "Values of goal_met" })).toHaveTextContent(/success 9.*other \(2 values\) 3/);
    expect(new URL(fetch.mock.calls[0][0].url).pathname).toBe("/api/v1/campaigns/3/results");
  });
});

describe("result filters", () => {
  it("adds only name:value filters and removes them again", async () => {
    const onChange = vi.fn();
    const { rerender } = render(<ResultFilters values={[]} onChange={onChange} />);
    const input = screen.getByRole("textbox", { name: /Result/ });
    const add = screen.getByRole("button", { name: "Add result filter" });
    await userEvent.type(input, "interested");
    expect(add).toBeDisabled();
    await userEvent.type(input, ":yes{Enter}");
    expect(onChange).toHaveBeenLastCalledWith(["interested:yes"]);
    rerender(<ResultFilters values={["interested:yes", "seats:2"]} onChange={onChange} />);
    await userEvent.click(screen.getByRole("button", { name: "Remove result filter interested:yes" }));
    expect(onChange).toHaveBeenLastCalledWith(["seats:2"]);
  });

  it("repeat in export links as the API takes them", () => {
    expect(exportUrl("/api/v1/calls/export", { campaign_id: 1, result: ["a:b", "c:d"] }, "csv")).toBe(
      "/api/v1/calls/export?format=csv&campaign_id=1&result=a%3Ab&result=c%3Ad",
    );
  });
});
