import { In, type EntityManager } from "typeorm";
import type { Db } from "../db/index.js";
import { HookEntity } from "../hooks/hook.entity.js";
import { newId, randomToken } from "../shared/ids.js";
import { DeliveryEntity } from "./delivery.entity.js";

/** Options of {@link claimBatches}. */
export interface ClaimBatchesOptions {
  /** Most batches to claim (one per hook). */
  limit: number;
  now: Date;
  /** How long the claim holds the rows: after this they are due again, as the same batch. */
  leaseMs: number;
  /** Hooks already at their in-flight cap in this process: skipped. */
  skipHooks?: string[];
}

/** One claimed batch: one POST, one `webhook-id` (its id), its members in sequence order. */
export interface ClaimedBatch {
  id: string;
  hookId: string;
  rows: DeliveryEntity[];
}

/** Parses a datetime as a raw query returns it: a Date (mysql2) or `YYYY-MM-DD HH:MM:SS.mmm` UTC text (SQLite). */
function rawDate(value: Date | string): Date {
  return value instanceof Date ? value : new Date(`${value.replace(" ", "T")}${/Z|[+-]\d\d:?\d\d$/.test(value) ? "" : "Z"}`);
}

/**
 * Claims batches of batched hooks. A batch is one hook's due deliveries, at most `batchMaxSize`
 * of them in sequence order, sent when that many are eligible or when the oldest has been due for
 * `batchMaxWaitMs`. Once claimed, its members carry the batch id: a failed batch is retried as
 * the same batch (same members, same `webhook-id`), and a batch whose lease expired (crashed
 * worker) is taken over whole.
 *
 * Workers never split or double-claim a batch: each hook's batches are formed under a lock on
 * the hook's row (`FOR UPDATE SKIP LOCKED` on MySQL: a worker skips a hook another one is
 * batching; SQLite runs serialized), in one short transaction that stamps the lease.
 * With ordering, a batch only takes rows that are the head of their key (counting earlier rows
 * of the same batch), and of an account whose earlier events are all fanned out.
 */
export async function claimBatches(db: Db, options: ClaimBatchesOptions): Promise<{ leaseId: string; batches: ClaimedBatch[] }> {
  const leaseId = `lse_${randomToken(12)}`;
  const { now } = options;
  // Which batched hooks have due rows, and are they ready? (A cheap index range: empty when no hook batches.)
  const due = await db.read((m) =>
    m
      .createQueryBuilder(DeliveryEntity, "d")
      .select("d.hook_id", "hookId")
      .addSelect("COUNT(*)", "n")
      .addSelect("MIN(d.available_at)", "oldest")
      .addSelect("MAX(d.batch_id)", "sealed")
      .where("d.batched = 1")
      .andWhere("d.queued = 1")
      .andWhere("d.available_at <= :now", { now })
      .groupBy("d.hook_id")
      .getRawMany<{ hookId: string; n: string | number; oldest: Date | string; sealed: string | null }>(),
  );
  if (due.length === 0) return { leaseId, batches: [] };
  const skip = new Set(options.skipHooks ?? []);
  const hooks = new Map((await db.read((m) => m.find(HookEntity, { where: { id: In(due.map((d) => d.hookId)) } }))).map((h) => [h.id, h]));
  const ready = due.filter((d) => {
    const hook = hooks.get(d.hookId);
    if (!hook || skip.has(d.hookId)) return false;
    const maxSize = hook.batchMaxSize ?? 1;
    return d.sealed !== null || Number(d.n) >= maxSize || now.getTime() - rawDate(d.oldest).getTime() >= (hook.batchMaxWaitMs ?? 0);
  });

  const batches: ClaimedBatch[] = [];
  for (const d of ready.slice(0, options.limit)) {
    const batch = await db.write((m) => claimHookBatch(db, m, d.hookId, leaseId, options));
    if (batch) batches.push(batch);
  }
  return { leaseId, batches };
}

/** Claims one batch of `hookId` under its row lock; null when another worker holds it or nothing is ready. */
async function claimHookBatch(db: Db, m: EntityManager, hookId: string, leaseId: string, options: ClaimBatchesOptions): Promise<ClaimedBatch | null> {
  const { now } = options;
  const lock = m.createQueryBuilder(HookEntity, "h").where("h.id = :hookId", { hookId });
  if (db.driver === "mysql") lock.setLock("pessimistic_write").setOnLocked("skip_locked");
  const hook = await lock.getOne();
  if (!hook) return null;
  const leaseUntil = new Date(now.getTime() + options.leaseMs);
  const stamp = async (ids: string[], batchId: string) => {
    await m.update(DeliveryEntity, { id: In(ids) }, { status: "DELIVERING", leaseId, availableAt: leaseUntil, batchId, updatedAt: now });
    return { id: batchId, hookId, rows: await m.find(DeliveryEntity, { where: { id: In(ids) }, order: { eventSequence: "ASC", id: "ASC" } }) };
  };

  // A batch sent before and due again (retry, lease expired, released): the same members, the same id.
  const sealed = await m
    .createQueryBuilder(DeliveryEntity, "d")
    .select(["d.id", "d.batchId"])
    .where("d.hook_id = :hookId", { hookId })
    .andWhere("d.queued = 1")
    .andWhere("d.batch_id IS NOT NULL")
    .andWhere("d.available_at <= :now", { now })
    .orderBy("d.event_sequence", "ASC")
    .take(1)
    .getOne();
  if (sealed?.batchId) {
    const members = await m.find(DeliveryEntity, { where: { batchId: sealed.batchId, queued: true } as never, select: { id: true } });
    return stamp(
      members.map((r) => r.id),
      sealed.batchId,
    );
  }

  const maxSize = hook.batchMaxSize ?? 1;
  const ordered = hook.ordering !== "NONE";
  const candidatesQb = m
    .createQueryBuilder(DeliveryEntity, "d")
    .where("d.hook_id = :hookId", { hookId })
    .andWhere("d.queued = 1")
    .andWhere("d.batched = 1")
    .andWhere("d.batch_id IS NULL")
    .andWhere("d.available_at <= :now", { now })
    .orderBy("d.event_sequence", "ASC")
    .addOrderBy("d.id", "ASC")
    .take(maxSize);
  if (ordered) {
    // The fan-out gate: no row after an event whose deliveries may not exist yet.
    candidatesQb.andWhere(
      "NOT EXISTS (SELECT 1 FROM events e WHERE e.account_id = d.account_id AND e.fanout_pending = 1 AND e.sequence < d.event_sequence)",
    );
  }
  let eligible = await candidatesQb.getMany();
  if (ordered && eligible.length) {
    // Queued rows of this hook that are not candidates (in flight, awaiting a retry, not due,
    // unbatched): the first of each key blocks every later candidate with that key.
    const blockers = await m
      .createQueryBuilder(DeliveryEntity, "d")
      .select("d.ordering_key", "key")
      .addSelect("MIN(d.event_sequence)", "seq")
      .where("d.hook_id = :hookId", { hookId })
      .andWhere("d.queued = 1")
      .andWhere("d.ordering_key IS NOT NULL")
      .andWhere("(d.batch_id IS NOT NULL OR d.batched = 0 OR d.available_at > :now)", { now })
      .groupBy("d.ordering_key")
      .getRawMany<{ key: string; seq: string | number }>();
    const blockedFrom = new Map(blockers.map((b) => [b.key, Number(b.seq)]));
    eligible = eligible.filter((r) => {
      const from = blockedFrom.get(r.orderingKey ?? "");
      return from === undefined || r.eventSequence < from;
    });
  }
  if (eligible.length === 0) return null;
  const oldest = Math.min(...eligible.map((r) => r.availableAt.getTime()));
  if (eligible.length < maxSize && now.getTime() - oldest < (hook.batchMaxWaitMs ?? 0)) return null;
  return stamp(
    eligible.map((r) => r.id),
    newId("bat", now.getTime()),
  );
}
