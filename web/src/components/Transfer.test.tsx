import { describe, expect, it } from "vitest";
import { render, screen } from "@testing-library/react";
import { CallTransferCard } from "./Transfer";

describe("call transfer card", () => {
  it("shows the targets tried, the outcome and the whisper", () => {
    render(
      <CallTransferCard
        transfer={{
          outcome: "connected",
          outcome_label: "Connected",
          target_index: 1,
          targets: ["+15550100003", "+15550109901", "+15550109902"],
          reason: "callee asked for a person",
          whisper: "Call from Ada Lovelace",
          attempts: [
            { index: 0, number: "+15550100003", whisper_heard: false, dial_status: "no-answer" },
            { index: 1, number: "+15550109901", whisper_heard: true, dial_status: "completed" },
          ],
        }}
      />,
    );
    expect(screen.getByTestId("transfer-outcome")).toHaveTextContent("Connected (number 2)");
    expect(screen.getByTestId("transfer-whisper")).toHaveTextContent("Call from Ada Lovelace");
    const tried = screen.getByTestId("transfer-attempts").querySelectorAll("li");
    expect([...tried].map((li) => li.textContent)).toEqual([
      "+15550100003: No answer",
      "+15550109901: Completed · heard the whisper",
    ]);
    expect(screen.getByText("Not rung: +15550109902")).toBeInTheDocument();
  });

  it("says in the domain's words that every line was busy", () => {
    const busy = { index: 0, number: "+15550100004", whisper_heard: false, dial_status: "busy" };
    const transfer = { outcome: "busy", outcome_label: "Every line busy", target_index: 0 } as const;
    const rest = { targets: [busy.number], reason: "asked", whisper: "Call from Ada", attempts: [busy] };
    render(<CallTransferCard transfer={{ ...transfer, ...rest }} />);
    expect(screen.getByTestId("transfer-outcome")).toHaveTextContent(/^Every line busy$/);
  });

  it("shows nothing for a call that was not transferred", () => {
    const { container } = render(<CallTransferCard transfer={null} />);
    expect(container).toBeEmptyDOMElement();
  });
});
