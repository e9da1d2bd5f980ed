// Outbound webhook subscriptions: where Parley posts call and campaign events, with each
// subscription's recent deliveries and a replay button for failed ones.
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useForm } from "react-hook-form";
import { zodResolver } from "@hookform/resolvers/zod";
import { z } from "zod";
import { api, describeError, must, type Schema } from "../api/client";
import { applyServerErrors } from "../api/forms";
import { fmtTime, humanize } from "../api/format";
import { Field } from "../components/Field";
import { Empty, ErrorMessage, Loading } from "../components/States";

const EVENT_TYPES = {
  "call.completed": "A call ended",
  "call.analyzed": "A call's analysis is ready",
  "campaign.state_changed": "A campaign started, paused or finished",
  "contact.opted_out": "A contact asked not to be called",
  "call.transferred": "A transfer to a person connected, or fell back",
} satisfies Record<Schema<"EventType">, string>;

const schema = z.object({
  url: z.string().trim().url("Enter the full address, starting with https://"),
  description: z.string(),
  event_types: z.array(z.string()).min(1, "Choose at least one event"),
});
type Form = z.infer<typeof schema>;

export function Webhooks() {
  const client = useQueryClient();
  const hooks = useQuery({
    queryKey: ["webhooks"],
    queryFn: () => must(api.GET("/api/v1/webhooks", { params: { query: { limit: 100 } } })),
  });
  const [secret, setSecret] = useState<Schema<"WebhookWithSecret"> | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [open, setOpen] = useState<number | null>(null);
  const form = useForm<Form>({
    resolver: zodResolver(schema),
    defaultValues: { url: "", description: "", event_types: Object.keys(EVENT_TYPES) },
  });
  const create = form.handleSubmit(async (v) => {
    setProblem(null);
    try {
      const body = { url: v.url, event_types: v.event_types, description: v.description.trim() || null };
      setSecret(await must(api.POST("/api/v1/webhooks", { body })));
      form.reset();
      void client.invalidateQueries({ queryKey: ["webhooks"] });
    } catch (e) {
      applyServerErrors(e, form.setError, setProblem);
    }
  });
  const update = useMutation({
    mutationFn: ({ id, enabled }: { id: number; enabled: boolean }) =>
      must(api.PATCH("/api/v1/webhooks/{id}", { params: { path: { id } }, body: { enabled } })),
    onSettled: () => client.invalidateQueries({ queryKey: ["webhooks"] }),
  });
  const remove = useMutation({
    mutationFn: (id: number) => must(api.DELETE("/api/v1/webhooks/{id}", { params: { path: { id } } })),
    onSettled: () => client.invalidateQueries({ queryKey: ["webhooks"] }),
  });

  return (
    <div className="card">
      <h2>Webhook subscriptions</h2>
      <p className="muted small">
        Parley posts events to these addresses, signed with each subscription's secret (header{" "}
        <code>Parley-Signature</code>), and retries until they are accepted.
      </p>
      {secret && (
        <div className="notice" role="status">
          <p>
            Subscription created. Its signing secret is shown this once: keep it with the receiving system.
          </p>
          <code className="secret" data-testid="webhook-secret">
            {secret.secret}
          </code>
        </div>
      )}
      {hooks.isPending ? (
        <Loading />
      ) : hooks.isError ? (
        <ErrorMessage error={hooks.error} retry={() => hooks.refetch()} />
      ) : hooks.data.items.length === 0 ? (
        <Empty title="No subscriptions" />
      ) : (
        <div className="table-wrap">
          <table className="table cards">
            <thead>
              <tr>
                <th scope="col">Address</th>
                <th scope="col">Events</th>
                <th scope="col">Sending</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {hooks.data.items.map((h) => (
                <WebhookRow
                  key={h.id}
                  hook={h}
                  open={open === h.id}
                  toggle={() => setOpen(open === h.id ? null : h.id)}
                  setEnabled={(enabled) => update.mutate({ id: h.id, enabled })}
                  remove={() => window.confirm(`Delete the subscription to ${h.url}?`) && remove.mutate(h.id)}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {(update.isError || remove.isError) && (
        <p className="form-error" role="alert">
          {describeError(update.error ?? remove.error)}
        </p>
      )}
      <form onSubmit={create} noValidate className="inline-form" aria-label="Add a webhook subscription">
        <h3>Add a subscription</h3>
        <div className="row-fields">
          <Field label="Address (URL)" error={form.formState.errors.url?.message}>
            <input type="url" placeholder="https://crm.example.com/parley" {...form.register("url")} />
          </Field>
          <Field label="Description" error={form.formState.errors.description?.message}>
            <input {...form.register("description")} />
          </Field>
        </div>
        <div role="group" aria-label="Events" className={form.formState.errors.event_types ? "days invalid" : "days"}>
          {Object.entries(EVENT_TYPES).map(([value, text]) => (
            <label key={value} className="check">
              <input type="checkbox" value={value} {...form.register("event_types")} /> {text}
            </label>
          ))}
          {form.formState.errors.event_types && (
            <span className="field-error" role="alert">
              {form.formState.errors.event_types.message}
            </span>
          )}
        </div>
        {problem && (
          <p className="form-error" role="alert">
            {problem}
          </p>
        )}
        <button type="submit" disabled={form.formState.isSubmitting}>
          Add subscription
        </button>
      </form>
    </div>
  );
}

function WebhookRow({
  hook,
  open,
  toggle,
  setEnabled,
  remove,
}: {
  hook: Schema<"Webhook">;
  open: boolean;
  toggle: () => void;
  setEnabled: (enabled: boolean) => void;
  remove: () => void;
}) {
  return (
    <>
      <tr>
        <td data-label="Address">
          <button type="button" className="link" aria-expanded={open} onClick={toggle}>
            {hook.url}
          </button>
          {hook.description && <div className="muted small">{hook.description}</div>}
        </td>
        <td data-label="Events">{hook.event_types.map((t) => EVENT_TYPES[t] ?? t).join("; ")}</td>
        <td data-label="Sending">
          <label className="switch">
            <input
              type="checkbox"
              role="switch"
              checked={hook.enabled}
              aria-label={`Send events to ${hook.url}`}
              onChange={(e) => setEnabled(e.target.checked)}
            />
            <span>{hook.enabled ? "On" : "Off"}</span>
          </label>
        </td>
        <td data-label="Actions">
          <button type="button" className="danger" onClick={remove}>
            Delete
          </button>
        </td>
      </tr>
      {open && (
        <tr className="subrow">
          <td colSpan={4}>
            <Deliveries webhookId={hook.id} />
          </td>
        </tr>
      )}
    </>
  );
}

function Deliveries({ webhookId }: { webhookId: number }) {
  const client = useQueryClient();
  const deliveries = useQuery({
    queryKey: ["webhook-deliveries", webhookId],
    queryFn: () =>
      must(api.GET("/api/v1/webhooks/{id}/deliveries", { params: { path: { id: webhookId }, query: { limit: 20 } } })),
  });
  const replay = useMutation({
    mutationFn: (id: number) => must(api.POST("/api/v1/webhook-deliveries/{id}/replay", { params: { path: { id } } })),
    onSettled: () => client.invalidateQueries({ queryKey: ["webhook-deliveries", webhookId] }),
  });
  if (deliveries.isPending) return <Loading label="Loading deliveries" />;
  if (deliveries.isError) return <ErrorMessage error={deliveries.error} />;
  if (deliveries.data.items.length === 0) return <p className="muted">Nothing sent yet.</p>;
  return (
    <table className="table cards" aria-label="Recent deliveries">
      <thead>
        <tr>
          <th scope="col">Event</th>
          <th scope="col">State</th>
          <th scope="col">Attempts</th>
          <th scope="col">Last answer</th>
          <th scope="col">Created</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {deliveries.data.items.map((d) => (
          <tr key={d.id}>
            <td data-label="Event">{d.event_type}</td>
            <td data-label="State">{humanize(d.state)}</td>
            <td data-label="Attempts">{d.attempts}</td>
            <td data-label="Last answer">{d.last_status ?? d.last_error ?? "—"}</td>
            <td data-label="Created">{fmtTime(d.created_at)}</td>
            <td data-label="Actions">
              {d.state !== "pending" && (
                <button type="button" onClick={() => replay.mutate(d.id)} disabled={replay.isPending}>
                  Send again
                </button>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
