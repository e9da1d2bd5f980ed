import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useForm } from "react-hook-form";
import { zodResolver } from "@hookform/resolvers/zod";
import { z } from "zod";
import { api, describeError, must, type Schema } from "../api/client";
import { applyServerErrors } from "../api/forms";
import { fmtTime, humanize } from "../api/format";
import { useMe } from "../auth";
import { Field } from "../components/Field";
import { Empty, ErrorMessage, Loading } from "../components/States";
import { Doctor } from "./Doctor";
import { Webhooks } from "./Webhooks";

const ROLES = ["admin", "operator", "viewer"] as const satisfies readonly Schema<"Role">[];
const ROLE_HELP = "Admins manage users and keys; operators run campaigns; viewers only look.";

export default function SettingsPage() {
  const me = useMe();
  const admin = me.role === "admin";
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Settings</h1>
      <Mode />
      {me.user_id != null && <ChangePassword />}
      {admin ? (
        <>
          <Doctor />
          <Users />
          <ApiKeys />
          <Webhooks />
        </>
      ) : (
        <p className="muted">Users, API keys and webhooks are managed by admins.</p>
      )}
    </section>
  );
}

function Mode() {
  const status = useQuery({ queryKey: ["status"], queryFn: () => must(api.GET("/api/v1/status")) });
  return (
    <div className="card">
      <h2>Mode</h2>
      {status.isPending ? (
        <Loading />
      ) : status.isError ? (
        <ErrorMessage error={status.error} />
      ) : status.data.sandbox ? (
        <p data-testid="mode">
          <strong>Sandbox.</strong> Built-in simulators stand in for Twilio and ElevenLabs: calls are simulated and
          nobody is phoned. Configure Twilio and ElevenLabs credentials to run in production.
        </p>
      ) : (
        <p data-testid="mode">
          <strong>Production.</strong> Calls go through Twilio to real phones.
        </p>
      )}
      {status.data && (
        <p className="muted small">
          Parley {status.data.version} on {status.data.database === "sqlite" ? "SQLite" : "PostgreSQL"}.
        </p>
      )}
    </div>
  );
}

const passwordSchema = z
  .object({
    current_password: z.string().min(1, "Enter your current password"),
    new_password: z.string().min(10, "At least 10 characters").max(1024, "At most 1024 characters"),
    confirm: z.string(),
  })
  .refine((f) => f.new_password === f.confirm, { path: ["confirm"], message: "The two entries differ" });
type PasswordForm = z.infer<typeof passwordSchema>;

/// Changes the signed-in user's password; the server signs out their other sessions.
function ChangePassword() {
  const [problem, setProblem] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const form = useForm<PasswordForm>({ resolver: zodResolver(passwordSchema) });
  const submit = form.handleSubmit(async ({ current_password, new_password }) => {
    setProblem(null);
    setDone(false);
    try {
      await must(api.POST("/api/v1/auth/password", { body: { current_password, new_password } }));
      form.reset({ current_password: "", new_password: "", confirm: "" });
      setDone(true);
    } catch (e) {
      applyServerErrors(e, form.setError, setProblem);
    }
  });
  return (
    <div className="card">
      <h2>Your password</h2>
      <form onSubmit={submit} noValidate className="inline-form" aria-label="Change your password">
        <div className="row-fields">
          <Field label="Current password" error={form.formState.errors.current_password?.message}>
            <input type="password" autoComplete="current-password" {...form.register("current_password")} />
          </Field>
          <Field label="New password" error={form.formState.errors.new_password?.message}>
            <input type="password" autoComplete="new-password" {...form.register("new_password")} />
          </Field>
          <Field label="New password again" error={form.formState.errors.confirm?.message}>
            <input type="password" autoComplete="new-password" {...form.register("confirm")} />
          </Field>
        </div>
        {problem && (
          <p className="form-error" role="alert">
            {problem}
          </p>
        )}
        {done && (
          <p role="status" className="muted small">
            Password changed. Your other sessions were signed out.
          </p>
        )}
        <button type="submit" disabled={form.formState.isSubmitting}>
          Change password
        </button>
      </form>
    </div>
  );
}

const userSchema = z.object({
  email: z.string().trim().email("Enter an email address"),
  password: z.string().min(10, "At least 10 characters"),
  role: z.enum(ROLES),
});
type UserForm = z.infer<typeof userSchema>;

function Users() {
  const client = useQueryClient();
  const me = useMe();
  const users = useQuery({ queryKey: ["users"], queryFn: () => must(api.GET("/api/v1/users")) });
  const [problem, setProblem] = useState<string | null>(null);
  const form = useForm<UserForm>({ resolver: zodResolver(userSchema), defaultValues: { role: "operator" } });
  const create = form.handleSubmit(async (body) => {
    setProblem(null);
    try {
      await must(api.POST("/api/v1/users", { body }));
      form.reset({ email: "", password: "", role: body.role });
      void client.invalidateQueries({ queryKey: ["users"] });
    } catch (e) {
      applyServerErrors(e, form.setError, setProblem);
    }
  });
  const update = useMutation({
    mutationFn: ({ id, body }: { id: number; body: Schema<"UpdateUser"> }) =>
      must(api.PATCH("/api/v1/users/{id}", { params: { path: { id } }, body })),
    onSettled: () => client.invalidateQueries({ queryKey: ["users"] }),
  });
  return (
    <div className="card">
      <h2>Users and roles</h2>
      <p className="muted small">{ROLE_HELP}</p>
      {users.isPending ? (
        <Loading />
      ) : users.isError ? (
        <ErrorMessage error={users.error} />
      ) : (
        <div className="table-wrap">
          <table className="table cards">
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Access</th>
                <th scope="col">Added</th>
              </tr>
            </thead>
            <tbody>
              {users.data.map((u) => (
                <tr key={u.id}>
                  <td data-label="Email">{u.email}</td>
                  <td data-label="Role">
                    <select
                      aria-label={`Role of ${u.email}`}
                      value={u.role}
                      disabled={u.id === me.user_id || update.isPending}
                      onChange={(e) => update.mutate({ id: u.id, body: { role: e.target.value as Schema<"Role"> } })}
                    >
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {humanize(r)}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td data-label="Access">
                    <label className="switch">
                      <input
                        type="checkbox"
                        role="switch"
                        checked={!u.disabled}
                        disabled={u.id === me.user_id || update.isPending}
                        aria-label={`${u.email} may sign in`}
                        onChange={(e) => update.mutate({ id: u.id, body: { disabled: !e.target.checked } })}
                      />
                      <span>{u.disabled ? "Disabled" : "Active"}</span>
                    </label>
                  </td>
                  <td data-label="Added">{fmtTime(u.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {update.isError && (
        <p className="form-error" role="alert">
          {describeError(update.error)}
        </p>
      )}
      <form onSubmit={create} noValidate className="inline-form" aria-label="Add a user">
        <h3>Add a user</h3>
        <div className="row-fields">
          <Field label="Email" error={form.formState.errors.email?.message}>
            <input type="email" autoComplete="off" {...form.register("email")} />
          </Field>
          <Field label="Password" error={form.formState.errors.password?.message}>
            <input type="password" autoComplete="new-password" {...form.register("password")} />
          </Field>
          <Field label="Role" error={form.formState.errors.role?.message}>
            <select {...form.register("role")}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {humanize(r)}
                </option>
              ))}
            </select>
          </Field>
        </div>
        {problem && (
          <p className="form-error" role="alert">
            {problem}
          </p>
        )}
        <button type="submit" disabled={form.formState.isSubmitting}>
          Add user
        </button>
      </form>
    </div>
  );
}

const keySchema = z.object({
  name: z.string().trim().min(1, "Say what the key is for"),
  role: z.enum(ROLES),
  expires_at: z.string(),
});
type KeyForm = z.infer<typeof keySchema>;

function ApiKeys() {
  const client = useQueryClient();
  const keys = useQuery({ queryKey: ["api-keys"], queryFn: () => must(api.GET("/api/v1/api-keys")) });
  const [created, setCreated] = useState<Schema<"NewApiKey"> | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const form = useForm<KeyForm>({
    resolver: zodResolver(keySchema),
    defaultValues: { role: "operator", expires_at: "" },
  });
  const create = form.handleSubmit(async (v) => {
    setProblem(null);
    try {
      const body = {
        name: v.name,
        role: v.role,
        expires_at: v.expires_at ? new Date(`${v.expires_at}T23:59:59`).toISOString() : null,
      };
      setCreated(await must(api.POST("/api/v1/api-keys", { body })));
      form.reset({ name: "", role: v.role, expires_at: "" });
      void client.invalidateQueries({ queryKey: ["api-keys"] });
    } catch (e) {
      applyServerErrors(e, form.setError, setProblem);
    }
  });
  const revoke = useMutation({
    mutationFn: (id: number) => must(api.DELETE("/api/v1/api-keys/{id}", { params: { path: { id } } })),
    onSettled: () => client.invalidateQueries({ queryKey: ["api-keys"] }),
  });
  return (
    <div className="card">
      <h2>API keys</h2>
      <p className="muted small">
        Programs use keys as <code>Authorization: Bearer KEY</code>. See the <a href="/docs">API docs</a>.
      </p>
      {created && (
        <div className="notice" role="status">
          <p>
            Key <strong>{created.name}</strong> created. Copy it now: it is not shown again.
          </p>
          <code className="secret" data-testid="new-api-key">
            {created.key}
          </code>
          <button type="button" onClick={() => void navigator.clipboard?.writeText(created.key)}>
            Copy
          </button>
        </div>
      )}
      {keys.isPending ? (
        <Loading />
      ) : keys.isError ? (
        <ErrorMessage error={keys.error} />
      ) : keys.data.length === 0 ? (
        <Empty title="No API keys" />
      ) : (
        <div className="table-wrap">
          <table className="table cards">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Starts with</th>
                <th scope="col">Role</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.map((k) => (
                <tr key={k.id}>
                  <td data-label="Name">{k.name}</td>
                  <td data-label="Starts with">
                    <code>{k.prefix}…</code>
                  </td>
                  <td data-label="Role">{humanize(k.role)}</td>
                  <td data-label="Last used">{fmtTime(k.last_used_at)}</td>
                  <td data-label="Expires">{k.expires_at ? fmtTime(k.expires_at) : "Never"}</td>
                  <td data-label="Actions">
                    {k.revoked_at ? (
                      <span className="muted">Revoked {fmtTime(k.revoked_at)}</span>
                    ) : (
                      <button
                        type="button"
                        className="danger"
                        onClick={() => window.confirm(`Revoke ${k.name}? Programs using it stop working.`) && revoke.mutate(k.id)}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form onSubmit={create} noValidate className="inline-form" aria-label="Create an API key">
        <h3>Create a key</h3>
        <div className="row-fields">
          <Field label="Name" error={form.formState.errors.name?.message}>
            <input {...form.register("name")} />
          </Field>
          <Field label="Role" error={form.formState.errors.role?.message}>
            <select {...form.register("role")}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {humanize(r)}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Expires on (optional)" error={form.formState.errors.expires_at?.message}>
            <input type="date" {...form.register("expires_at")} />
          </Field>
        </div>
        {problem && (
          <p className="form-error" role="alert">
            {problem}
          </p>
        )}
        <button type="submit" disabled={form.formState.isSubmitting}>
          Create key
        </button>
      </form>
    </div>
  );
}
