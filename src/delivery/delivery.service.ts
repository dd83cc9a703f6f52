import { In, IsNull, MoreThan } from "typeorm";
import type { Actor } from "../accounts/actor.js";
import type { Db } from "../db/index.js";
import { EventEntity } from "../events/event.entity.js";
import { HookEntity } from "../hooks/hook.entity.js";
import { hookMatches } from "../hooks/match.js";
import type { Clock } from "../shared/clock.js";
import { decodeCursor, decodeSequenceCursor, encodeCursor } from "../shared/cursor.js";
import { AppError, badInput, notFound } from "../shared/errors.js";
import { DeliveryAttemptEntity, DeliveryEntity, type DeliveryStatus } from "./delivery.entity.js";
import { insertDeliveries, newDelivery, queueOptionsOf, requeueDeliveries } from "./queue.js";

/** What delivery services need. */
export interface DeliveryDeps {
  db: Db;
  clock: Clock;
}

/** Most events one replayEvents call re-enqueues. */
export const MAX_REPLAY = 10_000;

/** Arguments of `deliveries`. */
export interface ListDeliveriesArgs {
  hookId: string;
  status?: DeliveryStatus | null;
  first?: number | null;
  after?: string | null;
}

/** A hook of the caller's account, deleted ones included (their history stays queryable). */
async function findAnyHook(db: Db, actor: Actor, hookId: string): Promise<HookEntity> {
  const hook = await db.read((m) => m.findOne(HookEntity, { where: { id: hookId, accountId: actor.accountId } }));
  if (!hook) throw notFound("hook", hookId, "hookId");
  return hook;
}

/** A hook's deliveries, newest first. */
export async function listDeliveries(deps: DeliveryDeps, actor: Actor, args: ListDeliveriesArgs) {
  const first = args.first ?? 20;
  if (!Number.isInteger(first) || first < 1 || first > 100) throw badInput("first", "first must be between 1 and 100");
  const before = args.after ? decodeCursor("dlv", args.after) : null;
  const hook = await findAnyHook(deps.db, actor, args.hookId);
  const rows = await deps.db.read((m) => {
    const qb = m.createQueryBuilder(DeliveryEntity, "d").where("d.hook_id = :hookId", { hookId: hook.id }).andWhere("d.account_id = :accountId", { accountId: actor.accountId });
    if (args.status) qb.andWhere("d.status = :status", { status: args.status });
    if (before) qb.andWhere("d.id < :before", { before });
    return qb.orderBy("d.id", "DESC").take(first + 1).getMany();
  });
  const page = rows.slice(0, first);
  const edges = page.map((d) => ({ cursor: encodeCursor("dlv", d.id), node: d }));
  return { edges, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.length ? edges[edges.length - 1].cursor : null } };
}

/** One delivery of the caller's account. */
export async function getDelivery(deps: DeliveryDeps, actor: Actor, id: string, field = "id"): Promise<DeliveryEntity> {
  const row = await deps.db.read((m) => m.findOne(DeliveryEntity, { where: { id, accountId: actor.accountId } }));
  if (!row) throw notFound("delivery", id, field);
  return row;
}

/** Attempts of deliveries, by delivery id, in attempt order. */
export async function attemptsOf(db: Db, deliveryIds: string[]): Promise<Map<string, DeliveryAttemptEntity[]>> {
  const rows = deliveryIds.length
    ? await db.read((m) => m.find(DeliveryAttemptEntity, { where: { deliveryId: In(deliveryIds) }, order: { attemptNumber: "ASC" } }))
    : [];
  const out = new Map<string, DeliveryAttemptEntity[]>(deliveryIds.map((id) => [id, []]));
  for (const a of rows) out.get(a.deliveryId)!.push(a);
  return out;
}

/**
 * redeliver: queues a delivery again now, with the same id (webhook-id). A delivery in flight is
 * left as it is; a deleted hook's delivery cannot be redelivered.
 */
export async function redeliver(deps: DeliveryDeps, actor: Actor, deliveryId: string): Promise<DeliveryEntity> {
  const row = await getDelivery(deps, actor, deliveryId, "deliveryId");
  const hook = await findAnyHook(deps.db, actor, row.hookId);
  if (hook.deletedAt) throw new AppError("NOT_FOUND", `hook ${JSON.stringify(hook.id)} was deleted; its deliveries cannot be sent again`, { field: "deliveryId" });
  return deps.db.write(async (m) => {
    await requeueDeliveries(m, [row.id], deps.clock.now());
    return (await m.findOne(DeliveryEntity, { where: { id: row.id } }))!;
  });
}

/**
 * replayEvents: re-enqueues the hook's matching events after the cursor (at most 10,000):
 * events never delivered to it get a delivery, and earlier deliveries are queued again with
 * their id. Returns the number of deliveries queued.
 */
export async function replayEvents(deps: DeliveryDeps, actor: Actor, hookId: string, after: string | null | undefined): Promise<number> {
  const from = after ? decodeSequenceCursor(after) : 0;
  let queued = 0;
  let cursor = from;
  for (let scanned = 0; scanned < MAX_REPLAY; ) {
    const count = await deps.db.write(async (m) => {
      const hook = await m.findOne(HookEntity, { where: { id: hookId, accountId: actor.accountId, deletedAt: IsNull() } });
      if (!hook) throw notFound("hook", hookId, "hookId");
      const events = await m.find(EventEntity, { where: { accountId: actor.accountId, sequence: MoreThan(cursor) }, order: { sequence: "ASC" }, take: 500 });
      if (events.length === 0) return null;
      cursor = events[events.length - 1].sequence;
      scanned += events.length;
      const matching = events.filter((e) => e.type !== "hook.ping" && hookMatches(hook, e));
      if (matching.length === 0) return 0;
      const now = deps.clock.now();
      const existing = await m.find(DeliveryEntity, { where: { hookId: hook.id, eventId: In(matching.map((e) => e.id)) }, select: { id: true, eventId: true } });
      const have = new Set(existing.map((d) => d.eventId));
      const fresh = matching.filter((e) => !have.has(e.id)).map((e) => newDelivery({ accountId: actor.accountId, hookId: hook.id, eventId: e.id, eventSequence: e.sequence, now, ...queueOptionsOf(hook, e) }));
      await insertDeliveries(m, fresh);
      return fresh.length + (await requeueDeliveries(m, existing.map((d) => d.id), now));
    });
    if (count === null) break;
    queued += count;
  }
  return queued;
}
