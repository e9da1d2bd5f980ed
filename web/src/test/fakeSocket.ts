import { act } from "@testing-library/react";

/// A WebSocket stand-in for the live connection: tests open it and say messages.
export class FakeSocket {
  static last: FakeSocket | null = null;
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  constructor() {
    FakeSocket.last = this;
  }
  close() {}
  say(m: unknown) {
    act(() => this.onmessage?.({ data: JSON.stringify(m) }));
  }
}
