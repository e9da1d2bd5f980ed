import { describe, expect, it } from "vitest";
import openapi from "../../openapi.json";
import { CALL_OUTCOME, CALL_STATUS, CONTACT_STANDING, PROGRESS_STATE, TRANSFER_OUTCOME, WAIT_REASON } from "./labels";

// The server writes the domain's words into each enum schema as `x-labels`.
const schemas = openapi.components.schemas as Record<string, { enum?: string[]; "x-labels"?: Record<string, string> }>;

describe("the dashboard's words", () => {
  it.each([
    ["CallStatus", CALL_STATUS],
    ["CallOutcome", CALL_OUTCOME],
    ["ProgressState", PROGRESS_STATE],
    ["ContactStanding", CONTACT_STANDING],
    ["WaitReason", WAIT_REASON],
    ["TransferOutcome", TRANSFER_OUTCOME],
  ] as const)("for %s are the domain's", (name, table) => {
    const words = schemas[name]["x-labels"];
    expect(words, `${name} has no x-labels in openapi.json`).toBeDefined();
    expect(table).toEqual(words);
  });

  it("never use one word for a contact's progress and a call's outcome", () => {
    const outcomes = new Set(Object.values(CALL_OUTCOME));
    expect(Object.values(PROGRESS_STATE).filter((w) => outcomes.has(w))).toEqual([]);
  });
});
