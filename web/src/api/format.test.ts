import { describe, expect, it } from "vitest";
import { fmtDuration } from "./format";

describe("durations", () => {
  it("read as the recording player reads them", () => {
    expect(fmtDuration(16)).toBe("0:16");
    expect(fmtDuration(16.6)).toBe("0:17");
    expect(fmtDuration(245)).toBe("4:05");
    expect(fmtDuration(3723)).toBe("1:02:03");
    expect(fmtDuration(null)).toBe("—");
  });
});
