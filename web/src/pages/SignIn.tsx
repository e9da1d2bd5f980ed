import { useState } from "react";
import { useForm } from "react-hook-form";
import { zodResolver } from "@hookform/resolvers/zod";
import { z } from "zod";
import { useQueryClient } from "@tanstack/react-query";
import { describeError } from "../api/client";
import { signIn } from "../auth";
import { Field } from "../components/Field";

const schema = z.object({
  email: z.string().trim().min(1, "Enter your email address").email("That is not an email address"),
  password: z.string().min(1, "Enter your password"),
});
type Form = z.infer<typeof schema>;

export function SignInPage() {
  const client = useQueryClient();
  const [problem, setProblem] = useState<string | null>(null);
  const {
    register,
    handleSubmit,
    formState: { errors, isSubmitting },
  } = useForm<Form>({ resolver: zodResolver(schema) });

  const onSubmit = handleSubmit(async ({ email, password }) => {
    setProblem(null);
    try {
      const me = await signIn(email, password);
      client.setQueryData(["me"], me);
    } catch (e) {
      setProblem(describeError(e));
    }
  });

  return (
    <main className="sign-in">
      <form onSubmit={onSubmit} noValidate aria-labelledby="sign-in-title" className="card">
        <h1 id="sign-in-title">Sign in to Parley</h1>
        <Field label="Email" error={errors.email?.message}>
          <input type="email" autoComplete="username" autoFocus {...register("email")} />
        </Field>
        <Field label="Password" error={errors.password?.message}>
          <input type="password" autoComplete="current-password" {...register("password")} />
        </Field>
        {problem && (
          <p className="form-error" role="alert">
            {problem}
          </p>
        )}
        <button type="submit" className="primary" disabled={isSubmitting}>
          {isSubmitting ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
