import { describe, expect, it } from "vitest";
import { ApiProblem, describeError, toProblem } from "./client";

describe("API errors", () => {
  it("keeps the server's words and names the fields", () => {
    const p = toProblem(422, {
      error: {
        code: "validation_failed",
        message: "some fields are not valid",
        details: {
          fields: [
            { field: "settings.max_concurrent_calls", message: "must be between 1 and 1000" },
            { field: "name", message: "must be 1-200 characters" },
          ],
        },
      },
    });
    expect(p).toBeInstanceOf(ApiProblem);
    expect(p.fieldErrors()).toEqual({
      "settings.max_concurrent_calls": "must be between 1 and 1000",
      name: "must be 1-200 characters",
    });
    expect(describeError(p)).toBe("some fields are not valid");
  });

  it("never shows a person raw internals", () => {
    expect(describeError(toProblem(500, { error: { code: "internal", message: "x" } }))).toMatch(
      /went wrong on the server/,
    );
    expect(describeError(toProblem(502, "<html>bad gateway</html>"))).toBe("The server answered 502.");
    expect(describeError(new TypeError("Failed to fetch"))).toMatch(/Cannot reach the Parley server/);
  });
});
