import type { Db } from "../db/index.js";
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
}

/**
 * Reads the queue's size and lag. Every statement is a range over `ix_deliveries_due`
 * (`queued, available_at, id`): counts scan the index only, and the oldest due row is its first
 * entry, so a scrape stays cheap however long the delivered history is.
 */
export async function queueStats(db: Db, now: Date): Promise<QueueStats> {
  return db.read(async (m) => {
    const count = async (where: string, params: Record<string, unknown> = {}) =>
      Number(
        (
          await m
            .createQueryBuilder(DeliveryEntity, "d")
            .select("COUNT(*)", "n")
            .where("d.queued = 1")
            .andWhere(where, params)
            .getRawOne<{ n: string | number }>()
        )?.n ?? 0,
      );
    const total = await count("1 = 1");
    const due = await count("d.available_at <= :now", { now });
    const parked = await count("d.available_at >= :parked", { parked: PARKED_UNTIL });
    const oldest = await m
      .createQueryBuilder(DeliveryEntity, "d")
      .select(["d.id", "d.availableAt"])
      .where("d.queued = 1")
      .orderBy("d.queued")
      .addOrderBy("d.available_at", "ASC")
      .addOrderBy("d.id", "ASC")
      .take(1)
      .getOne();
    const dueSince = oldest && oldest.availableAt.getTime() <= now.getTime() ? oldest.availableAt.getTime() : null;
    return {
      due,
      parked,
      waiting: Math.max(0, total - due - parked),
      oldestDueAgeSeconds: dueSince === null ? 0 : (now.getTime() - dueSince) / 1000,
    };
  });
}
