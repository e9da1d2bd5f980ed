// The Grafana board in deploy/grafana is checked against Grafana's own published schema
// (the `Dashboard` type that @grafana/schema generates from Grafana's dashboard kind):
// `tsc` refuses the file if a field has the wrong type or a required one is missing.
import { describe, expect, it } from "vitest";
import type { Dashboard } from "@grafana/schema";
import board from "../../../deploy/grafana/parley.json";

const checked: Dashboard = board;

describe("the Grafana board", () => {
  it("is a dashboard by Grafana's schema, with its panels", () => {
    expect(checked.title).toBe("Parley");
    expect(checked.panels?.length).toBeGreaterThan(0);
  });
});
