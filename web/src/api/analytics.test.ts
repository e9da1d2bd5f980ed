import { describe, expect, it } from "vitest";
import { timelineBuckets } from "./analytics";

const at = (iso: string, dialed: number) => ({ hour: new Date(iso).toISOString(), dialed, answered: dialed, successful: 0 });

describe("the timeline's buckets", () => {
  it("over a day has every hour, the hours without calls at zero", () => {
    const from = new Date(2026, 11, 1, 0, 0).toISOString();
    const to = new Date(2026, 11, 2, 0, 0).toISOString();
    const { step, points } = timelineBuckets([at(new Date(2026, 11, 1, 9).toISOString(), 3)], { from, to });
    expect(step).toBe("hour");
    expect(points).toHaveLength(24);
    expect(points.map((p) => p.dialed).filter((d) => d > 0)).toEqual([3]);
    expect(new Date(points[9].hour).getHours()).toBe(9);
    expect(points[9].dialed).toBe(3);
  });

  it("over seven days has one bar per day, each summing its hours", () => {
    const from = new Date(2026, 10, 25).toISOString();
    const to = new Date(2026, 11, 2).toISOString();
    const { step, points } = timelineBuckets(
      [at(new Date(2026, 10, 26, 9).toISOString(), 2), at(new Date(2026, 10, 26, 17).toISOString(), 5), at(new Date(2026, 11, 1, 8).toISOString(), 1)],
      { from, to },
    );
    expect(step).toBe("day");
    expect(points).toHaveLength(7);
    expect(points.map((p) => p.dialed)).toEqual([0, 7, 0, 0, 0, 0, 1]);
  });

  it("drops points outside the range rather than inventing a bar for them", () => {
    const from = new Date(2026, 11, 1, 0).toISOString();
    const to = new Date(2026, 11, 1, 3).toISOString();
    const { points } = timelineBuckets([at(new Date(2026, 11, 5, 1).toISOString(), 9)], { from, to });
    expect(points.map((p) => p.dialed)).toEqual([0, 0, 0]);
  });
});
