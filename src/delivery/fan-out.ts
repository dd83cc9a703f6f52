import { In, IsNull, type EntityManager } from "typeorm";
import type { Db } from "../db/index.js";
import { EventEntity } from "../events/event.entity.js";
import { HookEntity } from "../hooks/hook.entity.js";
import { hookMatches } from "../hooks/match.js";
import { insertDeliveries, newDelivery, PARKED_UNTIL, queueOptionsOf } from "./queue.js";
import { DeliveryEntity } from "./delivery.entity.js";

/** Events fanned out per transaction. */
export const FANOUT_BATCH = 500;

/**
 * Fans out one batch of events whose deliveries are not created yet: for each event, one
 * delivery per matching ACTIVE (or PAUSED: parked) hook of its account that was active when the
 * event occurred. Deliveries and the `fanout_pending` flag change in one transaction, and
 * (hook, event) is unique, so a crash or a second worker can neither lose nor double a delivery.
 * Returns the number of events processed (0 = nothing to do).
 */
export async function fanOutBatch(db: Db, now: () => Date, limit = FANOUT_BATCH): Promise<{ events: number; deliveries: number }> {
  return db.write(async (m) => {
    const qb = m
      .createQueryBuilder(EventEntity, "e")
      .where("e.fanout_pending = 1")
      .orderBy("e.fanout_pending")
      .addOrderBy("e.occurred_at", "ASC")
      .addOrderBy("e.id", "ASC")
      .take(limit);
    if (db.driver === "mysql") qb.setLock("pessimistic_write").setOnLocked("skip_locked");
    const events = await qb.getMany();
    if (events.length === 0) return { events: 0, deliveries: 0 };

    const accountIds = [...new Set(events.map((e) => e.accountId))];
    const hooks = await m.find(HookEntity, { where: { accountId: In(accountIds), deletedAt: IsNull(), status: In(["ACTIVE", "PAUSED"]) } });
    const at = now();
    const rows: DeliveryEntity[] = [];
    for (const event of events) {
      for (const hook of hooks) {
        if (hook.accountId !== event.accountId) continue;
        if (!hook.activeSince || hook.activeSince > event.occurredAt) continue;
        if (!hookMatches(hook, event)) continue;
        rows.push(
          newDelivery({
            accountId: event.accountId,
            hookId: hook.id,
            eventId: event.id,
            eventSequence: event.sequence,
            now: at,
            availableAt: hook.status === "PAUSED" ? PARKED_UNTIL : at,
            ...queueOptionsOf(hook, event),
          }),
        );
      }
    }
    await holdBehindFailingHeads(m, rows);
    await insertDeliveries(m, rows);
    await m.update(EventEntity, { id: In(events.map((e) => e.id)) }, { fanoutPending: false });
    return { events: events.length, deliveries: rows.length };
  });
}

/**
 * New ordered deliveries whose key has a failing head (awaiting a retry) cannot go before that
 * retry: they are queued due at the head's retry time rather than now, like those already behind
 * it (record-outcomes), so that claims do not scan past them meanwhile.
 */
async function holdBehindFailingHeads(m: EntityManager, rows: DeliveryEntity[]): Promise<void> {
  const keys = [...new Set(rows.map((r) => r.orderingKey).filter((k): k is string => k !== null))];
  if (keys.length === 0) return;
  const heads = new Map<string, Date>();
  for (let i = 0; i < keys.length; i += 500) {
    const found = await m
      .createQueryBuilder(DeliveryEntity, "d")
      .where("d.ordering_key IN (:...keys)", { keys: keys.slice(i, i + 500) })
      .andWhere("d.queued = 1")
      .andWhere("d.status = 'FAILED'")
      .select(["d.orderingKey", "d.availableAt"])
      .getMany();
    for (const f of found) {
      const at = heads.get(f.orderingKey!);
      if (!at || f.availableAt > at) heads.set(f.orderingKey!, f.availableAt);
    }
  }
  for (const row of rows) {
    const at = row.orderingKey ? heads.get(row.orderingKey) : undefined;
    if (at && at > row.availableAt && row.availableAt < PARKED_UNTIL) Object.assign(row, { availableAt: at, nextAttemptAt: at });
  }
}
