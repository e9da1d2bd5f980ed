import type { UseFormRegister } from "react-hook-form";
import { Field } from "../components/Field";
import type { CampaignForm } from "./form";

/// The campaign form's warm-transfer fieldset: who `transfer_to_human` rings, in order,
/// what the person who answers hears first, and what the callee gets when no one does.
export function TransferFields({
  register,
  err,
}: {
  register: UseFormRegister<CampaignForm>;
  err: (path: string) => string | undefined;
}) {
  const s = "settings.transfer.";
  return (
    <fieldset>
      <legend>Transfers to a person</legend>
      <Field
        label="Transfer numbers"
        error={err(s + "targets")}
        hint="One per line, tried in order until someone answers. Empty: the server's transfer number."
      >
        <textarea rows={2} {...register("settings.transfer.targets")} />
      </Field>
      <Field
        label="Whisper"
        error={err(s + "whisper")}
        hint="Said to the person who answers before the callee is connected. Use {{reason}}, {{contact_name}}, {{campaign}} or any variable."
      >
        <input {...register("settings.transfer.whisper")} />
      </Field>
      <Field label="Ring each number for (seconds)" error={err(s + "ring_seconds")}>
        <input type="number" inputMode="numeric" {...register("settings.transfer.ring_seconds")} />
      </Field>
      <Field
        label="If no one answers, say"
        error={err(s + "fallback.voicemail_message")}
        hint="Said to the callee before the call ends."
      >
        <textarea rows={2} {...register("settings.transfer.fallback.voicemail_message")} />
      </Field>
      <Field
        label="Then call the contact back after (minutes)"
        error={err(s + "fallback.schedule_callback_in_minutes")}
        hint="Moved into the calling hours. Empty: no callback."
      >
        <input inputMode="numeric" {...register("settings.transfer.fallback.schedule_callback_in_minutes")} />
      </Field>
    </fieldset>
  );
}
