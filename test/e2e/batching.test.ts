/**
 * Batching (issue 6, item 4) end to end on both drivers: a real receiver, the in-process worker,
 * and a manual clock for the time trigger and the retry, so nothing depends on timing.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { ManualClock } from "../../src/shared/clock.js";
import { DRIVERS } from "../helpers/db.js";
import { startTestApp, waitFor, type TestApp } from "../helpers/app.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";

const HOOK_FIELDS = "id status ordering batch { maxSize maxWaitMs }";

describe.each(DRIVERS)("batching on %s", (driver) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  async function setup(env: Record<string, string> = {}, clock = new ManualClock()): Promise<{ t: TestApp; r: Receiver; clock: ManualClock }> {
    const r = await startReceiver();
    cleanups.push(() => r.stop());
    const t = await startTestApp(driver, { env: { HOOKCAST_RETRY_SCHEDULE: "1m,1m,1m", ...env }, overrides: { clock } });
    cleanups.push(() => t.stop());
    return { t, r, clock };
  }

  async function createHook(t: TestApp, input: Record<string, unknown>) {
    const data = await t.ok(`mutation($input: CreateHookInput!) { createHook(input: $input) { secret hook { ${HOOK_FIELDS} } } }`, { input });
    return data.createHook as { secret: string; hook: any };
  }

  async function newContact(t: TestApp, email: string): Promise<string> {
    return (await t.ok(`mutation($email: String!) { createContact(input: { email: $email }) { id } }`, { email })).createContact.id;
  }

  async function deliveries(t: TestApp, hookId: string) {
    const data = await t.ok(
      `query($hookId: ID!) { deliveries(hookId: $hookId, first: 100) { edges { node { id status batchId attemptCount nextAttemptAt lastStatusCode
        attempts { attemptNumber statusCode } event { id sequence } } } } }`,
      { hookId },
    );
    return (data.deliveries.edges.map((e: any) => e.node) as any[]).sort((a, b) => a.event.sequence - b.event.sequence);
  }

  async function allEvents(t: TestApp) {
    const data = await t.ok(`{ events(first: 100) { edges { node { id type source sequence occurredAt cursor data } } } }`);
    return data.events.edges.map((e: any) => e.node) as any[];
  }

  it("sends a batch when maxSize deliveries are due, the rest when the oldest has waited maxWaitMs", async () => {
    const { t, r, clock } = await setup();
    const { hook, secret } = await createHook(t, { url: `${r.url}/batch`, events: ["contact.created"], batch: { maxSize: 3, maxWaitMs: 60_000 } });
    expect(hook).toMatchObject({ status: "ACTIVE", ordering: "NONE", batch: { maxSize: 3, maxWaitMs: 60_000 } });
    // An unbatched hook on the same events tells when the worker has seen them all.
    await createHook(t, { url: `${r.url}/single`, events: ["contact.created"] });

    for (let i = 0; i < 7; i++) await newContact(t, `b${i}@example.com`);
    await waitFor(() => r.webhooks.filter((w) => w.path === "/single").length === 7);
    await waitFor(() => r.webhooks.filter((w) => w.path === "/batch").length === 2);
    const events = await allEvents(t);
    const bySeq = new Map(events.map((e) => [e.sequence, e]));

    // Two full batches, in sequence order; the seventh waits (the clock stands still).
    const batches = r.webhooks.filter((w) => w.path === "/batch");
    expect(batches.map((w) => w.json.batch.map((e: any) => e.sequence))).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    for (const w of batches) {
      // One signature over the whole body, by the standardwebhooks package; one webhook-id: the batch id.
      const verified = new Webhook(secret).verify(w.body, w.headers as Record<string, string>) as any;
      expect(Object.keys(verified)).toEqual(["batch"]);
      expect(w.headers["webhook-id"]).toMatch(/^bat_/);
      // Each element is the envelope a single delivery carries.
      for (const envelope of verified.batch) {
        const single = r.webhooks.find((x) => x.path === "/single" && x.json.sequence === envelope.sequence)!;
        expect(envelope).toEqual(single.json);
        expect(envelope.id).toBe(bySeq.get(envelope.sequence).id);
      }
    }
    expect(new Set(batches.map((w) => w.headers["webhook-id"])).size).toBe(2);

    // Each event's delivery is recorded on its own, with the batch it went in.
    let rows = await deliveries(t, hook.id);
    expect(rows.map((d) => [d.event.sequence, d.status])).toEqual([
      [1, "DELIVERED"],
      [2, "DELIVERED"],
      [3, "DELIVERED"],
      [4, "DELIVERED"],
      [5, "DELIVERED"],
      [6, "DELIVERED"],
      [7, "PENDING"],
    ]);
    expect(rows.slice(0, 3).map((d) => d.batchId)).toEqual(Array(3).fill(batches[0].headers["webhook-id"]));
    expect(rows.slice(3, 6).map((d) => d.batchId)).toEqual(Array(3).fill(batches[1].headers["webhook-id"]));
    expect(rows[6].batchId).toBeNull();
    for (const d of rows.slice(0, 6)) expect(d.attempts.map((a: any) => a.statusCode)).toEqual([204]);
    // A batch counts once in the hook's health; every delivery counts in its stats.
    const stats = (await t.ok(`query($id: ID!) { hook(id: $id) { stats { delivered pending } } }`, { id: hook.id })).hook.stats;
    expect(stats).toEqual({ delivered: 6, pending: 1 });

    // Time: once the oldest due delivery has waited maxWaitMs, a partial batch goes.
    clock.advance(59_000);
    await newContact(t, "b7@example.com");
    await waitFor(() => r.webhooks.filter((w) => w.path === "/single").length === 8);
    expect(r.webhooks.filter((w) => w.path === "/batch")).toHaveLength(2);
    clock.advance(1_000);
    await waitFor(() => r.webhooks.filter((w) => w.path === "/batch").length === 3);
    expect(r.webhooks.filter((w) => w.path === "/batch")[2].json.batch.map((e: any) => e.sequence)).toEqual([7, 8]);
    rows = await waitFor(async () => {
      const list = await deliveries(t, hook.id);
      return list.every((d) => d.status === "DELIVERED") ? list : null;
    });
    expect(rows.slice(6).map((d) => d.batchId)).toEqual(Array(2).fill(r.webhooks.filter((w) => w.path === "/batch")[2].headers["webhook-id"]));
  });

  it("retries a failed batch as a unit: same members, same webhook-id, one shared next attempt", async () => {
    const { t, r, clock } = await setup();
    r.answer = (req) => (req.path === "/batch" && r.webhooks.filter((w) => w.path === "/batch").length === 1 ? { status: 503, body: "busy" } : { status: 200 });
    const { hook } = await createHook(t, { url: `${r.url}/batch`, events: ["contact.created"], batch: { maxSize: 3, maxWaitMs: 3_600_000 } });
    for (let i = 0; i < 3; i++) await newContact(t, `f${i}@example.com`);

    // The failed batch: every member FAILED with the same next attempt, an attempt each.
    const failed = await waitFor(async () => {
      const list = await deliveries(t, hook.id);
      return list.length === 3 && list.every((d) => d.status === "FAILED") ? list : null;
    });
    const first = r.webhooks.filter((w) => w.path === "/batch");
    expect(first).toHaveLength(1);
    expect(new Set(failed.map((d) => d.nextAttemptAt)).size).toBe(1);
    expect(new Set(failed.map((d) => d.batchId))).toEqual(new Set([first[0].headers["webhook-id"]]));
    for (const d of failed) expect(d).toMatchObject({ attemptCount: 1, lastStatusCode: 503, attempts: [{ attemptNumber: 1, statusCode: 503 }] });
    const failing = (await t.ok(`query($id: ID!) { hook(id: $id) { stats { failed consecutiveFailures } } }`, { id: hook.id })).hook.stats;
    expect(failing).toEqual({ failed: 3, consecutiveFailures: 1 });

    // Meanwhile a new event is not slipped into the sealed batch.
    await newContact(t, "f3@example.com");
    clock.advance(2 * 60_000);
    await waitFor(() => r.webhooks.filter((w) => w.path === "/batch").length === 2);
    const [a, b] = r.webhooks.filter((w) => w.path === "/batch");
    expect(b.headers["webhook-id"]).toBe(a.headers["webhook-id"]);
    expect(b.body).toBe(a.body);
    const delivered = await waitFor(async () => {
      const list = await deliveries(t, hook.id);
      return list.slice(0, 3).every((d) => d.status === "DELIVERED") ? list : null;
    });
    for (const d of delivered.slice(0, 3)) {
      expect(d).toMatchObject({ attemptCount: 2, batchId: a.headers["webhook-id"] });
      expect(d.attempts.map((x: any) => x.statusCode)).toEqual([503, 200]);
    }
    expect(delivered[3]).toMatchObject({ status: "PENDING", batchId: null });

    // redeliver takes a member out of its batch: it goes in a new batch with a new webhook-id.
    await t.ok(`mutation($id: ID!) { redeliver(deliveryId: $id) { id } }`, { id: delivered[0].id });
    clock.advance(3_600_000);
    await waitFor(() => r.webhooks.filter((w) => w.path === "/batch").length === 3);
    const third = r.webhooks.filter((w) => w.path === "/batch")[2];
    expect(third.headers["webhook-id"]).not.toBe(a.headers["webhook-id"]);
    expect(third.json.batch.map((e: any) => e.sequence)).toEqual([1, 4]);
  });

  it("validates batch and ordering settings with stable codes; updateHook changes them", async () => {
    const { t, r } = await setup();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ maxSize: 0 }, "input.batch.maxSize"],
      [{ maxSize: 1001 }, "input.batch.maxSize"],
      [{ maxSize: 10, maxWaitMs: -1 }, "input.batch.maxWaitMs"],
      [{ maxSize: 10, maxWaitMs: 3_600_001 }, "input.batch.maxWaitMs"],
    ];
    for (const [batch, field] of cases) {
      const res = await t.gql(`mutation($input: CreateHookInput!) { createHook(input: $input) { hook { id } } }`, { input: { url: `${r.url}/x`, batch } });
      expect(res.errors?.[0].extensions, JSON.stringify(batch)).toMatchObject({ code: "BAD_USER_INPUT", field });
    }
    const badEnum = await t.gql(`mutation($input: CreateHookInput!) { createHook(input: $input) { hook { id } } }`, { input: { url: `${r.url}/x`, ordering: "SOMETIMES" } });
    expect(badEnum.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect((await t.ok(`{ hooks { id } }`)).hooks).toHaveLength(0);

    const { hook } = await createHook(t, { url: `${r.url}/x`, ordering: "PER_CONTACT", batch: { maxSize: 1000 } });
    expect(hook).toMatchObject({ ordering: "PER_CONTACT", batch: { maxSize: 1000, maxWaitMs: 1000 } });
    const updated = await t.ok(`mutation($id: ID!) { updateHook(id: $id, input: { ordering: STRICT, batch: null }) { ${HOOK_FIELDS} } }`, { id: hook.id });
    expect(updated.updateHook).toMatchObject({ ordering: "STRICT", batch: null });
    const bad = await t.gql(`mutation($id: ID!) { updateHook(id: $id, input: { batch: { maxSize: 5000 } }) { id } }`, { id: hook.id });
    expect(bad.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.batch.maxSize" });
    const listed = (await t.ok(`{ hooks { ${HOOK_FIELDS} } }`)).hooks;
    expect(listed).toEqual([{ id: hook.id, status: "ACTIVE", ordering: "STRICT", batch: null }]);
  });
});
