import { afterEach, describe, expect, it, vi } from "vitest";
import { render, screen } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { SheetWrites } from "./SheetWrites";

afterEach(() => vi.unstubAllGlobals());

const queue = {
  enabled: true,
  pending: 3,
  retrying: 1,
  written: 40,
  failed: 2,
  last_error: "the spreadsheet is not shared with p@x.iam.gserviceaccount.com as an editor",
  last_error_at: "2026-12-03T11:00:00Z",
  last_written_at: "2026-12-03T11:05:00Z",
  configuration_error: null,
};

describe("sheet write-back", () => {
  it("shows the queue, the last error and a retry for failed rows", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => new Response(JSON.stringify(queue), { headers: { "Content-Type": "application/json" } })),
    );
    render(
      <QueryClientProvider client={new QueryClient()}>
        <SheetWrites campaignId={7} canRetry />
      </QueryClientProvider>,
    );
    const card = await screen.findByTestId("sheet-writes");
    expect(card).toHaveTextContent(/Waiting\s*3/);
    expect(card).toHaveTextContent(/Failed\s*2/);
    expect(screen.getByTestId("sheet-writes-error")).toHaveTextContent("not shared with");
    expect(screen.getByRole("button", { name: "Retry failed rows" })).toBeEnabled();
  });
});
