// The typed API client: paths and bodies come from the generated OpenAPI types.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schema<K extends keyof components["schemas"]> = components["schemas"][K];

/// Sent with every write made with the session cookie (see the server's auth module).
let csrfToken: string | null = null;
export function setCsrfToken(token: string | null | undefined) {
  csrfToken = token ?? null;
}
export function getCsrfToken(): string | null {
  return csrfToken;
}

/// Called when the server says the session has ended, so the app can show sign-in.
let onSignedOut: () => void = () => {};
export function whenSignedOut(handler: () => void) {
  onSignedOut = handler;
}

const auth: Middleware = {
  onRequest({ request }) {
    if (csrfToken && request.method !== "GET" && request.method !== "HEAD") {
      request.headers.set("X-CSRF-Token", csrfToken);
    }
    return request;
  },
  onResponse({ response, request }) {
    if (response.status === 401 && !request.url.endsWith("/auth/sign-in")) {
      onSignedOut();
    }
    return response;
  },
};

export const api = createClient<paths>({
  baseUrl: window.location.origin,
  credentials: "same-origin",
  // Looked up per request (not captured once), so tests can stand in for the network.
  fetch: (request) => globalThis.fetch(request),
});
api.use(auth);

/// The API's error body `{error:{code,message,details}}`, as an exception.
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown,
  ) {
    super(message);
  }

  /// Validation messages keyed by field path (`settings.max_concurrent_calls`), when the
  /// server named fields.
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    const fields = (this.details as { fields?: unknown } | null)?.fields;
    if (Array.isArray(fields)) {
      for (const f of fields as { field?: string; message?: string }[]) {
        if (f.field) out[f.field] = out[f.field] ? `${out[f.field]}; ${f.message}` : String(f.message);
      }
    }
    return out;
  }
}

/// Turns anything thrown while talking to the server into words for a person.
export function describeError(e: unknown): string {
  if (e instanceof ApiProblem) {
    switch (e.code) {
      case "unauthorized":
        return e.message || "Please sign in again.";
      case "forbidden":
        return `Not allowed: ${e.message}`;
      case "rate_limited":
        return e.message || "Too many attempts; wait a minute and try again.";
      case "internal":
        return "Something went wrong on the server. Try again; if it keeps happening, check the server log.";
      default:
        return e.message;
    }
  }
  if (e instanceof TypeError) return "Cannot reach the Parley server. Check that it is running.";
  if (e instanceof Error) return e.message;
  return "Something went wrong.";
}

type Result<T> = { data?: T; error?: unknown; response: Response };

/// Unwraps an openapi-fetch result: the data, or an ApiProblem.
export async function must<T>(promise: Promise<Result<T>>): Promise<T> {
  const { data, error, response } = await promise;
  if (response.ok) return data as T;
  throw toProblem(response.status, error);
}

export function toProblem(status: number, body: unknown): ApiProblem {
  const e = (body as { error?: { code?: string; message?: string; details?: unknown } } | null)
    ?.error;
  if (e && typeof e.code === "string") {
    return new ApiProblem(status, e.code, e.message ?? e.code, e.details ?? null);
  }
  return new ApiProblem(status, "http_" + status, `The server answered ${status}.`, null);
}
