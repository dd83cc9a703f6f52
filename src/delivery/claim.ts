import { updateByIds, type Db } from "../db/index.js";
import { randomToken } from "../shared/ids.js";
import { DeliveryEntity } from "./delivery.entity.js";

/** Options of {@link claimDue}. */
export interface ClaimOptions {
  /** Most rows to claim. */
  limit: number;
  now: Date;
  /** How long the claim holds the rows: after this they are due again (crash recovery). */
  leaseMs: number;
  /** Hooks already at their in-flight cap in this process: skipped. */
  skipHooks?: string[];
}

/**
 * The ordering gate, for rows with an ordering key: a row is the head of its key (no earlier
 * unfinished delivery with the same key: `queued` is exactly "not DELIVERED/DEAD/CANCELLED",
 * and a head in flight stays queued, so at most one row per key is ever claimed), and every
 * earlier event of its account has been fanned out (two workers fanning out different event
 * batches could otherwise create an event's delivery after a later event's was already sent).
 * Both probes are plain reads of committed rows (not locked, so SKIP LOCKED cannot make them
 * skip a head that another worker is claiming), each one index range:
 * `ix_deliveries_order` and `ix_events_fanout_account`. Unordered rows never reach them.
 */
export const ORDERING_GATE = `(d.ordering_key IS NULL OR (
  NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.ordering_key = d.ordering_key AND p.queued = 1 AND p.event_sequence < d.event_sequence)
  AND NOT EXISTS (SELECT 1 FROM events e WHERE e.account_id = d.account_id AND e.fanout_pending = 1 AND e.sequence < d.event_sequence)))`;

/**
 * Claims due deliveries with a lease. On MySQL: one short READ COMMITTED transaction,
 * `SELECT … FOR UPDATE SKIP LOCKED` scanning `ix_deliveries_due` in order (no filesort, so
 * other workers skip only the rows this one locked; STACK.md trap 2), then one UPDATE stamping
 * the lease. On SQLite the same statements run serialized in-process. Returns the claimed rows
 * as they are after the claim (the locked rows read by the SELECT, with the lease applied), and the lease id that outcome writes must present. Rows of
 * batched hooks are left to {@link claimBatches}; ordered rows pass {@link ORDERING_GATE}.
 */
export async function claimDue(db: Db, options: ClaimOptions): Promise<{ leaseId: string; rows: DeliveryEntity[] }> {
  const leaseId = `lse_${randomToken(12)}`;
  const rows = await db.write(async (m) => {
    const qb = m
      .createQueryBuilder(DeliveryEntity, "d")
      .where("d.queued = 1")
      .andWhere("d.available_at <= :now", { now: options.now })
      .andWhere("d.batched = 0")
      .andWhere(ORDERING_GATE)
      .orderBy("d.queued")
      .addOrderBy("d.available_at", "ASC")
      .addOrderBy("d.id", "ASC")
      .take(options.limit);
    if (options.skipHooks?.length) qb.andWhere("d.hook_id NOT IN (:...skip)", { skip: options.skipHooks });
    if (db.driver === "mysql") qb.setLock("pessimistic_write").setOnLocked("skip_locked");
    const claimed = await qb.getMany();
    if (claimed.length === 0) return [];
    const stamp = { status: "DELIVERING" as const, leaseId, availableAt: new Date(options.now.getTime() + options.leaseMs), updatedAt: options.now };
    await updateByIds(m, DeliveryEntity, claimed.map((r) => r.id), stamp);
    // The rows are locked (MySQL) or the database serialized (SQLite) from the SELECT to the
    // commit: the UPDATE's result is exactly the selected rows with the stamp, no re-read needed.
    return claimed.map((r) => Object.assign(r, stamp));
  });
  return { leaseId, rows };
}
