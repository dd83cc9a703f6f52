import { In, MoreThanOrEqual, type EntityManager } from "typeorm";
import { insertRows } from "../db/index.js";
import { newId } from "../shared/ids.js";
import type { HookOrdering } from "../hooks/hook.entity.js";
import { DeliveryEntity } from "./delivery.entity.js";

/** `availableAt` of parked deliveries (paused or disabled hook): far future, unparked by resumeHook. */
export const PARKED_UNTIL = new Date("9999-01-01T00:00:00.000Z");

/**
 * The ordering key of `hook`'s delivery of `event`: deliveries with one key are sent one at a
 * time in sequence order. STRICT: the hook; PER_CONTACT: the hook and the event's contact (events
 * about no contact share the hook's `<hookId>:` key); NONE: null (unordered).
 */
export function orderingKeyOf(hook: { id: string; ordering: HookOrdering }, event: { contactId: string | null }): string | null {
  if (hook.ordering === "STRICT") return hook.id;
  if (hook.ordering === "PER_CONTACT") return `${hook.id}:${event.contactId ?? ""}`;
  return null;
}

/** How `hook` wants its deliveries queued: ordering key and batching, for {@link newDelivery}. */
export function queueOptionsOf(hook: { id: string; ordering: HookOrdering; batchMaxSize: number | null }, event: { contactId: string | null }): { orderingKey: string | null; batched: boolean } {
  return { orderingKey: orderingKeyOf(hook, event), batched: hook.batchMaxSize !== null };
}

/** A new queued delivery of `eventId` to `hookId`, due at `availableAt`; unordered and unbatched unless told. */
export function newDelivery(args: {
  accountId: string;
  hookId: string;
  eventId: string;
  eventSequence: number;
  now: Date;
  availableAt?: Date;
  orderingKey?: string | null;
  batched?: boolean;
}): DeliveryEntity {
  const due = args.availableAt ?? args.now;
  return Object.assign(new DeliveryEntity(), {
    id: newId("dlv", args.now.getTime()),
    accountId: args.accountId,
    hookId: args.hookId,
    eventId: args.eventId,
    eventSequence: args.eventSequence,
    status: "PENDING",
    queued: true,
    availableAt: due,
    leaseId: null,
    attemptCount: 0,
    nextAttemptAt: due < PARKED_UNTIL ? due : null,
    deliveredAt: null,
    lastStatusCode: null,
    lastError: null,
    createdAt: args.now,
    updatedAt: args.now,
    orderingKey: args.orderingKey ?? null,
    batched: args.batched ?? false,
    batchId: null,
  });
}

/** Inserts deliveries, skipping any (hook, event) pair that already has one. */
export async function insertDeliveries(m: EntityManager, rows: DeliveryEntity[]): Promise<void> {
  // Straight SQL in chunks: TypeORM's insert builder spends more CPU on the parameters of a
  // 500-row statement than the database spends on it, and re-reads column defaults on MySQL.
  await insertRows(m, DeliveryEntity, rows, { ignoreDuplicates: true });
}

/** Cancels a hook's queued deliveries (hook deleted). In-flight ones finish; their outcome write then finds the row cancelled. */
export async function cancelQueuedDeliveries(m: EntityManager, hookId: string, now: Date): Promise<void> {
  await m.update(DeliveryEntity, { hookId, queued: true } as never, { status: "CANCELLED", queued: false, leaseId: null, nextAttemptAt: null, updatedAt: now } as never);
}

/** Makes a hook's parked deliveries due now (resumeHook). */
export async function unparkDeliveries(m: EntityManager, hookId: string, now: Date): Promise<void> {
  await m.update(DeliveryEntity, { hookId, queued: true, availableAt: MoreThanOrEqual(PARKED_UNTIL) } as never, { availableAt: now, nextAttemptAt: now, updatedAt: now } as never);
}

/**
 * Queues deliveries again now (redeliver, replay): each keeps its id (the receiver's idempotency
 * key) and its attempt history, and leaves the batch it was sent in (it is batched afresh, so a
 * batch's `webhook-id` always names the same envelopes). Rows in flight are left alone. Returns
 * how many were requeued.
 */
export async function requeueDeliveries(m: EntityManager, ids: string[], now: Date): Promise<number> {
  let total = 0;
  for (let i = 0; i < ids.length; i += 500) {
    const result = await m
      .createQueryBuilder()
      .update(DeliveryEntity)
      .set({
        status: () => "CASE WHEN attempt_count = 0 THEN 'PENDING' ELSE 'FAILED' END",
        queued: true,
        availableAt: now,
        nextAttemptAt: now,
        leaseId: null,
        batchId: null,
        updatedAt: now,
      } as never)
      .where({ id: In(ids.slice(i, i + 500)) })
      .andWhere("status <> 'DELIVERING'")
      .execute();
    total += result.affected ?? 0;
  }
  return total;
}
