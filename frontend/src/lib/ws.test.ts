import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { LiveEvent } from "./liveReducer";
import { backoffMs, openFeed, socketProtocols, socketUrl, type FeedStatus } from "./ws";

/** A WebSocket stand-in the test drives by hand. */
class FakeSocket {
  static instances: FakeSocket[] = [];
  readyState = 0;
  onopen: (() => void) | null = null;
  onmessage: ((message: { data: string }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  closed = false;
  constructor(
    public url: string,
    public protocols?: string | string[],
  ) {
    FakeSocket.instances.push(this);
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  send(events: LiveEvent[]) {
    for (const event of events) this.onmessage?.({ data: JSON.stringify(event) });
  }
  fail(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  close() {
    this.closed = true;
    this.readyState = 3;
  }
}

const event = (seq: number, type = "run.completed"): LiveEvent =>
  ({ type, seq, experiment_id: null, sweep_id: null, run_id: null, data: {}, ts: "2026-01-01T00:00:00Z" }) as unknown as LiveEvent;
const last = () => FakeSocket.instances[FakeSocket.instances.length - 1]!;

describe("openFeed", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.instances = [];
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function feed(extra: Partial<Parameters<typeof openFeed>[0]> = {}) {
    const received: LiveEvent[] = [];
    const statuses: FeedStatus[] = [];
    const handle = openFeed({
      path: "/ws/experiments/e1",
      token: "tok",
      baseUrl: "ws://test",
      onEvents: (events) => received.push(...events),
      onStatus: (s) => statuses.push(s),
      WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
      batchMs: 0,
      random: () => 0.5,
      ...extra,
    });
    return { handle, received, statuses };
  }

  it("connects with the token in the subprotocols, never in the URL, and delivers events", () => {
    const { handle, received, statuses } = feed({ after: 5 });
    expect(last().url).toBe("ws://test/ws/experiments/e1?after=5");
    expect(last().url).not.toContain("tok");
    expect(last().protocols).toEqual(["promptlooper.bearer", "tok"]);
    last().open();
    last().send([event(6), event(7)]);
    expect(received.map((e) => e.seq)).toEqual([6, 7]);
    expect(statuses).toEqual(["live"]);
    expect(handle.lastSeq()).toBe(7);
    handle.close();
    expect(last().closed).toBe(true);
  });

  it("reconnects with backoff and resumes after the last seq", () => {
    const { received, statuses } = feed();
    last().open();
    last().send([event(3)]);
    last().fail();
    expect(statuses.at(-1)).toBe("reconnecting");
    expect(FakeSocket.instances).toHaveLength(1);
    vi.advanceTimersByTime(backoffMs(1, 30_000, () => 0.5));
    expect(FakeSocket.instances).toHaveLength(2);
    expect(last().url).toContain("after=3");
    last().open();
    last().send([event(4)]);
    expect(received.map((e) => e.seq)).toEqual([3, 4]);
    expect(statuses.at(-1)).toBe("live");
  });

  it("falls back to polling when the socket keeps failing, then returns to the socket", async () => {
    const pages = [
      { items: [event(11), event(12)], next_after: 12 },
      { items: [], next_after: 12 },
      { items: [event(13)], next_after: 13 },
    ];
    const poll = vi.fn(async () => pages.shift() ?? { items: [], next_after: 13 });
    const { received, statuses } = feed({ after: 10, poll, failuresBeforePolling: 2, pollIntervalMs: 1000, socketRetryMs: 10_000 });
    last().fail(); // never opened
    vi.advanceTimersByTime(backoffMs(1, 30_000, () => 0.5));
    last().fail(); // second failure: polling starts
    expect(statuses.at(-1)).toBe("polling");
    await vi.advanceTimersByTimeAsync(0);
    expect(poll).toHaveBeenCalledWith(10, expect.any(AbortSignal));
    expect(received.map((e) => e.seq)).toEqual([11, 12]);
    await vi.advanceTimersByTimeAsync(1000);
    await vi.advanceTimersByTimeAsync(1000);
    expect(poll).toHaveBeenLastCalledWith(12, expect.any(AbortSignal));
    expect(received.map((e) => e.seq)).toEqual([11, 12, 13]);
    // The socket is tried again while polling; once it opens, polling stops.
    const sockets = FakeSocket.instances.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(FakeSocket.instances.length).toBe(sockets + 1);
    expect(last().url).toContain("after=13");
    last().open();
    expect(statuses.at(-1)).toBe("live");
    const calls = poll.mock.calls.length;
    await vi.advanceTimersByTimeAsync(5000);
    expect(poll.mock.calls.length).toBe(calls);
  });

  it("stops on an authentication close and reports it", () => {
    const { statuses } = feed();
    last().fail(4401);
    expect(statuses.at(-1)).toBe("unauthorized");
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });

  it("stops when guest access is turned off (4403) and opens an anonymous socket without protocols", () => {
    const { statuses } = feed({ token: null });
    expect(last().protocols).toBeUndefined();
    last().open();
    last().fail(4403);
    expect(statuses.at(-1)).toBe("unauthorized");
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });

  it("batches events before delivering them", () => {
    const batches: number[] = [];
    openFeed({
      path: "/ws/dashboard",
      baseUrl: "ws://test",
      onEvents: (events) => batches.push(events.length),
      WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
      batchMs: 100,
    });
    last().open();
    last().send([event(1), event(2), event(3)]);
    expect(batches).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(batches).toEqual([3]);
  });
});

describe("helpers", () => {
  it("builds socket URLs without empty parameters", () => {
    expect(socketUrl("/ws/dashboard", { token: null, after: 0 }, "wss://host")).toBe("wss://host/ws/dashboard?after=0");
    expect(socketUrl("/ws/dashboard", { token: undefined }, "wss://host")).toBe("wss://host/ws/dashboard");
  });
  it("puts the token in the subprotocols only", () => {
    expect(socketProtocols("abc.def")).toEqual(["promptlooper.bearer", "abc.def"]);
    expect(socketProtocols(null)).toEqual([]);
    expect(socketProtocols("")).toEqual([]);
  });
  it("backs off exponentially up to the cap", () => {
    const mid = () => 0.5;
    expect([1, 2, 3, 10].map((n) => backoffMs(n, 30_000, mid))).toEqual([1000, 2000, 4000, 30000]);
  });
});
