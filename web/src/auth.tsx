// Who is signed in. The session itself is an HttpOnly cookie; the app keeps the CSRF
// token that writes need, and shows sign-in whenever the server says the session ended.
import { createContext, useContext, useEffect, type ReactNode } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiProblem, must, setCsrfToken, whenSignedOut, type Schema } from "./api/client";

export type Me = Schema<"Me">;

const MeContext = createContext<Me | null>(null);

export function useMe(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error("useMe outside a signed-in page");
  return me;
}

export function canOperate(me: Me) {
  return me.role === "admin" || me.role === "operator";
}

export function useSession() {
  return useQuery({
    queryKey: ["me"],
    queryFn: async () => {
      try {
        const me = await must(api.GET("/api/v1/auth/me"));
        setCsrfToken(me.csrf_token);
        return me;
      } catch (e) {
        if (e instanceof ApiProblem && e.status === 401) return null;
        throw e;
      }
    },
    staleTime: Infinity,
  });
}

export function SignedIn({ me, children }: { me: Me; children: ReactNode }) {
  const client = useQueryClient();
  useEffect(() => {
    whenSignedOut(() => client.setQueryData(["me"], null));
  }, [client]);
  return <MeContext.Provider value={me}>{children}</MeContext.Provider>;
}

export async function signIn(email: string, password: string): Promise<Me> {
  const me = await must(api.POST("/api/v1/auth/sign-in", { body: { email, password } }));
  setCsrfToken(me.csrf_token);
  return me;
}

export async function signOut() {
  await api.POST("/api/v1/auth/sign-out");
  setCsrfToken(null);
}
