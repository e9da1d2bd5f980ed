// The campaign form's A/B variants and per-contact overrides: their checks (the
// server's, so most mistakes show before saving) and their mapping to and from the API.
import { z } from "zod";
import type { Schema } from "../api/client";

type Variant = Schema<"Variant">;
type ContactOverrides = Schema<"ContactOverrides">;

export const MAX_VARIANTS = 10;
/** Contact fields that never override: the number and the address are not things to say. */
const REFUSED_FIELDS = ["phone", "email"];

const weight = z.coerce
  .number({ invalid_type_error: "Enter a number" })
  .int("Enter a whole number")
  .min(1, "Must be at least 1")
  .max(1000, "Must be at most 1000");

export const variantSchema = z.object({
  name: z.string().trim().min(1, "Name the variant").max(40, "At most 40 characters"),
  weight,
  agent_id: z.string(),
  first_message: z.string().max(2000, "At most 2000 characters"),
  prompt: z.string().max(50_000, "At most 50,000 characters"),
});

export const variantsSchema = z
  .array(variantSchema)
  .max(MAX_VARIANTS, `At most ${MAX_VARIANTS} variants`)
  .superRefine((vs, ctx) => {
    const seen = new Set<string>();
    vs.forEach((v, i) => {
      const key = v.name.trim().toLowerCase();
      if (key && seen.has(key)) {
        ctx.addIssue({ code: "custom", path: [i, "name"], message: "Another variant has this name" });
      }
      seen.add(key);
    });
  });

const fieldName = z
  .string()
  .max(100, "At most 100 characters")
  .refine((f) => !REFUSED_FIELDS.includes(f.trim()), "Not the contact's phone or email");

export const overridesSchema = z.object({
  language_field: fieldName,
  voice_field: fieldName,
  first_message_field: fieldName,
});

export type VariantForm = z.input<typeof variantSchema>;
export type OverridesForm = z.input<typeof overridesSchema>;

const blankToNull = (s: string) => (s.trim() ? s.trim() : null);

export function variantsToForm(vs: Variant[] | undefined): VariantForm[] {
  return (vs ?? []).map((v) => ({
    name: v.name,
    weight: v.weight,
    agent_id: v.agent_id ?? "",
    first_message: v.first_message ?? "",
    prompt: v.prompt ?? "",
  }));
}

export function variantsToRequest(vs: z.output<typeof variantsSchema>): Variant[] {
  return vs.map((v) => ({
    name: v.name.trim(),
    weight: v.weight,
    agent_id: blankToNull(v.agent_id),
    first_message: blankToNull(v.first_message),
    prompt: blankToNull(v.prompt),
  }));
}

/** A new variant's defaults: the next letter's name, an equal share. */
export function newVariant(existing: { name: string }[]): VariantForm {
  const taken = new Set(existing.map((v) => v.name.trim().toLowerCase()));
  const letter = "ABCDEFGHIJ".split("").find((l) => !taken.has(l.toLowerCase())) ?? String(existing.length + 1);
  return { name: letter, weight: 1, agent_id: "", first_message: "", prompt: "" };
}

export function overridesToForm(o: ContactOverrides | undefined): OverridesForm {
  return {
    language_field: o?.language_field ?? "",
    voice_field: o?.voice_field ?? "",
    first_message_field: o?.first_message_field ?? "",
  };
}

export function overridesToRequest(o: z.output<typeof overridesSchema>): ContactOverrides {
  return {
    language_field: blankToNull(o.language_field),
    voice_field: blankToNull(o.voice_field),
    first_message_field: blankToNull(o.first_message_field),
  };
}

/** Each variant's share of contacts, as whole percentages. */
export function shares(vs: { weight: number | string }[]): number[] {
  const ws = vs.map((v) => Math.max(0, Number(v.weight) || 0));
  const total = ws.reduce((a, b) => a + b, 0);
  return ws.map((w) => (total ? Math.round((100 * w) / total) : 0));
}
