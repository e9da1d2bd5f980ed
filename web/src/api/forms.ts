import type { FieldPath, FieldValues, UseFormSetError } from "react-hook-form";
import { ApiProblem, describeError } from "./client";

/// Puts the server's validation messages next to the fields they name (the API's field
/// paths match the form's), and returns whether any did; otherwise reports the problem.
export function applyServerErrors<F extends FieldValues>(
  e: unknown,
  setError: UseFormSetError<F>,
  setProblem: (p: string) => void,
): boolean {
  if (e instanceof ApiProblem) {
    const fields = Object.entries(e.fieldErrors());
    for (const [name, message] of fields) setError(name as FieldPath<F>, { type: "server", message });
    if (fields.length) {
      setProblem("Some fields need attention; see the messages next to them.");
      return true;
    }
  }
  setProblem(describeError(e));
  return false;
}
