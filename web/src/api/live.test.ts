import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { backoffDelay, LiveConnection, type LiveMessage } from "./live";

class FakeSocket {
  static all: FakeSocket[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  close() {
    this.onclose?.();
  }
}

describe("backoffDelay", () => {
  it("doubles from half a second and stays under the cap, with jitter", () => {
    expect(backoffDelay(0, () => 1)).toBe(500);
    expect(backoffDelay(0, () => 0)).toBe(250);
    expect(backoffDelay(3, () => 1)).toBe(4000);
    expect(backoffDelay(50, () => 1)).toBe(15000);
  });
});

describe("LiveConnection", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
  });
  afterEach(() => vi.useRealTimers());

  it("reconnects after a drop and asks listeners to resync", () => {
    const conn = new LiveConnection(() => "ws://x/api/v1/events", (u) => new FakeSocket(u) as unknown as WebSocket);
    const got: LiveMessage[] = [];
    conn.subscribe((m) => got.push(m));
    conn.start();
    FakeSocket.all[0].onopen?.();
    expect(conn.state).toBe("open");
    FakeSocket.all[0].onmessage?.({ data: JSON.stringify({ type: "call_started", call_id: 7 }) });
    FakeSocket.all[0].onmessage?.({ data: "not json" });
    expect(got).toEqual([{ type: "call_started", call_id: 7 }]);

    FakeSocket.all[0].onclose?.();
    expect(conn.state).toBe("closed");
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(15_000);
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.all[1].onopen?.();
    expect(got.at(-1)).toEqual({ type: "resync" });
    conn.stop();
  });

  it("waits longer after each failed attempt and stops for good when stopped", () => {
    const conn = new LiveConnection(() => "ws://x", (u) => new FakeSocket(u) as unknown as WebSocket);
    conn.start();
    FakeSocket.all[0].onclose?.();
    vi.advanceTimersByTime(500);
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.all[1].onclose?.();
    vi.advanceTimersByTime(400);
    expect(FakeSocket.all).toHaveLength(2); // the second wait is at least 500 ms
    vi.advanceTimersByTime(600);
    expect(FakeSocket.all).toHaveLength(3);
    conn.stop();
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(3);
  });
});
