import type { Db } from "../db/index.js";
import { EventEntity } from "../events/event.entity.js";
import { DeliveryEntity } from "./delivery.entity.js";
import { PARKED_UNTIL } from "./queue.js";

/** How much is queued, for metrics. */
export interface QueueStats {
  /** Claimable now. */
  due: number;
  /** Retry scheduled later, or claimed and in flight (a lease pushes `availableAt` forward). */
  waiting: number;
  /** Held for a paused or disabled hook. */
  parked: number;
  /** Seconds since the oldest due delivery became due; 0 when nothing is due. */
  oldestDueAgeSeconds: number;
  /** Committed events whose deliveries are not created yet (the fan-out's backlog). */
  fanOutBacklog: number;
  /** Seconds since the oldest of those events occurred; 0 when the backlog is empty. */
  fanOutLagSeconds: number;
}

/**
 * Reads the queue's size and lag, and the fan-out's. The three delivery counts come from one
 * statement, so they agree with each other (on MySQL, separate statements outside a transaction
 * would each see a different moment). Every statement is a range over an index whose first
 * column is the flag (`ix_deliveries_due`: `queued, available_at, id`; `ix_events_fanout`:
 * `fanout_pending, occurred_at, id`), and the oldest row is that range's first entry, so a scrape
 * stays cheap however long the delivered history and the event log are.
 */
export async function queueStats(db: Db, now: Date): Promise<QueueStats> {
  return db.read(async (m) => {
    const counts = await m
      .createQueryBuilder(DeliveryEntity, "d")
      .select("COUNT(*)", "total")
      .addSelect("COALESCE(SUM(CASE WHEN d.available_at <= :now THEN 1 ELSE 0 END), 0)", "due")
      .addSelect("COALESCE(SUM(CASE WHEN d.available_at >= :parked THEN 1 ELSE 0 END), 0)", "parked")
      .where("d.queued = 1")
      .setParameters({ now, parked: PARKED_UNTIL })
      .getRawOne<{ total: string | number; due: string | number; parked: string | number }>();
    const [total, due, parked] = [counts?.total, counts?.due, counts?.parked].map((n) => Number(n ?? 0));
    // Nothing due, no lag: the oldest row is read only when there is one to age.
    const oldest =
      due > 0
        ? await m
            .createQueryBuilder(DeliveryEntity, "d")
            .select(["d.id", "d.availableAt"])
            .where("d.queued = 1")
            .orderBy("d.queued")
            .addOrderBy("d.available_at", "ASC")
            .addOrderBy("d.id", "ASC")
            .take(1)
            .getOne()
        : null;
    const dueSince = oldest && oldest.availableAt.getTime() <= now.getTime() ? oldest.availableAt.getTime() : null;

    const backlog = Number(
      (await m.createQueryBuilder(EventEntity, "e").select("COUNT(*)", "n").where("e.fanout_pending = 1").getRawOne<{ n: string | number }>())?.n ?? 0,
    );
    const oldestEvent =
      backlog > 0
        ? await m
            .createQueryBuilder(EventEntity, "e")
            .select(["e.id", "e.occurredAt"])
            .where("e.fanout_pending = 1")
            .orderBy("e.fanout_pending")
            .addOrderBy("e.occurred_at", "ASC")
            .addOrderBy("e.id", "ASC")
            .take(1)
            .getOne()
        : null;
    return {
      due,
      parked,
      waiting: Math.max(0, total - due - parked),
      oldestDueAgeSeconds: dueSince === null ? 0 : (now.getTime() - dueSince) / 1000,
      fanOutBacklog: backlog,
      fanOutLagSeconds: oldestEvent ? Math.max(0, (now.getTime() - oldestEvent.occurredAt.getTime()) / 1000) : 0,
    };
  });
}
