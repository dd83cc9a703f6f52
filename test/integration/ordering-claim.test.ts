/**
 * The claims of ordered and batched deliveries, straight on the database (both drivers): the
 * ordering gate (head of key only, fan-out gate), and concurrent claims on MySQL that must never
 * take two rows of one key or split a batch.
 */
import { In } from "typeorm";
import { afterEach, describe, expect, it } from "vitest";
import { claimBatches, claimDue, DeliveryEntity, fanOutBatch, insertDeliveries, newDelivery } from "../../src/delivery/index.js";
import { recordOutcomes } from "../../src/delivery/record-outcomes.js";
import { EventEntity } from "../../src/events/event.entity.js";
import { HookEntity } from "../../src/hooks/hook.entity.js";
import type { Db } from "../../src/db/index.js";
import { DRIVERS, openTestDb } from "../helpers/db.js";
import { insertEventRows, insertHookRow } from "../helpers/rows.js";

const T0 = new Date("2026-05-01T00:00:00.000Z");
const LATER = new Date("2026-05-01T00:00:01.000Z");

/** Events of `contacts` in acc_1's log from sequence `from` (see `insertEventRows`). */
function addEvents(db: Db, contacts: string[], fanoutPending = false, from = 1): Promise<EventEntity[]> {
  return insertEventRows(db, contacts, { fanoutPending, from });
}

function deliveryOf(e: EventEntity, opts: { key?: string | null; batched?: boolean; hookId?: string } = {}): DeliveryEntity {
  const hookId = opts.hookId ?? "hook_1";
  return newDelivery({ accountId: "acc_1", hookId, eventId: e.id, eventSequence: e.sequence, now: T0, orderingKey: opts.key === undefined ? `${hookId}:${e.contactId}` : opts.key, batched: opts.batched });
}

async function finish(db: Db, ids: string[]): Promise<void> {
  await db.write((m) => m.update(DeliveryEntity, { id: In(ids) }, { status: "DELIVERED", queued: false, leaseId: null }));
}

/** The batched hook of these tests (hook_b, batches of 5 within 60 s) unless `patch` says otherwise. */
function addHook(db: Db, patch: Partial<HookEntity>): Promise<void> {
  return insertHookRow(db, { id: "hook_b", batchMaxSize: 5, batchMaxWaitMs: 60_000, ...patch });
}

describe.each(DRIVERS)("ordered and batched claims on %s", (driver) => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => close?.());

  it("takes only the head of each key, one at a time, and nothing after an event not fanned out yet", async () => {
    const t = await openTestDb(driver);
    close = t.close;
    const claim = () => claimDue(t.db, { limit: 100, now: LATER, leaseMs: 60_000 });
    // Event 1 (contact X) is not fanned out yet; events 2 (X) and 3 (Y) are, and 4 is unordered.
    await addEvents(t.db, ["con_X"], true, 1);
    const [e2, e3, e4] = await addEvents(t.db, ["con_X", "con_Y", "con_Z"], false, 2);
    await t.db.write((m) => insertDeliveries(m, [deliveryOf(e2), deliveryOf(e3), deliveryOf(e4, { key: null })]));
    // Nothing ordered may pass event 1, whose deliveries may not exist yet; unordered ones go.
    expect((await claim()).rows.map((r) => r.eventSequence)).toEqual([4]);

    // Event 1 fanned out: its delivery is the head of X, and Y's can go too.
    await t.db.write(async (m) => {
      await m.update(EventEntity, { id: "evt_000001" }, { fanoutPending: false });
    });
    const e1 = (await t.db.read((m) => m.findOneByOrFail(EventEntity, { id: "evt_000001" })));
    await t.db.write((m) => insertDeliveries(m, [deliveryOf(e1)]));
    const first = await claim();
    expect(first.rows.map((r) => r.eventSequence).sort()).toEqual([1, 3]);
    // The head is in flight: X's next one waits.
    expect((await claim()).rows).toEqual([]);
    await finish(t.db, first.rows.map((r) => r.id));
    expect((await claim()).rows.map((r) => r.eventSequence)).toEqual([2]);
  });

  it("a head awaiting a retry holds the deliveries behind it (queued and newly fanned out) until that retry", async () => {
    const t = await openTestDb(driver);
    close = t.close;
    await addHook(t.db, { id: "hook_1", ordering: "PER_CONTACT", batchMaxSize: null, batchMaxWaitMs: null });
    const [e1, e2, e3] = await addEvents(t.db, ["con_X", "con_X", "con_Y"]);
    await t.db.write((m) => insertDeliveries(m, [deliveryOf(e1), deliveryOf(e2), deliveryOf(e3)]));
    const claimed = await claimDue(t.db, { limit: 100, now: LATER, leaseMs: 60_000 });
    const head = claimed.rows.find((r) => r.eventSequence === 1)!;
    const retryAt = new Date(LATER.getTime() + 300_000);
    await recordOutcomes(
      t.db,
      [{ kind: "attempt", row: head, leaseId: claimed.leaseId, startedAt: LATER, result: { statusCode: 500, headers: {}, excerpt: null, durationMs: 3 }, decision: { kind: "retry", at: retryAt, delayMs: 300_000 } }],
      LATER,
      86_400_000,
    );
    await finish(t.db, claimed.rows.filter((r) => r.eventSequence === 3).map((r) => r.id));
    // A new event about X, fanned out while the head waits.
    await addEvents(t.db, ["con_X"], true, 4);
    await fanOutBatch(t.db, () => LATER);
    const rows = await t.db.read((m) => m.find(DeliveryEntity, { where: { hookId: "hook_1" }, order: { eventSequence: "ASC" } }));
    expect(rows.map((r) => [r.eventSequence, r.status, r.availableAt.toISOString()])).toEqual([
      [1, "FAILED", retryAt.toISOString()],
      [2, "PENDING", retryAt.toISOString()],
      [3, "DELIVERED", new Date(LATER.getTime() + 60_000).toISOString()],
      [4, "PENDING", retryAt.toISOString()],
    ]);
    expect(rows[3].nextAttemptAt?.toISOString()).toBe(retryAt.toISOString());
    // At the retry the head goes alone, then the rest in order.
    expect((await claimDue(t.db, { limit: 100, now: retryAt, leaseMs: 60_000 })).rows.map((r) => r.eventSequence)).toEqual([1]);
  });

  it("forms a batch only when full or old enough, takes it whole, and retries it as the same batch", async () => {
    const t = await openTestDb(driver);
    close = t.close;
    await addHook(t.db, {});
    const events = await addEvents(t.db, ["con_A", "con_B", "con_C", "con_D"]);
    await t.db.write((m) => insertDeliveries(m, events.map((e) => deliveryOf(e, { key: null, batched: true, hookId: "hook_b" }))));
    // Unbatched claims never take batched rows.
    expect((await claimDue(t.db, { limit: 100, now: LATER, leaseMs: 60_000 })).rows).toEqual([]);
    // 4 due, maxSize 5, waited 1 s of 60 s: not yet.
    expect((await claimBatches(t.db, { limit: 10, now: LATER, leaseMs: 60_000 })).batches).toEqual([]);
    const [more] = await addEvents(t.db, ["con_E"], false, 5);
    await t.db.write((m) => insertDeliveries(m, [deliveryOf(more, { key: null, batched: true, hookId: "hook_b" })]));
    const full = await claimBatches(t.db, { limit: 10, now: LATER, leaseMs: 60_000 });
    expect(full.batches).toHaveLength(1);
    expect(full.batches[0].rows.map((r) => r.eventSequence)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(full.batches[0].rows.map((r) => r.batchId))).toEqual(new Set([full.batches[0].id]));

    // The lease ends (a crashed worker): the same batch comes back whole, with its id.
    const afterLease = new Date(LATER.getTime() + 61_000);
    const again = await claimBatches(t.db, { limit: 10, now: afterLease, leaseMs: 60_000 });
    expect(again.batches.map((b) => [b.id, b.rows.length])).toEqual([[full.batches[0].id, 5]]);

    // By time: one more row waits until the oldest has waited maxWaitMs.
    const [late] = await addEvents(t.db, ["con_F"], false, 6);
    await t.db.write((m) => insertDeliveries(m, [deliveryOf(late, { key: null, batched: true, hookId: "hook_b" })]));
    expect((await claimBatches(t.db, { limit: 10, now: new Date(T0.getTime() + 59_999), leaseMs: 60_000 })).batches).toEqual([]);
    const timed = await claimBatches(t.db, { limit: 10, now: new Date(T0.getTime() + 60_000), leaseMs: 60_000 });
    expect(timed.batches.map((b) => b.rows.map((r) => r.eventSequence))).toEqual([[6]]);
  });

});

describe("concurrent ordered and batched claims on mysql", () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => close?.());

  it("never takes two rows of one key, nor one batch twice", async () => {
    const t = await openTestDb("mysql");
    close = t.close;
    // 40 keys × 3 ordered rows.
    const contacts = Array.from({ length: 120 }, (_, i) => `con_${String(i % 40).padStart(2, "0")}`);
    const events = await addEvents(t.db, contacts);
    await t.db.write((m) => insertDeliveries(m, events.map((e) => deliveryOf(e))));
    const results = await Promise.all(Array.from({ length: 6 }, () => claimDue(t.db, { limit: 10, now: LATER, leaseMs: 60_000 })));
    const claimed = results.flatMap((r) => r.rows);
    expect(new Set(claimed.map((r) => r.id)).size).toBe(claimed.length);
    expect(new Set(claimed.map((r) => r.orderingKey)).size).toBe(claimed.length);
    // Only heads: each key's first event.
    for (const r of claimed) expect(r.eventSequence).toBeLessThanOrEqual(40);
    expect(claimed.length).toBeGreaterThan(0);

    // Batches: one batched hook, 20 due rows, maxSize 5: concurrent claims take disjoint batches.
    await addHook(t.db, {});
    const more = await addEvents(t.db, Array.from({ length: 20 }, (_, i) => `con_b${i}`), false, 121);
    await t.db.write((m) => insertDeliveries(m, more.map((e) => deliveryOf(e, { key: null, batched: true, hookId: "hook_b" }))));
    const batchResults = await Promise.all(Array.from({ length: 6 }, () => claimBatches(t.db, { limit: 4, now: LATER, leaseMs: 60_000 })));
    const batches = batchResults.flatMap((r) => r.batches);
    const members = batches.flatMap((b) => b.rows.map((r) => r.id));
    expect(batches.length).toBeGreaterThan(0);
    expect(new Set(members).size).toBe(members.length);
    for (const b of batches) expect(b.rows).toHaveLength(5);
    const stamped = await t.db.read((m) => m.find(DeliveryEntity, { where: { hookId: "hook_b", status: "DELIVERING" } }));
    expect(new Set(stamped.map((r) => r.batchId))).toEqual(new Set(batches.map((b) => b.id)));
  });
});
