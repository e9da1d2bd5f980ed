import { describe, expect, it } from "vitest";
import { keysFor } from "./LiveSync";

describe("live messages", () => {
  it("refetch what they change", () => {
    expect(keysFor({ type: "call_ended", call_id: 4 })).toContainEqual(["call", 4]);
    expect(keysFor({ type: "progress_changed", campaign_id: 2 })).toContainEqual(["campaign", 2]);
    expect(keysFor({ type: "resync" })).toBe("all");
    expect(keysFor({ type: "transcript", call_id: 4 })).toEqual([]);
  });
});
