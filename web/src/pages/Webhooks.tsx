// Outbound webhook subscriptions. Shown when this server offers them.
import { useQuery } from "@tanstack/react-query";

export function Webhooks() {
  const available = useQuery({
    queryKey: ["webhooks", "available"],
    queryFn: async () => (await fetch("/api/v1/webhooks", { credentials: "same-origin" })).ok,
  });
  return (
    <div className="card">
      <h2>Webhook subscriptions</h2>
      {available.data ? (
        <p>Webhook subscriptions are available through the API; see the <a href="/docs">API docs</a>.</p>
      ) : (
        <p className="muted">This version of Parley does not send outbound webhooks yet.</p>
      )}
    </div>
  );
}
