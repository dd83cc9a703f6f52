import { In, LessThan } from "typeorm";
import type { Db } from "../db/index.js";
import { DeliveryAttemptEntity, DeliveryEntity } from "./delivery.entity.js";

/**
 * Deletes attempts of DELIVERED deliveries that started before `cutoff`, in batches of 1,000 so
 * no transaction grows large. Failed and dead deliveries keep their history. Returns the count.
 */
export async function purgeDeliveredAttempts(db: Db, cutoff: Date): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await db.write(async (m) => {
      const old = await m
        .createQueryBuilder(DeliveryAttemptEntity, "a")
        .select(["a.id"])
        .innerJoin(DeliveryEntity, "d", "d.id = a.delivery_id AND d.status = 'DELIVERED'")
        .where({ startedAt: LessThan(cutoff) })
        .take(1_000)
        .getMany();
      if (old.length) await m.delete(DeliveryAttemptEntity, { id: In(old.map((a) => a.id)) });
      return old.length;
    });
    total += deleted;
    if (deleted < 1_000) return total;
  }
}
