import { In, IsNull, type EntityManager } from "typeorm";
import { insertRows, updateByIds, type Db } from "../db/index.js";
import type { DeliveryState } from "../events/event-bus.js";
import type { EventEntity } from "../events/event.entity.js";
import { HookEntity } from "../hooks/hook.entity.js";
import { deleteHookIn, disableHookIn } from "../hooks/hook.service.js";
import { newId } from "../shared/ids.js";
import { DeliveryAttemptEntity, DeliveryEntity, type DeliveryStatus } from "./delivery.entity.js";
import type { PostResult } from "./http-client.js";
import { PARKED_UNTIL } from "./queue.js";
import type { Decision } from "./retry-policy.js";

/** What became of one claimed delivery. */
export type Outcome =
  /** One HTTP try; `batchId` when the row was sent in a batch (every member gets the same result and decision). */
  | { kind: "attempt"; row: DeliveryEntity; leaseId: string; startedAt: Date; result: PostResult; decision: Decision; batchId?: string }
  /** Not sent: give the row back (shutdown, per-hook cap). */
  | { kind: "release"; row: DeliveryEntity; leaseId: string }
  /** Not sent: the hook is paused, disabled or unverified. */
  | { kind: "park"; row: DeliveryEntity; leaseId: string }
  /** Not sent: the hook is gone. */
  | { kind: "cancel"; row: DeliveryEntity; leaseId: string };

const ERROR_MAX = 500;

/** A hook's `lastDeliveredAt` is kept exact to this, ms (see `updateHooks`). */
export const LAST_DELIVERED_PRECISION_MS = 1_000;

function errorText(result: PostResult): string | null {
  if (result.error) return result.error.slice(0, ERROR_MAX);
  const status = result.statusCode ?? 0;
  if (status >= 200 && status < 300) return null;
  const excerpt = (result.excerpt ?? "").replace(/\s+/g, " ").slice(0, 200);
  return `HTTP ${status}${excerpt ? `: ${excerpt}` : ""}`.slice(0, ERROR_MAX);
}

/**
 * Writes a batch of outcomes in one transaction: the attempts, each delivery's new state (only
 * while the row still carries the lease that was sent under: a row whose lease expired and was
 * taken over is left to its new owner), the hooks' health, 410 deletions and auto-disabling.
 * Returns the events appended (hook.deleted, hook.disabled), to be announced after the commit.
 */
export async function recordOutcomes(db: Db, outcomes: Outcome[], now: Date, disableAfterMs: number): Promise<EventEntity[]> {
  return db.write(async (m) => {
    const attempts = outcomes.filter((o): o is Extract<Outcome, { kind: "attempt" }> => o.kind === "attempt");
    if (attempts.length) {
      const rows = attempts.map((o) =>
        Object.assign(new DeliveryAttemptEntity(), {
          id: newId("att", o.startedAt.getTime()),
          deliveryId: o.row.id,
          hookId: o.row.hookId,
          accountId: o.row.accountId,
          attemptNumber: o.row.attemptCount + 1,
          startedAt: o.startedAt,
          durationMs: o.result.durationMs,
          statusCode: o.result.statusCode ?? null,
          responseExcerpt: o.result.excerpt,
          error: o.result.error ?? null,
        }),
      );
      await insertRows(m, DeliveryAttemptEntity, rows);
    }

    // One UPDATE per group of identical patches under one lease (the delivered rows of a claim,
    // the members of a batch); a patch differs by status code, attempt number, error, due time.
    const groups = new Map<string, { patch: Partial<DeliveryEntity>; leaseId: string; ids: string[] }>();
    for (const o of outcomes) {
      const patch = deliveryPatch(o, now);
      const key = `${o.leaseId} ${JSON.stringify(patch)}`;
      const group = groups.get(key) ?? { patch, leaseId: o.leaseId, ids: [] };
      group.ids.push(o.row.id);
      groups.set(key, group);
    }
    for (const { patch, leaseId, ids } of groups.values()) await updateByIds(m, DeliveryEntity, ids, patch, { leaseId });

    const events = await updateHooks(m, attempts, now, disableAfterMs, db.driver === "mysql");
    await holdBackFollowers(m, attempts);
    return events;
  });
}

/**
 * The states `recordOutcomes` wrote for `outcomes`, for `deliveryUpdates` (published after the
 * commit). Releases (a claimed row given back unsent) are not state changes and are left out.
 */
export function deliveryStates(outcomes: Outcome[], now: Date): DeliveryState[] {
  const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);
  return outcomes
    .filter((o) => o.kind !== "release")
    .map((o) => {
      const d = { ...o.row, ...deliveryPatch(o, now) } as DeliveryEntity;
      return {
        id: d.id,
        accountId: d.accountId,
        hookId: d.hookId,
        eventId: d.eventId,
        status: d.status,
        attemptCount: d.attemptCount,
        nextAttemptAt: iso(d.nextAttemptAt),
        deliveredAt: iso(d.deliveredAt),
        lastStatusCode: d.lastStatusCode ?? null,
        lastError: d.lastError ?? null,
        createdAt: iso(d.createdAt)!,
        updatedAt: iso(d.updatedAt)!,
      };
    });
}

/**
 * Ordered hooks: the deliveries queued behind a head that will be retried at T cannot go before
 * T, so they are made due at T too: claims stop scanning past them meanwhile (head-of-line
 * blocking costs the queue nothing while the head waits). Run after the hooks' rows are
 * updated, like every writer that also touches rows a batch claim may take (lock order).
 */
async function holdBackFollowers(m: EntityManager, attempts: Array<Extract<Outcome, { kind: "attempt" }>>): Promise<void> {
  const heads = new Map<string, { seq: number; at: Date }>();
  for (const a of attempts) {
    if (a.decision.kind !== "retry" || !a.row.orderingKey) continue;
    const head = heads.get(a.row.orderingKey);
    if (!head || a.row.eventSequence < head.seq) heads.set(a.row.orderingKey, { seq: a.row.eventSequence, at: a.decision.at });
  }
  for (const [key, head] of heads) {
    await m
      .createQueryBuilder()
      .update(DeliveryEntity)
      .set({ availableAt: head.at, nextAttemptAt: head.at })
      .where("ordering_key = :key", { key })
      .andWhere("queued = 1")
      .andWhere("event_sequence > :seq", { seq: head.seq })
      .andWhere("status <> 'DELIVERING'")
      .andWhere("available_at < :at", { at: head.at })
      .execute();
  }
}
function deliveryPatch(o: Outcome, now: Date): Partial<DeliveryEntity> {
  const requeued: DeliveryStatus = o.row.attemptCount === 0 ? "PENDING" : "FAILED";
  switch (o.kind) {
    case "release":
      return { status: requeued, queued: true, availableAt: now, nextAttemptAt: now, leaseId: null, updatedAt: now };
    case "park":
      return { status: requeued, queued: true, availableAt: PARKED_UNTIL, nextAttemptAt: null, leaseId: null, updatedAt: now };
    case "cancel":
      return { status: "CANCELLED", queued: false, nextAttemptAt: null, leaseId: null, updatedAt: now };
    case "attempt": {
      const base = { attemptCount: o.row.attemptCount + 1, lastStatusCode: o.result.statusCode ?? null, lastError: errorText(o.result), leaseId: null, updatedAt: now };
      switch (o.decision.kind) {
        case "delivered":
          return { ...base, status: "DELIVERED", queued: false, deliveredAt: now, nextAttemptAt: null };
        case "retry":
          return { ...base, status: "FAILED", queued: true, availableAt: o.decision.at, nextAttemptAt: o.decision.at };
        case "dead":
          return { ...base, status: "DEAD", queued: false, nextAttemptAt: null };
        case "gone":
          return { ...base, status: "CANCELLED", queued: false, nextAttemptAt: null };
      }
    }
  }
}

async function updateHooks(m: EntityManager, attempts: Array<Extract<Outcome, { kind: "attempt" }>>, now: Date, disableAfterMs: number, lockRows: boolean): Promise<EventEntity[]> {
  if (attempts.length === 0) return [];
  // The common case, hooks whose every attempt here was delivered: their health is reset in one
  // UPDATE without reading them (a deleted hook keeps its row as it was).
  const failing = new Set(attempts.filter((a) => a.decision.kind !== "delivered").map((a) => a.row.hookId));
  const healthy = [...new Set(attempts.map((a) => a.row.hookId))].filter((id) => !failing.has(id));
  if (healthy.length) {
    // Only rows that need it: failing ones, and a lastDeliveredAt older than a second. Under a
    // steady flow every outcome batch would otherwise rewrite the hook's row, and concurrent
    // batches (two writers, several workers) would queue on its lock until each commits; with
    // READ COMMITTED a row the WHERE rejects is not locked at all.
    await m
      .createQueryBuilder()
      .update(HookEntity)
      .set({ lastDeliveredAt: now, consecutiveFailures: 0, failingSince: null })
      .where({ id: In(healthy), deletedAt: IsNull() })
      .andWhere("(consecutive_failures <> 0 OR failing_since IS NOT NULL OR last_delivered_at IS NULL OR last_delivered_at < :fresh)", { fresh: new Date(now.getTime() - LAST_DELIVERED_PRECISION_MS) })
      .execute();
  }
  if (failing.size === 0) return [];
  attempts = attempts.filter((a) => failing.has(a.row.hookId));
  // Read under the rows' lock (MySQL; SQLite writes one at a time): two outcome batches of one
  // hook (two writers, several workers) would otherwise both count from the same stale row and
  // the second would overwrite the first's failures. READ COMMITTED: the locked read sees the
  // other batch's committed counts.
  const hooks = await m.find(HookEntity, { where: { id: In([...failing]) }, ...(lockRows ? { lock: { mode: "pessimistic_write" as const } } : {}) });
  const events: EventEntity[] = [];
  for (const hook of hooks) {
    if (hook.deletedAt) continue;
    const mine = attempts.filter((a) => a.row.hookId === hook.id);
    const gone = mine.find((a) => a.decision.kind === "gone");
    if (gone) {
      events.push(...(await deleteHookIn(m, hook, "the receiver answered 410 Gone", "system", null, now)));
      continue;
    }
    const batches = new Set<string>();
    for (const a of mine) {
      // A batch is one request: its members count once towards the hook's health.
      if (a.batchId) {
        if (batches.has(a.batchId)) continue;
        batches.add(a.batchId);
      }
      if (a.decision.kind === "delivered") {
        Object.assign(hook, { lastDeliveredAt: now, consecutiveFailures: 0, failingSince: null });
      } else {
        Object.assign(hook, { lastFailureAt: now, lastError: errorText(a.result), consecutiveFailures: hook.consecutiveFailures + 1 });
        hook.failingSince ??= a.startedAt;
      }
    }
    await m.update(HookEntity, { id: hook.id }, {
      lastDeliveredAt: hook.lastDeliveredAt,
      lastFailureAt: hook.lastFailureAt,
      lastError: hook.lastError,
      consecutiveFailures: hook.consecutiveFailures,
      failingSince: hook.failingSince,
    });
    if (hook.status === "ACTIVE" && hook.failingSince && now.getTime() - hook.failingSince.getTime() >= disableAfterMs) {
      const days = Math.round((disableAfterMs / 86_400_000) * 10) / 10;
      events.push(...(await disableHookIn(m, hook, `every attempt failed for ${days} days (${hook.consecutiveFailures} in a row); last error: ${hook.lastError ?? "unknown"}`, now)));
    }
  }
  return events;
}
