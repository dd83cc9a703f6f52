import { afterEach, describe, expect, it } from "vitest";
import { DeliveryAttemptEntity, DeliveryEntity, newDelivery } from "../../src/delivery/index.js";
import { purgeDeliveredAttempts } from "../../src/delivery/retention.js";
import { DRIVERS, openTestDb } from "../helpers/db.js";

describe.each(DRIVERS)("retention on %s", (driver) => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => close?.());

  it("purges attempts of delivered deliveries older than the cutoff, and nothing else", async () => {
    const t = await openTestDb(driver);
    close = t.close;
    const old = new Date("2026-01-01T00:00:00.000Z");
    const recent = new Date("2026-03-01T00:00:00.000Z");
    const delivered = Object.assign(newDelivery({ accountId: "acc_1", hookId: "hook_1", eventId: "evt_1", eventSequence: 1, now: old }), { status: "DELIVERED", queued: false });
    const dead = Object.assign(newDelivery({ accountId: "acc_1", hookId: "hook_1", eventId: "evt_2", eventSequence: 2, now: old }), { status: "DEAD", queued: false });
    const attempt = (id: string, deliveryId: string, startedAt: Date) =>
      Object.assign(new DeliveryAttemptEntity(), { id, deliveryId, hookId: "hook_1", accountId: "acc_1", attemptNumber: 1, startedAt, durationMs: 5, statusCode: 200, responseExcerpt: null, error: null });
    await t.db.write(async (m) => {
      await m.insert(DeliveryEntity, [delivered, dead] as never[]);
      await m.insert(DeliveryAttemptEntity, [attempt("att_old_ok", delivered.id, old), attempt("att_new_ok", delivered.id, recent), attempt("att_old_dead", dead.id, old)] as never[]);
    });
    const purged = await purgeDeliveredAttempts(t.db, new Date("2026-02-01T00:00:00.000Z"));
    expect(purged).toBe(1);
    const left = await t.db.read((m) => m.find(DeliveryAttemptEntity, { order: { id: "ASC" } }));
    expect(left.map((a) => a.id)).toEqual(["att_new_ok", "att_old_dead"]);
    expect(await t.db.read((m) => m.count(DeliveryEntity))).toBe(2);
  });
});
