import { describe, expect, it } from "vitest";
import { render, screen } from "@testing-library/react";
import { Analysis } from "./Analysis";

describe("the agent's analysis", () => {
  it("reads in words, with the page's duration format and no raw field names", () => {
    render(
      <Analysis
        analysis={{
          call_successful: "success",
          transcript_summary: "shown elsewhere",
          evaluation_criteria_results: { goal_met: { result: "failure", rationale: "No booking was made." } },
          data_collection_results: { interested: { value: "yes", rationale: null } },
          termination_reason: "end_call tool was called.",
          call_duration_secs: 75,
          sentiment: "positive",
        }}
      />,
    );
    const facts = screen.getByTestId("call-analysis");
    expect(facts).toHaveTextContent("Agent's verdictSuccessful");
    expect(facts).toHaveTextContent("GoalsGoal met: Not met — No booking was made.");
    expect(facts).toHaveTextContent("Information collectedInterested: yes");
    expect(facts).toHaveTextContent("Time with the agent1:15");
    expect(facts).toHaveTextContent("Sentimentpositive");
    expect(facts).not.toHaveTextContent(/call_successful|duration_secs|shown elsewhere/);
  });

  it("shows nothing for an empty analysis", () => {
    const { container } = render(<Analysis analysis={{ evaluation_criteria_results: {} }} />);
    expect(container).toBeEmptyDOMElement();
  });
});
