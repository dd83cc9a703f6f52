import { afterEach, describe, expect, it } from "vitest";
import { Metrics } from "../../src/shared/metrics.js";
import { DRIVERS } from "../helpers/db.js";
import { startTestApp, waitFor, type TestApp } from "../helpers/app.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";
import { scrape, valueOf } from "../helpers/prometheus.js";
import { collect, disposeLiveClients, liveClient } from "../helpers/live.js";

describe.each(DRIVERS)("/metrics on %s", (driver) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await disposeLiveClients();
    while (cleanups.length) await cleanups.pop()!();
  });

  async function setup(env: Record<string, string> = {}): Promise<{ t: TestApp; r: Receiver }> {
    const r = await startReceiver();
    cleanups.push(() => r.stop());
    const t = await startTestApp(driver, { env: { HOOKCAST_RETRY_SCHEDULE: "50ms,50ms", ...env } });
    cleanups.push(() => t.stop());
    return { t, r };
  }

  const createHook = async (t: TestApp, url: string) =>
    (await t.ok(`mutation($url: String!) { createHook(input: { url: $url }) { hook { id status } } }`, { url })).createHook.hook.id as string;

  it("counts events, delivery outcomes, attempt latency and HTTP requests as load runs", async () => {
    const { t, r } = await setup();
    const before = await scrape(t.url);
    for (const name of [
      "hookcast_events_appended_total",
      "hookcast_deliveries_total",
      "hookcast_delivery_attempt_duration_seconds_count",
      "hookcast_http_request_duration_seconds_count",
    ]) {
      expect(valueOf(before, name) ?? 0, name).toBe(0);
    }
    expect(valueOf(before, "hookcast_live_subscriptions")).toBe(0);
    expect(valueOf(before, "hookcast_hooks", { status: "ACTIVE" })).toBe(0);
    expect(valueOf(before, "hookcast_delivery_queue_depth", { state: "due" })).toBe(0);
    expect(valueOf(before, "hookcast_delivery_lag_seconds")).toBe(0);
    expect(valueOf(before, "hookcast_worker_last_tick_age_seconds")).toBeGreaterThanOrEqual(0);
    expect(valueOf(before, "hookcast_process_resident_memory_bytes")).toBeGreaterThan(0);

    // The first webhook fails once (500), then everything succeeds: one retry, N delivered.
    r.answer = (_req, index) => (index === 0 ? { status: 500, body: "boom" } : { status: 204 });
    await createHook(t, `${r.url}/a`);
    const contacts = 6;
    for (let i = 0; i < contacts; i++) await t.ok(`mutation($email: String!) { createContact(input: { email: $email }) { id } }`, { email: `m${i}@example.com` });
    await waitFor(async () => valueOf(await scrape(t.url), "hookcast_deliveries_total", { outcome: "delivered" }) === contacts, { message: "all delivered" });

    const after = await scrape(t.url);
    expect(valueOf(after, "hookcast_events_appended_total", { type: "contact.created" })).toBe(contacts);
    expect(valueOf(after, "hookcast_events_appended_total")).toBe(contacts);
    expect(valueOf(after, "hookcast_deliveries_total", { outcome: "retry" })).toBe(1);
    expect(valueOf(after, "hookcast_deliveries_total", { outcome: "delivered" })).toBe(contacts);
    expect(valueOf(after, "hookcast_delivery_attempt_duration_seconds_count")).toBe(contacts + 1);
    expect(valueOf(after, "hookcast_delivery_attempt_duration_seconds_count", { status_class: "5xx" })).toBe(1);
    expect(valueOf(after, "hookcast_delivery_attempt_duration_seconds_sum")).toBeGreaterThan(0);
    // Every mutation above, plus the scrapes so far, went through the HTTP histogram.
    expect(valueOf(after, "hookcast_http_request_duration_seconds_count", { route: "/graphql", method: "POST", status: "200" })).toBeGreaterThanOrEqual(contacts + 1);
    expect(valueOf(after, "hookcast_http_request_duration_seconds_count", { route: "/metrics" })).toBeGreaterThanOrEqual(1);
    expect(valueOf(after, "hookcast_hooks", { status: "ACTIVE" })).toBe(1);
    expect(valueOf(after, "hookcast_delivery_queue_depth", { state: "due" })).toBe(0);
  });

  it("counts open graphql-ws subscriptions", async () => {
    const { t } = await setup();
    const live = liveClient(t.url, t.apiKey);
    const one = collect(live, `subscription { events { id } }`);
    const two = collect(live, `subscription { events(types: ["contact.created"]) { id } }`);
    await waitFor(async () => valueOf(await scrape(t.url), "hookcast_live_subscriptions") === 2, { message: "two subscriptions" });
    await t.ok(`mutation { createContact(input: { email: "live@example.com" }) { id } }`);
    await waitFor(() => one.items.length === 1 && two.items.length === 1);
    one.stop();
    await waitFor(async () => valueOf(await scrape(t.url), "hookcast_live_subscriptions") === 1, { message: "one left" });
    await live.dispose();
    await waitFor(async () => valueOf(await scrape(t.url), "hookcast_live_subscriptions") === 0, { message: "none left" });
  });

  it("reads queue depth, lag and hooks by status from the database on each scrape", async () => {
    // An API-only process: pings queue deliveries that no worker sends, so they stay due.
    const { t, r } = await setup({ HOOKCAST_ROLE: "api" });
    const a = await createHook(t, `${r.url}/a`);
    const b = await createHook(t, `${r.url}/b`);
    await t.ok(`mutation($id: ID!) { pauseHook(id: $id) { status } }`, { id: b });
    await t.ok(`mutation($id: ID!) { pingHook(id: $id) { id } }`, { id: a });
    await t.ok(`mutation($id: ID!) { pingHook(id: $id) { id } }`, { id: a });
    const samples = await waitFor(async () => {
      const s = await scrape(t.url);
      return (valueOf(s, "hookcast_delivery_lag_seconds") ?? 0) > 0 ? s : null;
    });
    expect(valueOf(samples, "hookcast_delivery_queue_depth", { state: "due" })).toBe(2);
    expect(valueOf(samples, "hookcast_hooks", { status: "ACTIVE" })).toBe(1);
    expect(valueOf(samples, "hookcast_hooks", { status: "PAUSED" })).toBe(1);
    expect(valueOf(samples, "hookcast_events_appended_total", { type: "hook.ping" })).toBe(2);
    // No worker in this process: no tick-age series.
    expect(valueOf(samples, "hookcast_worker_last_tick_age_seconds")).toBeUndefined();

    await t.ok(`mutation($id: ID!) { deleteHook(id: $id) }`, { id: a });
    const later = await scrape(t.url);
    expect(valueOf(later, "hookcast_delivery_queue_depth", { state: "due" })).toBe(0);
    expect(valueOf(later, "hookcast_delivery_lag_seconds")).toBe(0);
    expect(valueOf(later, "hookcast_hooks", { status: "ACTIVE" })).toBe(0);
    expect(valueOf(later, "hookcast_events_appended_total", { type: "hook.deleted" })).toBe(1);
  });
});

describe("Metrics registry", () => {
  it("is per instance: two instances count apart, and the live-subscription gauge follows its setter", async () => {
    const one = new Metrics({ processMetrics: false });
    const two = new Metrics({ processMetrics: false });
    one.eventsCommitted([{ type: "contact.created" }, { type: "contact.created" }]);
    one.subscriptionOpened();
    one.subscriptionOpened();
    one.subscriptionClosed();
    two.setLiveSubscriptions(7);
    const text = (await one.render()).body;
    expect(text).toContain('hookcast_events_appended_total{type="contact.created"} 2');
    expect(text).toContain("hookcast_live_subscriptions 1");
    expect((await two.render()).body).toContain("hookcast_live_subscriptions 7");
    expect((await two.render()).body).not.toContain("contact.created");
  });
});
