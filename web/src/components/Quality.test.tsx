import { describe, expect, it } from "vitest";
import { render, screen } from "@testing-library/react";
import { CallQualityCard, CampaignQualityCard } from "./Quality";

const figures = {
  frames_from_caller: 1500,
  frames_to_agent: 1498,
  frames_from_agent: 900,
  frames_to_caller: 880,
  caller_gaps: 2,
  interruptions: 1,
  first_audio_ms: 2450,
  response_ms_mean: 812.4,
  responses: 5,
  added_latency_p50_us: 85,
  added_latency_p99_us: 1900,
  added_latency_max_us: 4000,
  live_answered: true,
  abandoned: true,
};

describe("quality", () => {
  it("shows a call's figures, and says when it was abandoned", () => {
    render(<CallQualityCard quality={figures} ended />);
    const facts = screen.getByTestId("call-quality");
    expect(facts).toHaveTextContent("2,450 ms after the answer");
    expect(facts).toHaveTextContent("abandoned");
    expect(facts).toHaveTextContent("812 ms mean over 5 turns");
    expect(facts).toHaveTextContent("1,500 from the contact (1,498 to the agent)");
    expect(facts).toHaveTextContent("p50 85 µs, p99 1.9 ms");
  });

  it("says why a call has no figures", () => {
    render(<CallQualityCard quality={null} ended />);
    expect(screen.getByText("This call was not bridged to the agent.")).toBeInTheDocument();
  });

  it("shows a campaign's abandonment rate", () => {
    render(
      <CampaignQualityCard
        quality={{ window_days: 30, calls: 40, live_answered: 32, abandoned: 1, abandonment_rate: 1 / 32, slow_first_audio: 3, slow_relay: 0 }}
        limitPct={3}
      />,
    );
    expect(screen.getByTestId("campaign-quality")).toHaveTextContent("3.1%");
  });
});
