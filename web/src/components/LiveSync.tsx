// Turns live messages into refetches of what they change. Invalidations are gathered
// and flushed a few times a second so a busy campaign does not trigger a refetch storm.
import { useCallback, useEffect, useRef } from "react";
import { useQueryClient, type QueryKey } from "@tanstack/react-query";
import { useLive, useLiveState, type LiveMessage } from "../api/live";

const FLUSH_MS = 400;

export function keysFor(m: LiveMessage): QueryKey[] | "all" {
  switch (m.type) {
    case "resync":
      return "all";
    case "call_started":
    case "call_updated":
    case "call_ended":
    case "call_analyzed":
    case "recording_ready":
    case "contact_opted_out":
    case "stream_ended":
      return [["calls"], ["call", m.call_id], ["analytics"], ["campaign-contacts"]];
    case "campaign_changed":
    case "progress_changed":
      return [["campaigns"], ["campaign", m.campaign_id], ["campaign-contacts", m.campaign_id]];
    case "sheet_writes_changed":
      return [["sheet-writes", m.campaign_id]];
    case "webhook_delivery_changed":
      return [["webhook-deliveries"]];
    case "metrics":
      // Every 5 s while calls happen: today's numbers moved (the message counts the UTC
      // day; the overview shows the person's own day, so it refetches).
      return [["analytics", "summary"]];
    default:
      // `transcript` is shown straight from the message; `hello` says nothing new.
      return [];
  }
}

export function LiveSync() {
  const client = useQueryClient();
  const pending = useRef<QueryKey[] | "all">([]);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const flush = useCallback(() => {
    timer.current = null;
    const keys = pending.current;
    pending.current = [];
    if (keys === "all") {
      void client.invalidateQueries({ predicate: (q) => q.queryKey[0] !== "me" });
    } else {
      for (const queryKey of keys) void client.invalidateQueries({ queryKey });
    }
  }, [client]);

  const onMessage = useCallback(
    (m: LiveMessage) => {
      const keys = keysFor(m);
      if (keys === "all" || pending.current === "all") pending.current = "all";
      else pending.current = [...pending.current, ...keys];
      if ((keys === "all" || keys.length) && !timer.current) {
        timer.current = setTimeout(flush, FLUSH_MS);
      }
    },
    [client, flush],
  );
  useLive(onMessage);
  useEffect(() => () => void (timer.current && clearTimeout(timer.current)), []);
  return null;
}

/// How often a page polls: never while live updates arrive, every few seconds without.
export function usePollInterval(ms = 5_000): number | false {
  return useLiveState() === "open" ? false : ms;
}
