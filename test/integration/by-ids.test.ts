/**
 * The hot path's statements (src/db/by-ids.ts) on both drivers: values go through each driver's
 * own conversion, so what TypeORM reads back is what was written, and the extra conditions hold.
 */
import { afterEach, describe, expect, it } from "vitest";
import { insertRows, updateByIds } from "../../src/db/index.js";
import { DeliveryAttemptEntity, DeliveryEntity, insertDeliveries, newDelivery } from "../../src/delivery/index.js";
import { DRIVERS, openTestDb } from "../helpers/db.js";

const T0 = new Date("2026-05-01T00:00:00.123Z");
const T1 = new Date("2026-05-01T00:00:07.456Z");

describe.each(DRIVERS)("by-ids statements on %s", (driver) => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => close?.());

  it("updates only the given ids that meet the conditions, converting dates, booleans and nulls as TypeORM does", async () => {
    const t = await openTestDb(driver);
    close = t.close;
    const rows = [1, 2, 3].map((n) => newDelivery({ accountId: "acc_1", hookId: "hook_1", eventId: `evt_${n}`, eventSequence: n, now: T0 }));
    await t.db.write((m) => insertDeliveries(m, rows));
    const [a, b, c] = rows.map((r) => r.id);
    await t.db.write((m) => updateByIds(m, DeliveryEntity, [a, b], { leaseId: "lse_1" }));

    const changed = await t.db.write((m) =>
      updateByIds(m, DeliveryEntity, [a, b, c], { status: "DELIVERED", queued: false, deliveredAt: T1, leaseId: null, lastError: null }, { leaseId: "lse_1" }),
    );
    expect(changed).toBe(2);
    // Rows without the lease are untouched; IS NULL conditions match only null columns.
    expect(await t.db.write((m) => updateByIds(m, DeliveryEntity, [a, b, c], { lastError: "x" }, { leaseId: null, status: "PENDING" }))).toBe(1);

    const after = new Map((await t.db.read((m) => m.find(DeliveryEntity))).map((r) => [r.id, r]));
    expect(after.get(a)).toMatchObject({ status: "DELIVERED", queued: false, leaseId: null, lastError: null });
    expect(after.get(a)!.deliveredAt!.toISOString()).toBe(T1.toISOString());
    expect(after.get(b)).toMatchObject({ status: "DELIVERED", queued: false });
    expect(after.get(c)).toMatchObject({ status: "PENDING", queued: true, leaseId: null, deliveredAt: null, lastError: "x" });
  });

  it("inserts whole rows that TypeORM reads back unchanged, in chunks past 500", async () => {
    const t = await openTestDb(driver);
    close = t.close;
    const rows = Array.from({ length: 501 }, (_, i) =>
      Object.assign(new DeliveryAttemptEntity(), {
        id: `att_${String(i).padStart(4, "0")}`,
        deliveryId: `dlv_${i}`,
        hookId: "hook_1",
        accountId: "acc_1",
        attemptNumber: 1 + (i % 3),
        startedAt: new Date(T0.getTime() + i),
        durationMs: i,
        statusCode: i % 2 ? 204 : null,
        responseExcerpt: i % 2 ? null : `émoji ✓ ${i}`,
        error: i % 2 ? null : "connect ECONNREFUSED",
      }),
    );
    await t.db.write((m) => insertRows(m, DeliveryAttemptEntity, rows));
    const back = await t.db.read((m) => m.find(DeliveryAttemptEntity, { order: { id: "ASC" } }));
    expect(back).toHaveLength(501);
    expect(back.map((r) => ({ ...r, startedAt: r.startedAt.toISOString() }))).toEqual(rows.map((r) => ({ ...r, startedAt: r.startedAt.toISOString() })));
  });

  it("insertDeliveries skips a (hook, event) pair that already has a delivery, and keeps the rest of the statement", async () => {
    const t = await openTestDb(driver);
    close = t.close;
    const first = [1, 2].map((n) => newDelivery({ accountId: "acc_1", hookId: "hook_1", eventId: `evt_${n}`, eventSequence: n, now: T0 }));
    await t.db.write((m) => insertDeliveries(m, first));
    // A second fan-out of events 2 and 3 (a crash between insert and flag, or a second worker).
    const again = [2, 3].map((n) => newDelivery({ accountId: "acc_1", hookId: "hook_1", eventId: `evt_${n}`, eventSequence: n, now: T1 }));
    await t.db.write((m) => insertDeliveries(m, again));
    const back = await t.db.read((m) => m.find(DeliveryEntity, { order: { eventSequence: "ASC" } }));
    expect(back.map((d) => [d.eventId, d.id])).toEqual([
      ["evt_1", first[0].id],
      ["evt_2", first[1].id],
      ["evt_3", again[1].id],
    ]);
    expect(back[2]).toMatchObject({ status: "PENDING", queued: true, attemptCount: 0, leaseId: null, batched: false });
    expect(back[2].availableAt.toISOString()).toBe(T1.toISOString());
  });
});
