import { useFieldArray, type Control, type UseFormRegister, type UseFormWatch } from "react-hook-form";
import { Field } from "../components/Field";
import type { CampaignForm } from "./form";
import { MAX_VARIANTS, newVariant, shares } from "./variants";

type Props = {
  control: Control<CampaignForm>;
  register: UseFormRegister<CampaignForm>;
  watch: UseFormWatch<CampaignForm>;
  err: (path: string) => string | undefined;
};

/// The campaign's A/B variants: each contact gets one, by weight, and keeps it on retries.
export function VariantsFields({ control, register, watch, err }: Props) {
  const { fields, append, remove } = useFieldArray({ control, name: "settings.variants" });
  const pct = shares(watch("settings.variants") ?? []);
  return (
    <fieldset>
      <legend>A/B variants</legend>
      <p className="field-hint">
        Each contact is given one variant by weight (and keeps it on retries). What a variant leaves empty is the
        campaign's own. The first variant is the control the others are compared with.
      </p>
      {err("settings.variants") && (
        <span className="field-error" role="alert">
          {err("settings.variants")}
        </span>
      )}
      {fields.map((f, i) => {
        const at = `settings.variants.${i}` as const;
        return (
          <div key={f.id} className="variant" role="group" aria-label={`Variant ${i + 1}`}>
            <div className="row-fields">
              <Field label={`Variant ${i + 1}: name`} error={err(`${at}.name`)}>
                <input {...register(`${at}.name`)} />
              </Field>
              <Field label={`Variant ${i + 1}: weight`} error={err(`${at}.weight`)} hint={`${pct[i] ?? 0}% of contacts`}>
                <input type="number" min={1} max={1000} {...register(`${at}.weight`)} />
              </Field>
              <Field label={`Variant ${i + 1}: agent`} error={err(`${at}.agent_id`)} hint="Empty: the campaign's">
                <input list="account-agents" {...register(`${at}.agent_id`)} />
              </Field>
            </div>
            <Field label={`Variant ${i + 1}: first message`} error={err(`${at}.first_message`)} hint="Empty: the campaign's">
              <input {...register(`${at}.first_message`)} />
            </Field>
            <Field label={`Variant ${i + 1}: prompt`} error={err(`${at}.prompt`)} hint="Empty: the campaign's">
              <textarea rows={2} {...register(`${at}.prompt`)} />
            </Field>
            <button type="button" className="link" onClick={() => remove(i)}>
              Remove variant {i + 1}
            </button>
          </div>
        );
      })}
      {fields.length < MAX_VARIANTS && (
        <button type="button" onClick={() => append(newVariant(watch("settings.variants") ?? []))}>
          Add a variant
        </button>
      )}
    </fieldset>
  );
}

/// Contact fields the language, voice and first message of each call come from.
export function ContactOverridesFields({ register, err }: Pick<Props, "register" | "err">) {
  const at = "settings.contact_overrides" as const;
  return (
    <fieldset>
      <legend>Per-contact overrides</legend>
      <p className="field-hint">
        Name a contact field (a custom column, or first_name, company, …) to take each call's value from. A contact
        without a usable value gets the campaign's (or its variant's).
      </p>
      <div className="row-fields">
        <Field label="Language from field" error={err(`${at}.language_field`)} hint="Codes such as en, es, pt-br">
          <input {...register(`${at}.language_field`)} />
        </Field>
        <Field label="Voice from field" error={err(`${at}.voice_field`)} hint="An ElevenLabs voice id">
          <input {...register(`${at}.voice_field`)} />
        </Field>
        <Field
          label="First message from field"
          error={err(`${at}.first_message_field`)}
          hint="May use {{variables}}; must carry any required disclosures"
        >
          <input {...register(`${at}.first_message_field`)} />
        </Field>
      </div>
    </fieldset>
  );
}
