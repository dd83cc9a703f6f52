/**
 * A hook's health as outcome batches write it (both drivers): a success resets a failing streak
 * at once, while `lastDeliveredAt` of a healthy hook is refreshed at most once a second (so that
 * concurrent outcome batches of one busy hook do not queue on its row).
 */
import { createConnection } from "mysql2/promise";
import { afterEach, describe, expect, it } from "vitest";
import { claimDue, insertDeliveries, newDelivery, type Decision } from "../../src/delivery/index.js";
import { LAST_DELIVERED_PRECISION_MS, recordOutcomes, type Outcome } from "../../src/delivery/record-outcomes.js";
import { HookEntity } from "../../src/hooks/hook.entity.js";
import type { Db } from "../../src/db/index.js";
import { waitFor } from "../helpers/app.js";
import { DRIVERS, openTestDb } from "../helpers/db.js";
import { insertEventRows, insertHookRow } from "../helpers/rows.js";

const T0 = new Date("2026-05-01T00:00:00.000Z");
const at = (ms: number) => new Date(T0.getTime() + ms);
const DISABLE_AFTER_MS = 5 * 86_400_000;

function addHook(db: Db, id: string, patch: Partial<HookEntity>): Promise<void> {
  return insertHookRow(db, { id, verifiedAt: T0, activeSince: T0, createdAt: T0, updatedAt: T0, ...patch });
}

/** One claimed delivery per hook, on events `from`… of acc_1, claimed at `now`. */
async function claimOnePerHook(db: Db, hookIds: string[], now: Date, from: number) {
  const events = await insertEventRows(db, hookIds.map(() => "con_1"), { from });
  await db.write((m) => insertDeliveries(m, events.map((e, i) => newDelivery({ accountId: "acc_1", hookId: hookIds[i], eventId: e.id, eventSequence: e.sequence, now: T0 }))));
  return claimDue(db, { limit: 100, now, leaseMs: 60_000 });
}

/** The same answered attempt for every claimed row. */
function attemptsOf(claim: Awaited<ReturnType<typeof claimOnePerHook>>, startedAt: Date, statusCode: number, decision: Decision): Outcome[] {
  return claim.rows.map((row) => ({
    kind: "attempt",
    row,
    leaseId: claim.leaseId,
    startedAt,
    result: { statusCode, headers: {}, excerpt: statusCode < 300 ? "" : "down", durationMs: 3 },
    decision,
  }));
}

const failed = (claim: Awaited<ReturnType<typeof claimOnePerHook>>, startedAt: Date) => attemptsOf(claim, startedAt, 500, { kind: "retry", at: at(60_000), delayMs: 60_000 });
const delivered = (claim: Awaited<ReturnType<typeof claimOnePerHook>>, startedAt: Date) => attemptsOf(claim, startedAt, 204, { kind: "delivered" });

async function health(db: Db, id: string) {
  const h = await db.read((m) => m.findOneByOrFail(HookEntity, { id }));
  return { lastDeliveredAt: h.lastDeliveredAt?.toISOString() ?? null, consecutiveFailures: h.consecutiveFailures, failingSince: h.failingSince?.toISOString() ?? null };
}

describe.each(DRIVERS)("hook health written by outcome batches on %s", (driver) => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => close?.());

  it("resets a failing streak on success at once, and refreshes lastDeliveredAt of a healthy hook at most once a second", async () => {
    const t = await openTestDb(driver);
    close = t.close;
    const fresh = at(-LAST_DELIVERED_PRECISION_MS / 2);
    const stale = at(-2 * LAST_DELIVERED_PRECISION_MS);
    await addHook(t.db, "hook_failing", { consecutiveFailures: 3, failingSince: at(-60_000), lastDeliveredAt: fresh, lastFailureAt: at(-100) });
    await addHook(t.db, "hook_fresh", { lastDeliveredAt: fresh });
    await addHook(t.db, "hook_stale", { lastDeliveredAt: stale });
    await addHook(t.db, "hook_new", {});

    const now = T0;
    const claim = await claimOnePerHook(t.db, ["hook_failing", "hook_fresh", "hook_stale", "hook_new"], now, 1);
    expect(claim.rows).toHaveLength(4);
    await recordOutcomes(t.db, delivered(claim, now), now, DISABLE_AFTER_MS);

    expect(await health(t.db, "hook_failing")).toEqual({ lastDeliveredAt: now.toISOString(), consecutiveFailures: 0, failingSince: null });
    // Delivered less than a second ago: the row is left alone.
    expect(await health(t.db, "hook_fresh")).toEqual({ lastDeliveredAt: fresh.toISOString(), consecutiveFailures: 0, failingSince: null });
    expect(await health(t.db, "hook_stale")).toEqual({ lastDeliveredAt: now.toISOString(), consecutiveFailures: 0, failingSince: null });
    expect(await health(t.db, "hook_new")).toEqual({ lastDeliveredAt: now.toISOString(), consecutiveFailures: 0, failingSince: null });
  });

  if (driver === "mysql") {
    it("two outcome batches failing one hook at once both count: the second reads the first's committed failures", async () => {
      const t = await openTestDb(driver);
      close = t.close;
      await addHook(t.db, "hook_flaky", { consecutiveFailures: 2, failingSince: at(-60_000), lastFailureAt: at(-1_000) });
      const first = await claimOnePerHook(t.db, ["hook_flaky"], T0, 1);
      const second = await claimOnePerHook(t.db, ["hook_flaky"], T0, 2);
      // Hold the hook's row so that both batches are in flight at the same point, then let go.
      const holder = await createConnection({ uri: t.url });
      try {
        await holder.query("START TRANSACTION");
        await holder.query("SELECT id FROM hooks WHERE id = 'hook_flaky' FOR UPDATE");
        const writes = [recordOutcomes(t.db, failed(first, T0), T0, DISABLE_AFTER_MS), recordOutcomes(t.db, failed(second, T0), T0, DISABLE_AFTER_MS)];
        // Both transactions have reached the hook's row and wait for it.
        // Blocked on the row the holder locked: a statement on hooks still running in each.
        await waitFor(
          async () => {
            const [rows] = await holder.query(
              "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND COMMAND = 'Query' AND (INFO LIKE 'UPDATE `hooks`%' OR INFO LIKE 'SELECT `HookEntity`%')",
            );
            return Number((rows as Array<{ n: number }>)[0].n) >= 2;
          },
          { message: "the two outcome batches never waited on the hook's row" },
        );
        await holder.query("COMMIT");
        await Promise.all(writes);
      } finally {
        await holder.end();
      }
      const h = await t.db.read((m) => m.findOneByOrFail(HookEntity, { id: "hook_flaky" }));
      expect(h.consecutiveFailures).toBe(4);
      expect(h.failingSince?.toISOString()).toBe(at(-60_000).toISOString());
    });
  }
});
