// Live updates over the authenticated WebSocket `/api/v1/events`. Reconnects with
// exponential backoff; after any gap (a reconnect, or a `resync` message saying events
// were dropped) it asks every listener to refetch, since events in the gap are lost.
import { useEffect, useSyncExternalStore } from "react";

export type LiveMessage = { type: string; call_id?: number; campaign_id?: number } & Record<
  string,
  unknown
>;

type Listener = (m: LiveMessage) => void;

export type LiveState = "connecting" | "open" | "closed";

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 15_000;

/// Delay before reconnect attempt `n` (0-based): doubling, capped, with jitter so many
/// tabs do not reconnect in step after a server restart.
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** attempt);
  return Math.round(base / 2 + (random() * base) / 2);
}

export class LiveConnection {
  private socket: WebSocket | null = null;
  private listeners = new Set<Listener>();
  private stateListeners = new Set<() => void>();
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = true;
  private everOpened = false;
  state: LiveState = "closed";

  constructor(
    private readonly url: () => string,
    private readonly makeSocket: (url: string) => WebSocket = (u) => new WebSocket(u),
  ) {}

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.socket?.close();
    this.socket = null;
    this.setState("closed");
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onState(listener: () => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  private setState(s: LiveState) {
    if (this.state === s) return;
    this.state = s;
    this.stateListeners.forEach((l) => l());
  }

  private emit(m: LiveMessage) {
    this.listeners.forEach((l) => l(m));
  }

  private connect() {
    this.setState("connecting");
    const socket = this.makeSocket(this.url());
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.setState("open");
      // Whatever happened while we were away was missed: refetch.
      if (this.everOpened) this.emit({ type: "resync" });
      this.everOpened = true;
    };
    socket.onmessage = (e) => {
      try {
        const m = JSON.parse(String(e.data)) as LiveMessage;
        if (m && typeof m.type === "string") this.emit(m);
      } catch {
        // Not JSON: not ours to interpret.
      }
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      this.setState("closed");
      const delay = backoffDelay(this.attempt++);
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }
}

function eventsUrl(): string {
  const proto = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${window.location.host}/api/v1/events`;
}

export const live = new LiveConnection(eventsUrl);

/// Calls `handler` for every live message (including synthetic `resync`).
export function useLive(handler: Listener) {
  useEffect(() => live.subscribe(handler), [handler]);
}

export function useLiveState(): LiveState {
  return useSyncExternalStore(
    (cb) => live.onState(cb),
    () => live.state,
  );
}
