import { describe, expect, it } from "vitest";
import { newVariant, overridesSchema, shares, variantsSchema } from "./variants";

const variant = (name: string, weight: number | string = 1) => ({
  name,
  weight,
  agent_id: "",
  first_message: "",
  prompt: "",
});

describe("A/B variants in the form", () => {
  it("refuses the server's way: repeated names, weights out of range, too many", () => {
    const bad = variantsSchema.safeParse([variant("A"), variant("a", 0), variant(" ", 1001)]);
    expect(bad.success).toBe(false);
    const issues = Object.fromEntries(bad.error!.issues.map((i) => [i.path.join("."), i.message]));
    expect(issues).toEqual({
      "1.name": "Another variant has this name",
      "1.weight": "Must be at least 1",
      "2.name": "Name the variant",
      "2.weight": "Must be at most 1000",
    });
    const many = Array.from({ length: 11 }, (_, i) => variant(`v${i}`));
    expect(variantsSchema.safeParse(many).success).toBe(false);
    expect(variantsSchema.safeParse([variant("control"), variant("short", "3")]).success).toBe(true);
  });

  it("shows each variant's share of contacts and names new ones by the next free letter", () => {
    expect(shares([{ weight: 1 }, { weight: 3 }])).toEqual([25, 75]);
    expect(shares([{ weight: "" }])).toEqual([0]);
    expect(newVariant([{ name: "A" }, { name: "c" }]).name).toBe("B");
    expect(newVariant([]).weight).toBe(1);
  });

  it("refuses the phone and email as override fields", () => {
    const r = overridesSchema.safeParse({ language_field: "phone", voice_field: "", first_message_field: " email " });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join("."))).toEqual(["language_field", "first_message_field"]);
  });
});
