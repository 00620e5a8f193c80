// Live event feeds: a WebSocket to /ws/experiments/{id} (or /ws/dashboard) that reconnects with
// backoff and resumes after the last `seq` it saw; when the socket cannot be held (proxies that drop
// upgrades, flaky networks) it falls back to polling GET /experiments/{id}/events?after=<seq> and
// keeps trying the socket now and then.
//
// The token never goes into the URL (URLs end up in access logs and proxy logs): it is offered as the
// second of the subprotocols ["promptlooper.bearer", <token>] (the Sec-WebSocket-Protocol header), and
// the server answers with "promptlooper.bearer".

import type { LiveEvent } from "./liveReducer";

export type FeedStatus = "connecting" | "live" | "reconnecting" | "polling" | "unauthorized" | "not_found" | "closed";

export interface PollPage {
  items: LiveEvent[];
  next_after: number;
}

export interface TimerApi {
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
}

export interface FeedOptions {
  /** Path of the socket, e.g. `/ws/experiments/<id>`. */
  path: string;
  token?: string | null;
  /** Resume after this seq (events with a greater seq are replayed by the server). */
  after?: number;
  /** Called with batches of events (in arrival order). */
  onEvents: (events: LiveEvent[]) => void;
  onStatus?: (status: FeedStatus) => void;
  /** Polling fallback; without it the feed only reconnects. */
  poll?: (after: number, signal: AbortSignal) => Promise<PollPage>;
  /** Failed socket attempts in a row before polling starts. */
  failuresBeforePolling?: number;
  pollIntervalMs?: number;
  /** While polling, how often to try the socket again. */
  socketRetryMs?: number;
  maxBackoffMs?: number;
  /** The page size `poll` asks for: a full page means there is more to catch up on at once. */
  pollPageSize?: number;
  /** Events are delivered in batches at most this often (keeps React renders down during big sweeps). */
  batchMs?: number;
  WebSocketImpl?: typeof WebSocket;
  timers?: TimerApi;
  /** Base URL for the socket; defaults to the page's origin with ws(s)://. */
  baseUrl?: string;
  random?: () => number;
}

export interface Feed {
  close: () => void;
  status: () => FeedStatus;
  lastSeq: () => number;
}

const defaultTimers: TimerApi = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** The subprotocol that carries the bearer token (the server echoes it when it accepts). */
export const BEARER_SUBPROTOCOL = "promptlooper.bearer";

/** Subprotocols for a token: `["promptlooper.bearer", token]`, or none for an anonymous (guest) socket. */
export function socketProtocols(token: string | null | undefined): string[] {
  return token ? [BEARER_SUBPROTOCOL, token] : [];
}

export function socketUrl(path: string, params: Record<string, string | number | null | undefined>, baseUrl?: string): string {
  const base =
    baseUrl ??
    (typeof window !== "undefined"
      ? `${window.location.protocol === "https:" ? "wss:" : "ws:"}//${window.location.host}`
      : "ws://localhost");
  const url = new URL(path, base);
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, String(value));
  }
  return url.toString();
}

/** Backoff for the n-th consecutive failure: 1 s, 2 s, 4 s ... capped, with ±20 % jitter. */
export function backoffMs(attempt: number, maxMs = 30_000, random: () => number = Math.random): number {
  const base = Math.min(maxMs, 1000 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

export function openFeed(options: FeedOptions): Feed {
  const {
    path,
    token,
    onEvents,
    onStatus,
    poll,
    failuresBeforePolling = 2,
    pollIntervalMs = 2000,
    socketRetryMs = 30_000,
    maxBackoffMs = 30_000,
    batchMs = 100,
    pollPageSize = 1000,
    timers = defaultTimers,
    random = Math.random,
  } = options;
  const WS = options.WebSocketImpl ?? (typeof WebSocket !== "undefined" ? WebSocket : undefined);

  let lastSeq = options.after ?? 0;
  let status: FeedStatus = "connecting";
  let closed = false;
  let socket: WebSocket | null = null;
  let failures = 0;
  let reconnectTimer: unknown = null;
  let pollTimer: unknown = null;
  let socketRetryTimer: unknown = null;
  let batchTimer: unknown = null;
  let pollAbort: AbortController | null = null;
  let polling = false;
  let buffer: LiveEvent[] = [];

  const setStatus = (next: FeedStatus) => {
    if (status === next) return;
    status = next;
    onStatus?.(next);
  };

  const flush = () => {
    batchTimer = null;
    if (closed || buffer.length === 0) return;
    const events = buffer;
    buffer = [];
    onEvents(events);
  };

  const deliver = (events: LiveEvent[]) => {
    for (const event of events) {
      // Duplicates and late arrivals are passed on: the reducer folds each seq exactly once.
      if (typeof event.seq === "number") lastSeq = Math.max(lastSeq, event.seq);
      buffer.push(event);
    }
    if (batchMs <= 0) flush();
    else if (batchTimer === null && buffer.length) batchTimer = timers.setTimeout(flush, batchMs);
  };

  const clearTimer = (handle: unknown) => {
    if (handle !== null) timers.clearTimeout(handle);
  };

  const connect = () => {
    if (closed) return;
    if (!WS) {
      startPolling();
      return;
    }
    let opened = false;
    let ws: WebSocket;
    try {
      const url = socketUrl(path, { after: lastSeq || undefined }, options.baseUrl);
      const protocols = socketProtocols(token);
      ws = protocols.length ? new WS(url, protocols) : new WS(url);
    } catch {
      onSocketFailure(false);
      return;
    }
    socket = ws;
    ws.onopen = () => {
      if (socket !== ws) return;
      opened = true;
      failures = 0;
      stopPolling();
      setStatus("live");
    };
    ws.onmessage = (message: MessageEvent) => {
      if (socket !== ws) return;
      try {
        const parsed = JSON.parse(typeof message.data === "string" ? message.data : "") as LiveEvent | LiveEvent[];
        deliver(Array.isArray(parsed) ? parsed : [parsed]);
      } catch {
        // Not an event (e.g. a keep-alive): ignore.
      }
    };
    ws.onclose = (event: CloseEvent) => {
      if (socket !== ws) return;
      socket = null;
      if (closed) return;
      // 4401: the token or key is not (or no longer) valid; 4403: guest access was turned off.
      if (event.code === 4401 || event.code === 4403) {
        setStatus("unauthorized");
        return;
      }
      if (event.code === 4404) {
        setStatus("not_found");
        return;
      }
      onSocketFailure(opened);
    };
    ws.onerror = () => {
      // onclose follows and decides what to do.
    };
  };

  const onSocketFailure = (hadOpened: boolean) => {
    failures = hadOpened ? 1 : failures + 1;
    if (poll && failures >= failuresBeforePolling) {
      startPolling();
      clearTimer(socketRetryTimer);
      socketRetryTimer = timers.setTimeout(() => {
        socketRetryTimer = null;
        connect();
      }, socketRetryMs);
      return;
    }
    if (!polling) setStatus("reconnecting");
    clearTimer(reconnectTimer);
    reconnectTimer = timers.setTimeout(() => {
      reconnectTimer = null;
      connect();
    }, backoffMs(failures, maxBackoffMs, random));
  };

  const startPolling = () => {
    if (closed || !poll) {
      if (!poll) setStatus("reconnecting");
      return;
    }
    setStatus("polling");
    if (polling) return;
    polling = true;
    void pollOnce();
  };

  const stopPolling = () => {
    polling = false;
    clearTimer(pollTimer);
    pollTimer = null;
    pollAbort?.abort();
    pollAbort = null;
  };

  const pollOnce = async () => {
    if (!polling || closed || !poll) return;
    pollAbort = new AbortController();
    const signal = pollAbort.signal;
    try {
      // Catch up page by page (bounded so one tick never runs away).
      for (let page = 0; page < 10; page += 1) {
        const answer = await poll(lastSeq, signal);
        if (!polling || closed) return;
        deliver(answer.items);
        if (typeof answer.next_after === "number") lastSeq = Math.max(lastSeq, answer.next_after);
        if (answer.items.length < pollPageSize) break;
      }
    } catch (error) {
      if (signal.aborted) return;
      if (isUnauthorized(error)) {
        stopPolling();
        setStatus("unauthorized");
        return;
      }
    }
    if (polling && !closed) pollTimer = timers.setTimeout(() => void pollOnce(), pollIntervalMs);
  };

  connect();

  return {
    close: () => {
      closed = true;
      stopPolling();
      clearTimer(reconnectTimer);
      clearTimer(socketRetryTimer);
      clearTimer(batchTimer);
      flush();
      const ws = socket;
      socket = null;
      if (ws && (ws.readyState === 0 || ws.readyState === 1)) ws.close(1000, "client closed");
      setStatus("closed");
    },
    status: () => status,
    lastSeq: () => lastSeq,
  };
}

function isUnauthorized(error: unknown): boolean {
  return !!error && typeof error === "object" && "status" in error && (error as { status: unknown }).status === 401;
}
