import { afterEach, describe, expect, it } from "vitest";
import { Metrics } from "../../src/shared/metrics.js";
import { DeliveryEntity } from "../../src/delivery/delivery.entity.js";
import { HookEntity } from "../../src/hooks/hook.entity.js";
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

  it("moves under load: queue depth and lag rise then drain, latency buckets fill, outcomes and hook statuses follow", async () => {
    // Four delivery slots, so that a slow receiver keeps work queued; one retry after 50 ms; a
    // hook failing for 1 s is disabled.
    const { t, r } = await setup({ HOOKCAST_RETRY_SCHEDULE: "50ms", HOOKCAST_DISABLE_AFTER: "1s", HOOKCAST_DELIVERY_CONCURRENCY: "4" });
    let slow = true;
    let delayed = 0;
    const SLOW_MS = 150;
    r.answer = (req) => {
      if (req.path === "/flaky") return { status: 500, body: "down" };
      if (req.path === "/gone") return { status: 410 };
      if (!slow) return { status: 204 };
      delayed++;
      return { status: 204, delayMs: SLOW_MS };
    };
    const steady = await createHook(t, `${r.url}/steady`);
    const flaky = await createHook(t, `${r.url}/flaky`);
    const gone = await createHook(t, `${r.url}/gone`);
    const paused = await createHook(t, `${r.url}/paused`);
    await t.ok(`mutation($id: ID!) { pauseHook(id: $id) { status } }`, { id: paused });
    r.handshake = "fail";
    const unverified = (await t.ok(`mutation($url: String!) { createHook(input: { url: $url }) { hook { id status } } }`, { url: `${r.url}/unverified` })).createHook.hook;
    expect(unverified.status).toBe("PENDING_VERIFICATION");
    r.handshake = "echo";
    const createContacts = async (count: number, from: number) => {
      for (let i = 0; i < count; i += 30) {
        const fields = Array.from({ length: Math.min(30, count - i) }, (_, j) => `c${j}: createContact(input: { email: "load${from + i + j}@example.com" }) { id }`);
        await t.ok(`mutation { ${fields.join(" ")} }`);
      }
    };

    const before = await scrape(t.url);
    expect(valueOf(before, "hookcast_delivery_attempt_duration_seconds_bucket", { le: "+Inf" }) ?? 0).toBe(0);
    expect(valueOf(before, "hookcast_hooks", { status: "ACTIVE" })).toBe(3);
    expect(valueOf(before, "hookcast_hooks", { status: "PAUSED" })).toBe(1);
    expect(valueOf(before, "hookcast_hooks", { status: "PENDING_VERIFICATION" })).toBe(1);
    expect(valueOf(before, "hookcast_hooks", { status: "DISABLED" })).toBe(0);

    // One contact first: the flaky hook's delivery fails, is retried 50 ms later, fails and is
    // dead, well before the hook has failed for the 1 s that disables it.
    await createContacts(1, 0);
    const first = await waitFor(async () => {
      const s = await scrape(t.url);
      return (valueOf(s, "hookcast_deliveries_total", { outcome: "dead" }) ?? 0) >= 1 ? s : null;
    }, { message: "the flaky hook's first delivery dead" });
    expect(valueOf(first, "hookcast_deliveries_total", { outcome: "retry" })).toBeGreaterThanOrEqual(1);
    expect(valueOf(first, "hookcast_deliveries_total", { outcome: "gone" })).toBe(1);
    expect(valueOf(first, "hookcast_hooks", { status: "ACTIVE" })).toBe(2);
    expect(valueOf(first, "hookcast_hooks", { status: "DISABLED" })).toBe(0);

    // The burst: 300 contacts, each to the steady (slow for now), flaky and paused hooks.
    const contacts = 300;
    await createContacts(contacts, 1);
    const during = await waitFor(async () => {
      const s = await scrape(t.url);
      return (valueOf(s, "hookcast_delivery_queue_depth", { state: "due" }) ?? 0) > 0 && (valueOf(s, "hookcast_delivery_lag_seconds") ?? 0) > 0 ? s : null;
    }, { message: "work queued behind the slow receiver" });
    expect(valueOf(during, "hookcast_delivery_queue_depth", { state: "parked" })).toBeGreaterThan(0);
    expect(valueOf(during, "hookcast_events_appended_total", { type: "contact.created" })).toBe(contacts + 1);
    // Still failing after 1 s: the flaky hook is disabled.
    const disabled = await waitFor(async () => {
      const s = await scrape(t.url);
      return valueOf(s, "hookcast_hooks", { status: "DISABLED" }) === 1 ? s : null;
    }, { message: "flaky hook disabled" });
    expect(valueOf(disabled, "hookcast_hooks", { status: "ACTIVE" })).toBe(1);

    // The receiver recovers: the fan-out and the queue drain, lag back to 0.
    slow = false;
    const drained = (s: Awaited<ReturnType<typeof scrape>>) =>
      valueOf(s, "hookcast_fanout_backlog") === 0 && valueOf(s, "hookcast_delivery_queue_depth", { state: "due" }) === 0 && valueOf(s, "hookcast_delivery_queue_depth", { state: "waiting" }) === 0;
    await waitFor(async () => drained(await scrape(t.url)), { timeoutMs: 30_000, message: "queue drained" });
    // A scrape reads its counters as it starts and the database gauges a moment later, so the
    // one that saw the queue empty may predate the last outcomes' counts: read the next one.
    const after = await scrape(t.url);
    expect(drained(after)).toBe(true);
    expect(valueOf(after, "hookcast_fanout_lag_seconds")).toBe(0);
    expect(valueOf(after, "hookcast_delivery_lag_seconds")).toBe(0);
    // Every contact, and the system's hook.deleted (410) and hook.disabled, went to the steady hook.
    expect(valueOf(after, "hookcast_events_appended_total", { type: "hook.deleted" })).toBe(1);
    expect(valueOf(after, "hookcast_events_appended_total", { type: "hook.disabled" })).toBe(1);
    const events = contacts + 1 + 2;
    expect(valueOf(after, "hookcast_events_appended_total")).toBe(events);
    const steadyStats = (await t.ok(`query($id: ID!) { hook(id: $id) { stats { delivered pending } } }`, { id: steady })).hook.stats;
    expect(steadyStats).toEqual({ delivered: events, pending: 0 });
    // Parked: every delivery of the paused hook, and the flaky hook's once it was disabled.
    const flakyStats = (await t.ok(`query($id: ID!) { hook(id: $id) { stats { pending failed } } }`, { id: flaky })).hook.stats;
    const flakyQueued = flakyStats.pending + flakyStats.failed;
    expect(flakyQueued).toBeGreaterThan(0);
    expect(valueOf(after, "hookcast_delivery_queue_depth", { state: "parked" })).toBe(events + flakyQueued);

    // Outcomes: delivered to the steady hook; retry, dead and parked from the flaky one; the
    // gone hook's 410 (it was deleted at once, so it answered once).
    expect(valueOf(after, "hookcast_deliveries_total", { outcome: "delivered" })).toBe(events);
    expect(valueOf(after, "hookcast_deliveries_total", { outcome: "retry" })).toBeGreaterThan(valueOf(first, "hookcast_deliveries_total", { outcome: "retry" })!);
    expect(valueOf(after, "hookcast_deliveries_total", { outcome: "dead" })).toBeGreaterThanOrEqual(1);
    expect(valueOf(after, "hookcast_deliveries_total", { outcome: "gone" })).toBe(1);
    expect(r.webhooks.filter((w) => w.path === "/gone")).toHaveLength(1);
    expect(valueOf(after, "hookcast_hooks", { status: "ACTIVE" })).toBe(1);
    expect(valueOf(after, "hookcast_hooks", { status: "DISABLED" })).toBe(1);
    expect(valueOf(after, "hookcast_hooks", { status: "PAUSED" })).toBe(1);
    expect(valueOf(after, "hookcast_hooks", { status: "PENDING_VERIFICATION" })).toBe(1);

    // Latency: every attempt is in the histogram; the slow answers (>= 150 ms) above the 0.1 s
    // bucket, the fast ones in it; every bucket count grew from the mid-load scrape.
    const attempts = r.webhooks.length;
    const bucket = (s: typeof after, le: string, status_class?: string) => valueOf(s, "hookcast_delivery_attempt_duration_seconds_bucket", status_class ? { le, status_class } : { le }) ?? 0;
    expect(bucket(after, "+Inf")).toBe(attempts);
    expect(valueOf(after, "hookcast_delivery_attempt_duration_seconds_count")).toBe(attempts);
    expect(delayed).toBeGreaterThan(0);
    expect(bucket(after, "+Inf", "2xx") - bucket(after, "0.1", "2xx")).toBeGreaterThanOrEqual(delayed);
    expect(bucket(after, "0.1", "2xx")).toBeGreaterThan(0);
    expect(bucket(after, "+Inf", "5xx")).toBe(r.webhooks.filter((w) => w.path === "/flaky").length);
    for (const le of ["0.25", "0.5", "+Inf"]) expect(bucket(after, le), le).toBeGreaterThan(bucket(during, le));
  }, 90_000);

  it("counts a claimed delivery whose hook is gone as cancelled", async () => {
    const { t, r } = await setup();
    const hook = await createHook(t, `${r.url}/gone-meanwhile`);
    await t.ok(`mutation($id: ID!) { pauseHook(id: $id) { status } }`, { id: hook });
    await t.ok(`mutation { createContact(input: { email: "cancel@example.com" }) { id } }`);
    await waitFor(async () => valueOf(await scrape(t.url), "hookcast_delivery_queue_depth", { state: "parked" }) === 1, { message: "delivery parked" });
    // The hook vanishes between a claim and the send (here: deleted behind the API's back, its
    // parked delivery made due), so the worker finds no hook for the row it claimed.
    const db = t.app.deps.db;
    await db.write((m) => m.update(HookEntity, { id: hook }, { deletedAt: new Date() }));
    await db.write((m) => m.update(DeliveryEntity, { hookId: hook }, { availableAt: new Date(0) }));
    await waitFor(async () => valueOf(await scrape(t.url), "hookcast_deliveries_total", { outcome: "cancelled" }) === 1, { message: "cancelled counted" });
    const rows = await db.read((m) => m.find(DeliveryEntity, { where: { hookId: hook } }));
    expect(rows.map((d) => [d.status, d.queued])).toEqual([["CANCELLED", false]]);
    expect(r.webhooks.filter((w) => w.path === "/gone-meanwhile")).toEqual([]);
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
    // No worker fans these out: they wait in the fan-out's backlog.
    const changes = 3;
    for (let i = 0; i < changes; i++) await t.ok(`mutation($email: String!) { createContact(input: { email: $email }) { id } }`, { email: `backlog${i}@example.com` });
    const samples = await waitFor(async () => {
      const s = await scrape(t.url);
      return (valueOf(s, "hookcast_delivery_lag_seconds") ?? 0) > 0 && (valueOf(s, "hookcast_fanout_lag_seconds") ?? 0) > 0 ? s : null;
    });
    expect(valueOf(samples, "hookcast_delivery_queue_depth", { state: "due" })).toBe(2);
    expect(valueOf(samples, "hookcast_fanout_backlog")).toBe(changes);
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

    // A worker process on the same database fans the backlog out and the gauges fall to 0.
    const worker = await startTestApp(driver, { databaseUrl: t.databaseUrl, env: { HOOKCAST_ROLE: "worker" } });
    cleanups.push(() => worker.stop());
    const fannedOut = await waitFor(async () => {
      const s = await scrape(t.url);
      return valueOf(s, "hookcast_fanout_backlog") === 0 ? s : null;
    }, { message: "backlog fanned out" });
    expect(valueOf(fannedOut, "hookcast_fanout_lag_seconds")).toBe(0);
    // Paused hook b matched the contacts and the hook.deleted: its deliveries are parked.
    expect(valueOf(fannedOut, "hookcast_delivery_queue_depth", { state: "parked" })).toBe(changes + 1);
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
