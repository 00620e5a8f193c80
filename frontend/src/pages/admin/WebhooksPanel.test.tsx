import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import { fakeApi, renderAt, Reply, type FakeRequest } from "../../components/builder/testApi";
import { parseHeaders, WebhooksPanel } from "./WebhooksPanel";

const HOOK = "77777777-7777-7777-7777-777777777777";
const DELIVERY = "dddddddd-dddd-dddd-dddd-dddddddddddd";

const hook = {
  id: HOOK,
  event_type: "*",
  url: "https://ci.example.com/hook",
  header_names: ["Authorization"],
  is_active: true,
  created_at: "2026-12-01T10:00:00Z",
  has_secret: true,
};

const retried = {
  id: DELIVERY,
  webhook_id: HOOK,
  event_id: "evt_12",
  event_type: "experiment.completed",
  attempt: 3,
  status_code: 200,
  duration_ms: 41,
  error: null,
  created_at: "2026-12-01T10:01:00Z",
  next_attempt_at: null,
  delivered: true,
  attempts: [
    { attempt: 1, at: "2026-12-01T10:01:00Z", status_code: 500, duration_ms: 12, error: "HTTP 500" },
    { attempt: 2, at: "2026-12-01T10:01:30Z", status_code: 500, duration_ms: 11, error: "HTTP 500" },
    { attempt: 3, at: "2026-12-01T10:02:30Z", status_code: 200, duration_ms: 41, error: null },
  ],
};

const ping = { ...retried, id: "eeeeeeee-0000-0000-0000-000000000001", event_id: "ping_1", event_type: "ping", attempt: 1, attempts: [] };

function api() {
  let hooks: (typeof hook)[] = [];
  let deliveries = [retried];
  return fakeApi({
    "GET /api/v1/webhooks": () => ({ items: hooks, total: hooks.length, limit: 500, offset: 0 }),
    "POST /api/v1/webhooks": (request: FakeRequest) => {
      const body = request.body as { url: string; headers: Record<string, string> };
      if (!body.url.startsWith("https://")) return new Reply(422, { detail: "bad url", code: "validation_error" });
      hooks = [{ ...hook, url: body.url, header_names: Object.keys(body.headers) }];
      return { ...hooks[0], secret: "whsec_first_secret" };
    },
    "POST /api/v1/webhooks/:id/rotate-secret": () => ({ ...hooks[0], secret: "whsec_rotated_secret" }),
    "POST /api/v1/webhooks/:id/test": () => {
      deliveries = [ping, ...deliveries];
      return ping;
    },
    "GET /api/v1/webhooks/:id/deliveries": () => ({ items: deliveries, total: deliveries.length, limit: 20, offset: 0 }),
  });
}

afterEach(() => vi.unstubAllGlobals());

describe("parseHeaders", () => {
  it("reads Name: value lines and names a bad line", () => {
    expect(parseHeaders("Authorization: Bearer x\n\nX-Team: a:b")).toEqual({ Authorization: "Bearer x", "X-Team": "a:b" });
    expect(parseHeaders("ok: 1\nnot a header")).toBe("Line 2: write “Name: value”.");
  });
});

describe("Admin › Webhooks", { timeout: 30_000 }, () => {
  it("shows the secret once, sends a test, shows the delivery log with attempts, and rotates", async () => {
    const user = userEvent.setup();
    const calls = api();
    renderAt(<WebhooksPanel />, "/admin", "/admin?tab=webhooks");
    expect(await screen.findByText("No webhooks")).toBeInTheDocument();

    await user.type(screen.getByTestId("webhook-url"), "https://ci.example.com/hook");
    await user.type(screen.getByTestId("webhook-headers"), "Authorization: Bearer receiver");
    await user.click(screen.getByTestId("webhook-create"));
    expect(await screen.findByTestId("webhook-secret-value")).toHaveTextContent("whsec_first_secret");
    const created = calls.find((c) => c.method === "POST" && c.path === "/api/v1/webhooks");
    expect(created?.body).toEqual({ event_type: "*", url: "https://ci.example.com/hook", headers: { Authorization: "Bearer receiver" }, is_active: true });
    const row = await screen.findByTestId("webhook-row");
    expect(row).toHaveTextContent("Authorization");
    expect(row).not.toHaveTextContent("receiver");

    await user.click(screen.getByRole("button", { name: "Done" }));
    expect(screen.queryByTestId("webhook-secret")).toBeNull();
    expect(screen.queryByText(/whsec_first_secret/)).toBeNull();

    const log = await screen.findByTestId("delivery-log");
    const first = within(log).getByTestId("delivery-row");
    expect(first).toHaveTextContent("experiment.completed");
    expect(first).toHaveTextContent("delivered");
    await user.click(within(first).getByRole("button", { name: "experiment.completed" }));
    const attempts = within(log).getByTestId("delivery-attempts");
    expect(within(attempts).getAllByRole("listitem")).toHaveLength(3);
    expect(attempts).toHaveTextContent("HTTP 500");
    expect(log).toHaveTextContent("the same on every retry");

    await user.click(screen.getByTestId("webhook-test"));
    expect(await screen.findByTestId("webhook-test-result")).toHaveTextContent("HTTP 200");
    expect(await within(screen.getByTestId("delivery-log")).findByRole("button", { name: "ping" })).toBeInTheDocument();

    await user.click(screen.getByTestId("webhook-rotate"));
    await user.click(await screen.findByTestId("webhook-rotate-confirm"));
    expect(await screen.findByTestId("webhook-secret-value")).toHaveTextContent("whsec_rotated_secret");
    expect(calls.some((c) => c.path === `/api/v1/webhooks/${HOOK}/rotate-secret`)).toBe(true);
  });

  it("refuses a malformed header line before sending anything", async () => {
    const user = userEvent.setup();
    const calls = api();
    renderAt(<WebhooksPanel />, "/admin", "/admin");
    await screen.findByText("No webhooks");
    await user.type(screen.getByTestId("webhook-url"), "https://x.example.com/h");
    await user.type(screen.getByTestId("webhook-headers"), "no colon here");
    await user.click(screen.getByTestId("webhook-create"));
    expect(await screen.findByText("Line 1: write “Name: value”.")).toBeInTheDocument();
    expect(calls.some((c) => c.method === "POST")).toBe(false);
  });
});
