import { useEffect, useState } from "react";
import { useForm, type FieldPath } from "react-hook-form";
import { zodResolver } from "@hookform/resolvers/zod";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api, must, type Schema } from "../api/client";
import { applyServerErrors } from "../api/forms";
import {
  campaignSchema,
  CONSENT_TYPES,
  MEMORY_VARIABLES,
  DAYS,
  MACHINE_POLICIES,
  RETRY_KINDS,
  toForm,
  toRequest,
  type CampaignForm,
} from "../campaigns/form";
import { ContactOverridesFields, VariantsFields } from "../campaigns/VariantsFields";
import { TransferFields } from "../campaigns/TransferFields";
import { Field } from "../components/Field";
import { ErrorMessage, Loading } from "../components/States";

/// Create (no id) or edit a campaign.
export default function CampaignEditPage() {
  const id = Number(useParams().id) || null;
  const existing = useQuery({
    queryKey: ["campaign", id],
    queryFn: () => must(api.GET("/api/v1/campaigns/{id}", { params: { path: { id: id! } } })),
    enabled: id != null,
  });
  const defaults = useQuery({
    queryKey: ["campaign-defaults"],
    queryFn: () => must(api.GET("/api/v1/campaign-defaults")),
    enabled: id == null,
    staleTime: Infinity,
  });
  const source = id != null ? existing : defaults;
  if (source.isPending) return <Loading />;
  if (source.isError) return <ErrorMessage error={source.error} retry={() => source.refetch()} />;
  const initial =
    id != null && existing.data
      ? toForm(existing.data)
      : toForm({ name: "", description: "", settings: defaults.data! });
  return <CampaignFormView id={id} initial={initial} />;
}

function CampaignFormView({ id, initial }: { id: number | null; initial: CampaignForm }) {
  const navigate = useNavigate();
  const client = useQueryClient();
  const [problem, setProblem] = useState<string | null>(null);
  const {
    register,
    control,
    handleSubmit,
    setError,
    watch,
    setFocus,
    setValue,
    getValues,
    formState: { errors, isSubmitting },
  } = useForm<CampaignForm>({ resolver: zodResolver(campaignSchema), defaultValues: initial });
  const policy = watch("settings.answering_machine.policy");
  // Suggestions only: the server checks the agent and numbers again when the campaign starts.
  const agents = useQuery({
    queryKey: ["account-agents"],
    queryFn: () => must(api.GET("/api/v1/agents")),
    staleTime: 60_000,
    retry: false,
  });
  const numbers = useQuery({
    queryKey: ["account-numbers"],
    queryFn: () => must(api.GET("/api/v1/phone-numbers")),
    staleTime: 60_000,
    retry: false,
  });

  // Move keyboard focus to the first invalid field after a failed submit.
  useEffect(() => {
    const first = firstErrorPath(errors);
    if (first) setFocus(first as FieldPath<CampaignForm>);
  }, [errors, setFocus]);

  const onSubmit = handleSubmit(async (values) => {
    setProblem(null);
    const body = toRequest(campaignSchema.parse(values));
    try {
      const saved =
        id == null
          ? await must(api.POST("/api/v1/campaigns", { body }))
          : await must(api.PATCH("/api/v1/campaigns/{id}", { params: { path: { id } }, body }));
      await client.invalidateQueries({ queryKey: ["campaigns"] });
      client.setQueryData(["campaign", saved.id], saved);
      navigate(`/campaigns/${saved.id}`);
    } catch (e) {
      applyServerErrors(e, setError, setProblem);
    }
  });

  const err = (path: string) => errorAt(errors, path);
  const s = "settings.";
  return (
    <section aria-labelledby="campaign-form-title">
      <h1 id="campaign-form-title">{id == null ? "New campaign" : "Edit campaign"}</h1>
      <form onSubmit={onSubmit} noValidate className="form">
        <fieldset>
          <legend>About</legend>
          <Field label="Name" error={err("name")}>
            <input {...register("name")} />
          </Field>
          <Field label="Description" error={err("description")}>
            <textarea rows={2} {...register("description")} />
          </Field>
        </fieldset>

        <fieldset>
          <legend>Agent and numbers</legend>
          <Field label="ElevenLabs agent" error={err(s + "agent_id")} hint={agentHint(agents.data, watch("settings.agent_id"))}>
            <input list="account-agents" {...register("settings.agent_id")} />
          </Field>
          <datalist id="account-agents">
            {agents.data?.items.map((a) => (
              <option key={a.agent_id} value={a.agent_id}>
                {a.name}
              </option>
            ))}
          </datalist>
          <Field
            label="Caller ids"
            error={err(s + "caller_ids")}
            hint="Numbers to call from, one per line (+15005550006); used in turn"
          >
            <textarea rows={2} {...register("settings.caller_ids")} />
          </Field>
          <AccountNumbers
            numbers={numbers.data?.items}
            failed={numbers.isError}
            onAdd={(phone) => {
              const current = getValues("settings.caller_ids").trim();
              const listed = current.split("\n").map((l) => l.trim());
              if (!listed.includes(phone)) {
                setValue("settings.caller_ids", current ? `${current}\n${phone}` : phone, { shouldDirty: true });
              }
            }}
          />
          <Field label="First message" error={err(s + "first_message")} hint="Overrides the agent's greeting">
            <input {...register("settings.first_message")} />
          </Field>
          <Field label="Prompt" error={err(s + "prompt")} hint="Overrides the agent's prompt">
            <textarea rows={3} {...register("settings.prompt")} />
          </Field>
          <Field
            label="Dynamic variables"
            error={err(s + "dynamic_variables")}
            hint="One per line: variable = contact field (first_name, company or a custom field)"
          >
            <textarea rows={2} {...register("settings.dynamic_variables")} />
          </Field>
        </fieldset>

        <VariantsFields control={control} register={register} watch={watch} err={err} />
        <ContactOverridesFields register={register} err={err} />

        <fieldset>
          <legend>Pacing</legend>
          <div className="row-fields">
            <Field label="Calls at once" error={err(s + "max_concurrent_calls")}>
              <input type="number" inputMode="numeric" {...register("settings.max_concurrent_calls")} />
            </Field>
            <Field label="Calls per second" error={err(s + "calls_per_second")}>
              <input type="number" step="any" inputMode="decimal" {...register("settings.calls_per_second")} />
            </Field>
            <Field label="Longest call (seconds)" error={err(s + "max_call_duration_seconds")}>
              <input type="number" inputMode="numeric" {...register("settings.max_call_duration_seconds")} />
            </Field>
            <Field
              label="Pause above this abandonment rate (%)"
              hint="Calls whose agent said nothing within 2 s of the answer, over 30 days; the federal limit is 3%"
              error={err(s + "max_abandonment_rate_pct")}
            >
              <input type="number" step="any" inputMode="decimal" {...register("settings.max_abandonment_rate_pct")} />
            </Field>
          </div>
          <label className="check">
            <input type="checkbox" {...register("settings.record_calls")} /> Record calls
          </label>
        </fieldset>

        <fieldset>
          <legend>Consent</legend>
          <Field
            label="Consent a contact must have"
            error={err(s + "required_consent")}
            hint="Contacts without it are not called; they wait with the reason “no consent” until it is recorded"
          >
            <select {...register("settings.required_consent")}>
              {CONSENT_TYPES.map(([v, label]) => (
                <option key={v} value={v}>
                  {label}
                </option>
              ))}
            </select>
          </Field>
        </fieldset>

        <fieldset>
          <legend>Disclosures</legend>
          <label className="check">
            <input type="checkbox" {...register("settings.disclosures.required")} /> The first message must say
            who is calling and that the voice is automated (checked when the campaign starts)
          </label>
          <div className="row-fields">
            <Field
              label="Who is calling"
              error={err(s + "disclosures.identification")}
              hint="As the first message must say it, e.g. Acme Dental"
            >
              <input {...register("settings.disclosures.identification")} />
            </Field>
            <Field
              label="Automated-voice words"
              error={err(s + "disclosures.ai_voice")}
              hint="e.g. an AI assistant"
            >
              <input {...register("settings.disclosures.ai_voice")} />
            </Field>
          </div>
          <Field
            label="Recorded calls where every party must consent"
            error={err(s + "disclosures.all_party_recording")}
            hint="States such as Florida and Maryland need every party's consent to a recording"
          >
            <select {...register("settings.disclosures.all_party_recording")}>
              <option value="do_not_record">Do not record those calls</option>
              <option value="notice_first">Record them after the agent says the notice below</option>
            </select>
          </Field>
          <Field
            label="Recording notice"
            error={err(s + "disclosures.recording_notice")}
            hint="Said before the first message, e.g. This call is recorded."
          >
            <input {...register("settings.disclosures.recording_notice")} />
          </Field>
        </fieldset>

        <fieldset>
          <legend>Calls that remember</legend>
          <label className="check">
            <input type="checkbox" {...register("settings.remember_previous_calls.enabled")} /> Tell the agent what
            earlier calls to the contact learned
          </label>
          <div className="days" role="group" aria-label="Variables to send (none checked sends all)">
            {MEMORY_VARIABLES.map(([v, label]) => (
              <label key={v} className="check" title={v}>
                <input type="checkbox" value={v} {...register("settings.remember_previous_calls.variables")} /> {label}
              </label>
            ))}
          </div>
          <Field
            label="Variables left out of call records"
            error={err(s + "hidden_variables")}
            hint="One per line. They are still sent to the agent; variables named secret__… are always left out."
          >
            <textarea rows={2} {...register("settings.hidden_variables")} />
          </Field>
        </fieldset>

        <fieldset>
          <legend>Google Sheets write-back</legend>
          <label className="check">
            <input type="checkbox" {...register("settings.sheet_write_back.enabled")} /> Write each call&apos;s
            results to the sheet row its contact was imported from
          </label>
          <Field
            label="Columns"
            error={err(s + "sheet_write_back.columns")}
            hint="One per line: status, outcome, last_call_at, summary, next_attempt_at or data_collection:item; add = Header to name the column. Missing headers are added after the last one."
          >
            <textarea rows={3} {...register("settings.sheet_write_back.columns")} />
          </Field>
        </fieldset>

        <fieldset>
          <legend>When to call (in each contact's local time)</legend>
          <div className="row-fields">
            <Field label="From" error={err(s + "calling_window.start")}>
              <input type="time" {...register("settings.calling_window.start")} />
            </Field>
            <Field label="Until" error={err(s + "calling_window.end")}>
              <input type="time" {...register("settings.calling_window.end")} />
            </Field>
            <Field label="First day" error={err(s + "start_date")}>
              <input type="date" {...register("settings.start_date")} />
            </Field>
            <Field label="Last day" error={err(s + "end_date")}>
              <input type="date" {...register("settings.end_date")} />
            </Field>
          </div>
          <div className={err(s + "calling_window.days") ? "days invalid" : "days"} role="group" aria-label="Days">
            {DAYS.map((d) => (
              <label key={d} className="check">
                <input type="checkbox" value={d} {...register("settings.calling_window.days")} />{" "}
                {d[0].toUpperCase() + d.slice(1)}
              </label>
            ))}
            {err(s + "calling_window.days") && (
              <span className="field-error" role="alert">
                {err(s + "calling_window.days")}
              </span>
            )}
          </div>
          <label className="check">
            <input type="checkbox" {...register("settings.allow_outside_legal_hours")} /> Allow calls outside
            08:00–21:00 local time (only for contacts who agreed to it)
          </label>
        </fieldset>

        <fieldset>
          <legend>Answering machines</legend>
          <Field label="When a machine answers" error={err(s + "answering_machine.policy")}>
            <select {...register("settings.answering_machine.policy")}>
              {MACHINE_POLICIES.map(([v, label]) => (
                <option key={v} value={v}>
                  {label}
                </option>
              ))}
            </select>
          </Field>
          {policy === "leave_voicemail" && (
            <Field label="Voicemail message" error={err(s + "answering_machine.voicemail_message")}>
              <textarea rows={2} {...register("settings.answering_machine.voicemail_message")} />
            </Field>
          )}
        </fieldset>

        <TransferFields register={register} err={err} />

        <fieldset>
          <legend>Retries</legend>
          <table className="retry-table">
            <thead>
              <tr>
                <th scope="col">After</th>
                <th scope="col">Attempts in all</th>
                <th scope="col">Wait (minutes)</th>
              </tr>
            </thead>
            <tbody>
              {RETRY_KINDS.map(([k, label]) => (
                <tr key={k}>
                  <th scope="row">{label}</th>
                  <td>
                    <Field label={`${label}: attempts`} error={err(`${s}retry.${k}.max_attempts`)}>
                      <input type="number" {...register(`settings.retry.${k}.max_attempts`)} />
                    </Field>
                  </td>
                  <td>
                    <Field label={`${label}: wait`} error={err(`${s}retry.${k}.delay_minutes`)}>
                      <input type="number" {...register(`settings.retry.${k}.delay_minutes`)} />
                    </Field>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="row-fields">
            <Field label="A call shorter than (seconds) counts as short" error={err(s + "retry.short_call_seconds")}>
              <input type="number" {...register("settings.retry.short_call_seconds")} />
            </Field>
            <Field label="Attempts per contact per day" error={err(s + "retry.max_attempts_per_day")}>
              <input type="number" {...register("settings.retry.max_attempts_per_day")} />
            </Field>
          </div>
        </fieldset>

        {problem && (
          <p className="form-error" role="alert">
            {problem}
          </p>
        )}
        <div className="actions">
          <button type="submit" className="primary" disabled={isSubmitting}>
            {isSubmitting ? "Saving…" : id == null ? "Create campaign" : "Save changes"}
          </button>
          <Link to={id == null ? "/campaigns" : `/campaigns/${id}`}>Cancel</Link>
        </div>
      </form>
    </section>
  );
}

type ErrorTree = { message?: unknown; [k: string]: unknown };

function errorAt(errors: unknown, path: string): string | undefined {
  let node = errors as ErrorTree | undefined;
  for (const part of path.split(".")) {
    node = node?.[part] as ErrorTree | undefined;
  }
  return typeof node?.message === "string" ? node.message : undefined;
}

function firstErrorPath(errors: unknown, prefix = ""): string | null {
  if (!errors || typeof errors !== "object") return null;
  const e = errors as ErrorTree;
  if (typeof e.message === "string" && prefix) return prefix;
  for (const [k, v] of Object.entries(e)) {
    if (k === "ref" || k === "type" || k === "message") continue;
    const found = firstErrorPath(v, prefix ? `${prefix}.${k}` : k);
    if (found) return found;
  }
  return null;
}

type AgentList = Schema<"Agents">;
type NumberList = Schema<"AccountPhoneNumbers">["items"];

/// Names the chosen agent, or says which one calls use when none is chosen.
function agentHint(agents: AgentList | undefined, chosen: string): string {
  if (!agents) return "The agent id from ElevenLabs";
  const id = chosen.trim();
  if (!id) {
    const fallback = agents.items.find((a) => a.is_default);
    return fallback ? `Empty: calls use ${fallback.name} (${fallback.agent_id})` : "Pick one of your account's agents";
  }
  const agent = agents.items.find((a) => a.agent_id === id);
  return agent ? agent.name : "Not an agent of your ElevenLabs account: the campaign will not start";
}

/// The account's numbers, each one click away from the caller ids.
function AccountNumbers({
  numbers,
  failed,
  onAdd,
}: {
  numbers: NumberList | undefined;
  failed: boolean;
  onAdd: (phone: string) => void;
}) {
  if (failed) return <p className="field-hint">Your Twilio numbers could not be listed; type them instead.</p>;
  if (!numbers) return null;
  const usable = numbers.filter((n) => n.voice);
  if (usable.length === 0) return <p className="field-hint">Your Twilio account has no voice numbers yet.</p>;
  return (
    <p className="field-hint" aria-label="Your Twilio numbers">
      Your numbers:{" "}
      {usable.map((n, i) => (
        <span key={n.phone_number}>
          {i > 0 && ", "}
          <button type="button" className="link" onClick={() => onAdd(n.phone_number)}>
            Add {n.phone_number}
          </button>
          {n.is_default && " (default)"}
          {n.kind === "verified_caller_id" && " (verified caller ID)"}
        </span>
      ))}
    </p>
  );
}
